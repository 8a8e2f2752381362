import { z } from 'zod';
import type { ApiScope, ResourceServer, ResourceServerChanges } from '../apis/store.js';
import { HttpError } from '../http/errors.js';
import { isUniqueViolation } from '../storage/errors.js';
import { writeTransaction } from '../storage/transaction.js';
import { tenantStores } from '../tenants/tenant-stores.js';
import type { ManagementDeps } from './plugin.js';
import { fieldsQuery, pagingQuery, pageOf } from './query.js';
import type { ManagementRouter } from './route.js';

const TOKEN_DIALECTS = ['access_token', 'access_token_authz'] as const;
/** Auth0's `signing_alg` values, and the tenant key algorithms Portcullis signs with. */
const SIGNING_ALGS = ['HS256', 'RS256', 'RS512', 'PS256', 'ES256', 'EdDSA'] as const;
/** The settings Auth0 lets a caller change on a system API (its Management API); everything else is fixed. */
const SYSTEM_MUTABLE = new Set(['token_lifetime', 'skip_consent_for_verifiable_first_party_clients']);

/** RFC 6749 §3.3 scope-token: printable ASCII except space, `"` and `\`. */
const scopeToken = /^[\x21\x23-\x5B\x5D-\x7E]+$/;
/** No spaces or control characters (an identifier is compared byte for byte, and travels in URLs). */
const printable = (value: string) => ![...value].some((c) => (c.codePointAt(0) ?? 0) <= 0x20 || c === '\u007f');

const scopes = z
  .array(z.strictObject({ value: z.string().min(1).max(280).regex(scopeToken, 'must be a scope token (RFC 6749 §3.3)'), description: z.string().max(500).optional() }))
  .max(1000)
  .superRefine((list, ctx) => {
    const seen = new Set<string>();
    for (const [index, scope] of list.entries()) {
      if (seen.has(scope.value)) ctx.addIssue({ code: 'custom', path: [index, 'value'], message: `duplicate scope "${scope.value}"` });
      seen.add(scope.value);
    }
  });

/**
 * The identifier is the `audience` of issued tokens, which the engine takes
 * as an RFC 8707 resource indicator: it must be an absolute URI without a
 * fragment (RFC 8707 §2), or no token could ever be issued for the API.
 */
const identifier = z
  .string()
  .min(1)
  .max(600)
  .refine(printable, 'must not contain spaces or control characters')
  .refine((value) => URL.canParse(value) && !value.includes('#'), 'identifier must be an absolute URI without a fragment (RFC 8707 §2)');

/** Settings a caller may set (create and update alike). */
const writableFields = {
  name: z.string().min(1).max(200).regex(/^[^<>]+$/, 'must not contain < or >').optional(),
  scopes: scopes.optional(),
  signing_alg: z.enum(SIGNING_ALGS).optional(),
  // Auth0's bound is 0–2592000 s (30 days); 0 is refused rather than silently meaning "the default".
  token_lifetime: z.number().int().min(1).max(2_592_000).optional(),
  enforce_policies: z.boolean().optional(),
  token_dialect: z.enum(TOKEN_DIALECTS).optional(),
  allow_offline_access: z.boolean().optional(),
  skip_consent_for_verifiable_first_party_clients: z.boolean().optional(),
};
const createBody = z.strictObject({ identifier, ...writableFields });
const updateBody = z.strictObject(writableFields);
type Writable = z.infer<typeof updateBody>;

/** The API object in Auth0's shape. */
export const resourceServerSchema = z.object({
  id: z.string(),
  name: z.string(),
  is_system: z.boolean(),
  identifier: z.string(),
  scopes: z.array(z.object({ value: z.string(), description: z.string().optional() })),
  signing_alg: z.string(),
  allow_offline_access: z.boolean(),
  skip_consent_for_verifiable_first_party_clients: z.boolean(),
  token_lifetime: z.number(),
  enforce_policies: z.boolean(),
  token_dialect: z.string(),
});
type ResourceServerBody = z.infer<typeof resourceServerSchema>;

/**
 * A stored API as Auth0's object. `signing_alg` is the tenant's: every access
 * token is signed with the tenant's current key (src/oauth/resource-servers.ts).
 */
export function toResourceServerBody(api: ResourceServer, tenantAlg: string): ResourceServerBody {
  return {
    id: api.id,
    name: api.name,
    is_system: api.isSystem,
    identifier: api.identifier,
    scopes: api.scopes.map((s) => ({ value: s.value, ...(s.description !== null ? { description: s.description } : {}) })),
    signing_alg: tenantAlg,
    allow_offline_access: api.allowOfflineAccess,
    skip_consent_for_verifiable_first_party_clients: api.skipConsentForVerifiableFirstPartyClients,
    token_lifetime: api.tokenLifetime,
    enforce_policies: api.enforcePolicies,
    token_dialect: api.tokenDialect,
  };
}

/** HS256 (a shared secret per API) and other algorithms than the tenant key's cannot be honoured: refused, not stored and ignored. */
function checkAlg(body: Writable, tenantAlg: string): void {
  const alg = body.signing_alg;
  if (alg === undefined || alg === tenantAlg) return;
  const why = alg === 'HS256' ? 'HS256 (shared-secret) access tokens are not supported' : `${alg} is not supported`;
  throw new HttpError(400, `Payload validation error: '${why}: access tokens are signed with the tenant's key, signing_alg must be ${tenantAlg}' on property signing_alg.`, 'invalid_body');
}

function changesOf(body: Writable): ResourceServerChanges {
  const toScopes = (list: NonNullable<Writable['scopes']>): ApiScope[] => list.map((s) => ({ value: s.value, description: s.description ?? null }));
  return {
    ...(body.name !== undefined ? { name: body.name } : {}),
    ...(body.signing_alg !== undefined ? { signingAlg: body.signing_alg } : {}),
    ...(body.token_lifetime !== undefined ? { tokenLifetime: body.token_lifetime } : {}),
    ...(body.enforce_policies !== undefined ? { enforcePolicies: body.enforce_policies } : {}),
    ...(body.token_dialect !== undefined ? { tokenDialect: body.token_dialect } : {}),
    ...(body.allow_offline_access !== undefined ? { allowOfflineAccess: body.allow_offline_access } : {}),
    ...(body.skip_consent_for_verifiable_first_party_clients !== undefined ? { skipConsentForVerifiableFirstPartyClients: body.skip_consent_for_verifiable_first_party_clients } : {}),
    ...(body.scopes !== undefined ? { scopes: toScopes(body.scopes) } : {}),
  };
}

const notFound = () => new HttpError(404, 'The resource server does not exist', 'inexistent_resource_server');
const conflict = () => new HttpError(409, 'A resource server with the same identifier already exists', 'resource_server_conflict');

/** `/api/v2/resource-servers`: the tenant's APIs. `{id}` is the API's id or its (URL-encoded) identifier, as with Auth0. */
export function registerResourceServerRoutes(router: ManagementRouter, deps: ManagementDeps): void {
  const { database, services } = deps;
  const stores = (tenantId: string) => tenantStores(database.db, tenantId, services.runtime);
  const params = z.strictObject({ id: z.string().min(1).max(600).refine(printable, 'Invalid id') });
  const find = async (tenantId: string, idOrIdentifier: string) => {
    const apis = stores(tenantId).resourceServers;
    return (await apis.findById(idOrIdentifier)) ?? (await apis.findByIdentifier(idOrIdentifier));
  };

  router.add({
    method: 'GET',
    path: '/resource-servers',
    summary: 'Get resource servers',
    scopes: ['read:resource_servers'],
    query: z.object({ ...pagingQuery, ...fieldsQuery, identifiers: z.union([z.string().min(1).max(600), z.array(z.string().min(1).max(600)).max(10)]).optional() }),
    list: { key: 'resource_servers', item: resourceServerSchema },
    async handler({ query, tenant }) {
      const wanted = query.identifiers === undefined ? undefined : new Set([query.identifiers].flat());
      const all = (await stores(tenant.id).resourceServers.list()).filter((api) => !wanted || wanted.has(api.identifier));
      return pageOf(all, query, (api) => toResourceServerBody(api, tenant.settings.signing_alg));
    },
  });

  router.add({
    method: 'GET',
    path: '/resource-servers/:id',
    summary: 'Get a resource server (by id or identifier)',
    scopes: ['read:resource_servers'],
    params,
    query: z.object(fieldsQuery),
    response: resourceServerSchema,
    async handler({ params: { id }, tenant }) {
      const api = await find(tenant.id, id);
      if (!api) throw notFound();
      return toResourceServerBody(api, tenant.settings.signing_alg);
    },
  });

  router.add({
    method: 'POST',
    path: '/resource-servers',
    summary: 'Create a resource server',
    scopes: ['create:resource_servers'],
    body: createBody,
    status: 201,
    audit: 'Create resource server',
    response: resourceServerSchema,
    async handler({ body, tenant }) {
      const alg = tenant.settings.signing_alg;
      checkAlg(body, alg);
      if (await stores(tenant.id).resourceServers.findByIdentifier(body.identifier)) throw conflict();
      const changes = changesOf(body);
      try {
        const created = await writeTransaction(database, (trx) =>
          tenantStores(trx, tenant.id, services.runtime).resourceServers.insert({ ...changes, identifier: body.identifier, name: body.name ?? body.identifier, signingAlg: alg }),
        );
        return toResourceServerBody(created, alg);
      } catch (error) {
        // Two creates of the same identifier at once: the unique constraint picks one.
        if (isUniqueViolation(error)) throw conflict();
        throw error;
      }
    },
  });

  router.add({
    method: 'PATCH',
    path: '/resource-servers/:id',
    summary: 'Update a resource server (scopes are replaced as a whole)',
    scopes: ['update:resource_servers'],
    params,
    body: updateBody,
    // Auth0 answers a successful PATCH of a resource server with 201.
    status: 201,
    audit: 'Update resource server',
    response: resourceServerSchema,
    async handler({ params: { id }, body, tenant }) {
      const existing = await find(tenant.id, id);
      if (!existing) throw notFound();
      if (existing.isSystem) {
        // Auth0 lets only the token lifetime and the consent skip of its own API change.
        const fixed = Object.keys(body).filter((key) => !SYSTEM_MUTABLE.has(key));
        if (fixed.length > 0) throw new HttpError(400, `Payload validation error: 'Additional properties not allowed: ${fixed.join(',')}'.`, 'invalid_body');
      }
      checkAlg(body, tenant.settings.signing_alg);
      const updated = await writeTransaction(database, async (trx) => {
        const apis = tenantStores(trx, tenant.id, services.runtime).resourceServers;
        return (await apis.update(existing.id, changesOf(body))) ? apis.findById(existing.id) : undefined;
      });
      if (!updated) throw notFound();
      return toResourceServerBody(updated, tenant.settings.signing_alg);
    },
  });

  router.add({
    method: 'DELETE',
    path: '/resource-servers/:id',
    summary: 'Delete a resource server',
    scopes: ['delete:resource_servers'],
    params,
    status: 204,
    audit: 'Delete resource server',
    async handler({ params: { id }, tenant }) {
      const existing = await find(tenant.id, id);
      if (!existing) throw notFound();
      if (existing.isSystem) throw new HttpError(400, 'System resource servers cannot be deleted', 'operation_not_supported');
      // Its scopes, client grants and role/user permissions go with it (foreign keys); the
      // engines stop issuing tokens for it when their API cache forgets it (TENANT_CACHE_TTL_MS).
      if (!(await stores(tenant.id).resourceServers.delete(existing.id))) throw notFound();
      return undefined;
    },
  });
}
