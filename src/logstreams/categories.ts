/**
 * Auth0's log-stream filter categories (`filters: [{ type: 'category',
 * name }]`) and the event type codes each one delivers, after Auth0's "Log
 * Stream Filters" page. Codes Portcullis does not produce are listed too, so
 * the table reads like Auth0's; a type in no category belongs to `other`.
 */
export const FILTER_CATEGORIES = {
  'auth.login.fail': ['f', 'fc', 'fco', 'fcoa', 'fens', 'fp', 'fu'],
  'auth.login.notification': ['w'],
  'auth.login.success': ['s', 'scoa', 'sens'],
  'auth.logout.fail': ['flo', 'oidc_backchannel_logout_failed'],
  'auth.logout.success': ['slo', 'oidc_backchannel_logout_succeeded'],
  'auth.signup.fail': ['fs'],
  'auth.signup.success': ['ss'],
  'auth.silent_auth.fail': ['fsa'],
  'auth.silent_auth.success': ['ssa'],
  'auth.token_exchange.fail': ['feacft', 'feccft', 'fede', 'feoobft', 'feotpft', 'fepft', 'fepotpft', 'fercft', 'ferrt', 'fertft'],
  'auth.token_exchange.success': ['seacft', 'seccft', 'sede', 'seoobft', 'seotpft', 'sepft', 'sepotpft', 'sercft', 'sertft'],
  'management.fail': ['fapi'],
  'management.success': ['sapi'],
  'scim.event': [],
  'system.notification': ['api_limit', 'api_limit_warning', 'appi', 'depnote', 'sys_os_update_start', 'sys_os_update_end'],
  'user.fail': ['fcp', 'fcpr', 'fce', 'fcu', 'fcpn', 'fd', 'fdu', 'fv', 'fvr'],
  'user.notification': ['cls', 'cs', 'du', 'limit_mu', 'limit_sul', 'limit_wc', 'pwd_leak', 'signup_pwd_leak'],
  'user.success': ['scp', 'scpr', 'sce', 'scu', 'scpn', 'sd', 'sdu', 'sv', 'svr', 'ublkdu'],
  actions: ['actions_execution_failed'],
  other: [],
} as const satisfies Record<string, readonly string[]>;

export type FilterCategory = keyof typeof FILTER_CATEGORIES;

export const FILTER_CATEGORY_NAMES = Object.keys(FILTER_CATEGORIES) as FilterCategory[];

const CATEGORY_OF_TYPE: ReadonlyMap<string, FilterCategory> = new Map(
  FILTER_CATEGORY_NAMES.flatMap((category) => (FILTER_CATEGORIES[category] as readonly string[]).map((type) => [type, category] as const)),
);

/** The category an event type belongs to (`other` when no category lists it). */
export function categoryOf(type: string): FilterCategory {
  return CATEGORY_OF_TYPE.get(type) ?? 'other';
}

export interface StreamFilter {
  readonly type: 'category';
  readonly name: FilterCategory;
}

/** A predicate on event types: every type when there are no filters (Auth0: "if omitted or empty, all events"). */
export function typeMatcher(filters: readonly StreamFilter[]): (type: string) => boolean {
  if (filters.length === 0) return () => true;
  const wanted = new Set(filters.map((f) => f.name));
  return (type) => wanted.has(categoryOf(type));
}
