import { z } from 'zod';
import { urlProblem } from '../clients/urls.js';
import { HttpError } from '../http/errors.js';
import { lockTenant, writeTransaction } from '../storage/transaction.js';
import { tenantSettingsSchema, type TenantSettings } from '../tenants/settings.js';
import { tenantsStore } from '../tenants/store.js';
import { tenantStores } from '../tenants/tenant-stores.js';
import { DATABASE_STRATEGY } from '../users/service.js';
import type { ManagementDeps } from './plugin.js';
import { fieldsQuery } from './query.js';
import type { ManagementRouter } from './route.js';

const shape = tenantSettingsSchema.shape;

/** https, or http on loopback; no wildcard, credentials or fragment (src/clients/urls.ts). */
const safeUrl = (kind: 'logout' | 'callback') =>
  z.string().superRefine((value, ctx) => {
    const problem = urlProblem(value, kind);
    if (problem) ctx.addIssue({ code: 'custom', message: `"${value}" ${problem}` });
  });

/**
 * Lifetimes in hours, as Auth0 has them, within Auth0's bounds (its largest
 * plan): a session lasts at most 365 days (8760 h) and may idle at most 100
 * days (2400 h); the shortest is a minute. `…_in_minutes` is Auth0's other
 * spelling of the same setting.
 */
const MINUTE_IN_HOURS = 1 / 60;
const sessionHours = z.number().min(MINUTE_IN_HOURS).max(8760);
const idleHours = z.number().min(MINUTE_IN_HOURS).max(2400);

/**
 * What PATCH /tenants/settings accepts: the settings of the tenant schema
 * that Auth0 has under the same names. `signing_alg` and `primary_color` are
 * Portcullis's own (Auth0 has neither in tenant settings: the algorithm is per
 * application, colours are branding) and are not exposed here. An empty
 * string clears `default_audience` and `default_directory`, as in Auth0.
 */
const patchBody = z.strictObject({
  friendly_name: shape.friendly_name,
  picture_url: safeUrl('callback').pipe(shape.picture_url.unwrap()).optional(),
  support_email: shape.support_email,
  support_url: safeUrl('callback').pipe(shape.support_url.unwrap()).optional(),
  default_audience: z.string().max(600).optional(),
  default_directory: z.union([z.literal(''), shape.default_directory.unwrap()]).optional(),
  session_lifetime: sessionHours.optional(),
  session_lifetime_in_minutes: z.number().int().min(1).max(8760 * 60).optional(),
  idle_session_lifetime: idleHours.optional(),
  idle_session_lifetime_in_minutes: z.number().int().min(1).max(2400 * 60).optional(),
  enabled_locales: shape.enabled_locales.unwrap().min(1).max(50).optional(),
  allowed_logout_urls: z.array(safeUrl('logout')).max(100).optional(),
  /** Portcullis's own (Auth0's log retention is set by plan): days log events are kept; docs/log-events.md. */
  log_retention_days: shape.log_retention_days,
});
type PatchBody = z.infer<typeof patchBody>;

/** Auth0's tenant settings object, as far as Portcullis has them. */
export const tenantSettingsResponse = z.object({
  friendly_name: z.string().optional(),
  picture_url: z.string().optional(),
  support_email: z.string().optional(),
  support_url: z.string().optional(),
  default_audience: z.string().optional(),
  default_directory: z.string().optional(),
  session_lifetime: z.number(),
  idle_session_lifetime: z.number(),
  enabled_locales: z.array(z.string()),
  allowed_logout_urls: z.array(z.string()),
  log_retention_days: z.number().optional(),
});

const invalid = (property: string, what: string) => new HttpError(400, `Payload validation error: '${what}' on property ${property}.`, 'invalid_body');

/** The body's changes as first-level settings (Auth0 merges PATCH at the first level). */
function changesOf(body: PatchBody): { set: Partial<TenantSettings>; clear: (keyof TenantSettings)[] } {
  if (body.session_lifetime !== undefined && body.session_lifetime_in_minutes !== undefined) throw invalid('session_lifetime_in_minutes', 'cannot be given with session_lifetime');
  if (body.idle_session_lifetime !== undefined && body.idle_session_lifetime_in_minutes !== undefined) throw invalid('idle_session_lifetime_in_minutes', 'cannot be given with idle_session_lifetime');
  const { session_lifetime_in_minutes: sessionMinutes, idle_session_lifetime_in_minutes: idleMinutes, default_audience: audience, default_directory: directory, ...rest } = body;
  const set = Object.fromEntries(Object.entries(rest).filter(([, v]) => v !== undefined)) as Partial<TenantSettings>;
  const clear: (keyof TenantSettings)[] = [];
  if (sessionMinutes !== undefined) set.session_lifetime = sessionMinutes / 60;
  if (idleMinutes !== undefined) set.idle_session_lifetime = idleMinutes / 60;
  if (audience === '') clear.push('default_audience');
  else if (audience !== undefined) set.default_audience = audience;
  if (directory === '') clear.push('default_directory');
  else if (directory !== undefined) set.default_directory = directory;
  return { set, clear };
}

/**
 * `/api/v2/tenants/settings`. A change bumps the tenant's config_version in
 * the same transaction, so every node rebuilds the tenant's engine with it
 * (session lifetimes, default audience, default directory) within
 * TENANT_CACHE_TTL_MS.
 */
export function registerTenantSettingsRoutes(router: ManagementRouter, deps: ManagementDeps): void {
  const { database, services } = deps;

  router.add({
    method: 'GET',
    path: '/tenants/settings',
    summary: 'Get tenant settings',
    scopes: ['read:tenant_settings'],
    query: z.object(fieldsQuery),
    response: tenantSettingsResponse,
    async handler({ tenant }) {
      // Read, not the request's cached tenant: an answer right after a PATCH shows the PATCH.
      const current = await tenantsStore(database.db, services.runtime).findById(tenant.id);
      return (current ?? tenant).settings;
    },
  });

  router.add({
    method: 'PATCH',
    path: '/tenants/settings',
    summary: 'Update tenant settings',
    scopes: ['update:tenant_settings'],
    body: patchBody,
    audit: 'Update tenant settings',
    response: tenantSettingsResponse,
    async handler({ body, tenant }) {
      const { set, clear } = changesOf(body);
      return writeTransaction(database, async (trx) => {
        // Read-merge-write under the tenant lock: two PATCHes of different fields both survive.
        await lockTenant(database, trx, tenant.id);
        const tenants = tenantsStore(trx, services.runtime);
        const current = await tenants.findById(tenant.id);
        if (!current) throw new HttpError(404, 'The tenant does not exist', 'inexistent_tenant');
        const stores = tenantStores(trx, tenant.id, services.runtime);
        if (set.default_audience !== undefined && !(await stores.resourceServers.findByIdentifier(set.default_audience))) {
          throw invalid('default_audience', `No API has the identifier "${set.default_audience}"`);
        }
        if (set.default_directory !== undefined && (await stores.connections.findByName(set.default_directory))?.strategy !== DATABASE_STRATEGY) {
          throw invalid('default_directory', `No database connection is named "${set.default_directory}"`);
        }
        const merged = Object.entries({ ...current.settings, ...set }).filter(([key]) => !clear.includes(key as keyof TenantSettings));
        const settings = tenantSettingsSchema.parse(Object.fromEntries(merged));
        await tenants.updateSettings(tenant.id, settings);
        return settings;
      });
    },
  });
}
