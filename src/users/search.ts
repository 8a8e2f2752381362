import { sql, type RawBuilder, type SqlBool } from 'kysely';
import { compileSearch, type MetadataLookup, type SearchDialectName, type SearchSchema } from '../search/compile.js';
import { searchDialect } from '../search/dialect.js';
import { parseSearchQuery } from '../search/lucene.js';
import type { Executor } from '../storage/transaction.js';
import type { User } from './store.js';
import type { MetadataRoot } from './metadata-values.js';

/**
 * Auth0's user search (`GET /api/v2/users?q=…&search_engine=v3`) as the users
 * store runs it: the query, paging and sort rules. docs/decisions/009-user-search.md.
 */

/** Auth0 returns at most the first 1000 results of a search (page × per_page). */
export const SEARCH_RESULT_CAP = 1000;
export const MAX_PER_PAGE = 100;
export const DEFAULT_PER_PAGE = 50;

export type UserSearchErrorCode = 'invalid_paging' | 'invalid_sort';

/** A refusal of the paging or sort parameters (the query's own errors are SearchSyntaxError). */
export class UserSearchError extends Error {
  constructor(
    message: string,
    readonly code: UserSearchErrorCode,
  ) {
    super(message);
    this.name = 'UserSearchError';
  }
}

export interface UserSearchRequest {
  /** Lucene query; absent or blank lists every user of the tenant. */
  readonly q?: string;
  /** Page index from 0 (default 0). */
  readonly page?: number;
  /** 1–100 (default 50). */
  readonly perPage?: number;
  /** `field:1` ascending or `field:-1` descending (default `created_at:1`). */
  readonly sort?: string;
  readonly includeTotals?: boolean;
}

/** Auth0's list shape; `total` (at most 1000) only when asked for. */
export interface UserSearchResult {
  readonly users: User[];
  readonly start: number;
  readonly limit: number;
  readonly length: number;
  readonly total?: number;
}

/** The search fields of one tenant's users: identities are looked up within the tenant. */
export function userSearchSchema(tenantId: string): SearchSchema {
  const viaIdentities = (join: RawBuilder<unknown>) => (predicate: RawBuilder<SqlBool>) =>
    sql<SqlBool>`users.user_id in (select ui.user_id from user_identities as ui ${join} where ui.tenant_id = ${tenantId} and ${predicate})`;
  const caseInsensitive = (column: string) => ({ type: 'string', column: `users.${column}`, caseInsensitive: `users.${column}_lower` }) as const;
  // Metadata terms: a lookup in user_metadata_values' search index (tenant, root, path, value, kind).
  const metadata = (root: MetadataRoot): MetadataLookup => {
    const facts = (predicate: RawBuilder<unknown>) =>
      sql<SqlBool>`users.user_id in (select m.user_id from user_metadata_values as m where m.tenant_id = ${tenantId} and m.root = ${root} and ${predicate})`;
    return {
      matches: (path, candidates) =>
        facts(sql`m.path = ${path} and (${sql.join(candidates.map((c) => sql`(m.value = ${c.value} and m.kind = ${c.kind})`), sql` or `)})`),
      exists: (path) => facts(sql`m.path = ${path}`),
    };
  };
  return {
    fields: {
      user_id: { type: 'string', column: 'users.user_id' },
      email: caseInsensitive('email'),
      email_verified: { type: 'boolean', column: 'users.email_verified' },
      name: caseInsensitive('name'),
      given_name: caseInsensitive('given_name'),
      family_name: caseInsensitive('family_name'),
      nickname: caseInsensitive('nickname'),
      // Auth0: only the five normalized fields above ignore case; username does not.
      username: { type: 'string', column: 'users.username' },
      phone_number: { type: 'string', column: 'users.phone_number' },
      phone_verified: { type: 'boolean', column: 'users.phone_verified' },
      logins_count: { type: 'number', column: 'users.logins_count' },
      created_at: { type: 'date', column: 'users.created_at' },
      updated_at: { type: 'date', column: 'users.updated_at' },
      last_login: { type: 'date', column: 'users.last_login' },
      last_ip: { type: 'string', column: 'users.last_ip' },
      blocked: { type: 'boolean', column: 'users.blocked' },
      'identities.connection': {
        type: 'string',
        column: 'c.name',
        through: viaIdentities(sql`join connections as c on c.id = ui.connection_id and c.tenant_id = ${tenantId}`),
      },
      'identities.provider': { type: 'string', column: 'ui.provider', through: viaIdentities(sql``) },
    },
    metadata: { app_metadata: metadata('app_metadata'), user_metadata: metadata('user_metadata') },
  };
}

/** Sortable fields: their sort column, and whether it is text (sorted in code-point order on both backends). */
const SORTABLE: Readonly<Record<string, { readonly column: string; readonly text: boolean }>> = {
  user_id: { column: 'users.user_id', text: true },
  email: { column: 'users.email_lower', text: true },
  name: { column: 'users.name_lower', text: true },
  given_name: { column: 'users.given_name_lower', text: true },
  family_name: { column: 'users.family_name_lower', text: true },
  nickname: { column: 'users.nickname_lower', text: true },
  username: { column: 'users.username', text: true },
  phone_number: { column: 'users.phone_number', text: true },
  last_ip: { column: 'users.last_ip', text: true },
  logins_count: { column: 'users.logins_count', text: false },
  created_at: { column: 'users.created_at', text: false },
  updated_at: { column: 'users.updated_at', text: false },
  last_login: { column: 'users.last_login', text: false },
};

export interface UserSearchPlan {
  /** null: no query, every user of the tenant. */
  readonly where: RawBuilder<SqlBool> | null;
  /** Sort keys in order; nulls sort last in either direction, user_id breaks ties. */
  readonly order: readonly { readonly expression: RawBuilder<unknown>; readonly direction: 'asc' | 'desc' }[];
  readonly offset: number;
  /** Rows to read: per_page, cut so that no result past the 1000th is returned. */
  readonly limit: number;
  readonly perPage: number;
  readonly includeTotals: boolean;
}

/** Validates and compiles a search request; throws SearchSyntaxError or UserSearchError. */
export function planUserSearch(tenantId: string, dialect: SearchDialectName, request: UserSearchRequest): UserSearchPlan {
  const page = request.page ?? 0;
  const perPage = request.perPage ?? DEFAULT_PER_PAGE;
  if (!Number.isSafeInteger(page) || page < 0) throw new UserSearchError('page must be an integer from 0', 'invalid_paging');
  if (!Number.isSafeInteger(perPage) || perPage < 1 || perPage > MAX_PER_PAGE) throw new UserSearchError(`per_page must be an integer from 1 to ${MAX_PER_PAGE}`, 'invalid_paging');
  const offset = page * perPage;
  // Auth0 answers 400 invalid_paging past the first 1000 results.
  if (offset >= SEARCH_RESULT_CAP) throw new UserSearchError(`You can only page through the first ${SEARCH_RESULT_CAP} records.`, 'invalid_paging');

  const q = request.q?.trim() ?? '';
  const where = q === '' ? null : compileSearch(parseSearchQuery(q), userSearchSchema(tenantId), dialect);
  return { where, order: sortOrder(dialect, request.sort), offset, limit: Math.min(perPage, SEARCH_RESULT_CAP - offset), perPage, includeTotals: request.includeTotals ?? false };
}

function sortOrder(dialect: SearchDialectName, sort: string | undefined): UserSearchPlan['order'] {
  const text = searchDialect(dialect).orderedText;
  const tiebreak = { expression: text('users.user_id'), direction: 'asc' } as const;
  const match = /^([a-z_]+):(1|-1)$/.exec(sort ?? 'created_at:1');
  const field = match?.[1];
  if (!match || field === undefined || !Object.hasOwn(SORTABLE, field)) {
    throw new UserSearchError(`sort must be field:1 or field:-1 with field one of ${Object.keys(SORTABLE).join(', ')}`, 'invalid_sort');
  }
  const key = SORTABLE[field] as { column: string; text: boolean };
  const direction = match[2] === '1' ? 'asc' : 'desc';
  if (field === 'user_id') return [{ expression: text(key.column), direction }];
  return [{ expression: key.text ? text(key.column) : sql.ref(key.column), direction }, tiebreak];
}

/** How many users of the tenant match, counting no further than the cap (Auth0's `total` stops at 1000). */
export async function countMatches(db: Executor, tenantId: string, where: RawBuilder<SqlBool> | null): Promise<number> {
  let matched = db.selectFrom('users').select(sql<number>`1`.as('one')).where('users.tenant_id', '=', tenantId);
  if (where) matched = matched.where(where);
  const row = await db
    .selectFrom(matched.limit(SEARCH_RESULT_CAP).as('matched'))
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

/** The lower-cased copies of the case-insensitive name fields (migration 0003), for the fields given. */
export interface LowerCaseCopies {
  name_lower?: string | null;
  given_name_lower?: string | null;
  family_name_lower?: string | null;
  nickname_lower?: string | null;
}

/**
 * The store writes these with the fields themselves (JavaScript's
 * toLowerCase, as for email_lower), so a search value lower-cased the same
 * way finds them on both backends, non-ASCII letters included.
 */
export function lowerCaseCopies(profile: { name?: string | null; given_name?: string | null; family_name?: string | null; nickname?: string | null }): LowerCaseCopies {
  const fold = (value: string | null) => (value === null ? null : value.toLowerCase());
  const copies: LowerCaseCopies = {};
  if (profile.name !== undefined) copies.name_lower = fold(profile.name);
  if (profile.given_name !== undefined) copies.given_name_lower = fold(profile.given_name);
  if (profile.family_name !== undefined) copies.family_name_lower = fold(profile.family_name);
  if (profile.nickname !== undefined) copies.nickname_lower = fold(profile.nickname);
  return copies;
}
