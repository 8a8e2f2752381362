import { z } from 'zod';
import type { ClientGrant } from '../apis/store.js';
import { HttpError } from '../http/errors.js';
import { isUniqueViolation } from '../storage/errors.js';
import { tenantStores, type TenantStores } from '../tenants/tenant-stores.js';
import type { ManagementDeps } from './plugin.js';
import { pagingQuery, pathId } from './query.js';
import type { ManagementRouter } from './route.js';

/**
 * Auth0's checkpoint paging (`from` + `take`), next to offset paging
 * (`page` + `per_page`). `from` is the opaque `next` of the previous page;
 * here it encodes the offset (stable while the list does not change).
 */
export const checkpointQuery = {
  from: z
    .string()
    .max(64)
    .transform((value, ctx) => {
      const match = /^o(\d{1,9})$/.exec(Buffer.from(value, 'base64url').toString('latin1'));
      if (match) return Number(match[1]);
      ctx.addIssue({ code: 'custom', message: 'Invalid checkpoint' });
      return z.NEVER;
    })
    .optional(),
  take: z.coerce.number().int().min(1).max(100).optional(),
};

const encodeCheckpoint = (offset: number) => Buffer.from(`o${offset}`, 'latin1').toString('base64url');

export interface ListWindow {
  readonly offset: number;
  readonly limit: number;
  /** Checkpoint paging answers `{ <key>, next? }`; offset paging an array, or Auth0's totals object. */
  readonly checkpoint: boolean;
}

/** Which slice a list request asks for: checkpoint paging when `from` or `take` is given, else `page`/`per_page`. */
export function listWindow(query: { page: number; per_page: number; from?: number | undefined; take?: number | undefined }): ListWindow {
  if (query.from !== undefined || query.take !== undefined) return { offset: query.from ?? 0, limit: query.take ?? 50, checkpoint: true };
  return { offset: query.page * query.per_page, limit: query.per_page, checkpoint: false };
}

/** The answer for one slice of a list, in the shape the request asked for. */
export function listAnswer<T>(key: string, items: readonly T[], total: number, window: ListWindow, includeTotals: boolean): unknown {
  if (window.checkpoint) {
    const next = window.offset + items.length < total && items.length > 0 ? encodeCheckpoint(window.offset + items.length) : undefined;
    return { [key]: items, ...(next !== undefined ? { next } : {}) };
  }
  if (!includeTotals) return items;
  return { start: window.offset, limit: window.limit, length: items.length, total, [key]: items };
}

/** The response schema of such a list: an array, Auth0's totals object, or a checkpoint page. */
export function listResponse<T extends z.ZodType>(key: string, item: T) {
  return z.union([
    z.array(item),
    z.object({ start: z.number(), limit: z.number(), length: z.number(), total: z.number(), [key]: z.array(item) }),
    z.object({ [key]: z.array(item), next: z.string().optional() }),
  ]);
}

/** The client grant in Auth0's shape; `is_system` marks the grant of the CLI's admin client (read-only here). */
export const clientGrantSchema = z.object({
  id: z.string(),
  client_id: z.string(),
  audience: z.string(),
  scope: z.array(z.string()),
  is_system: z.boolean(),
  subject_type: z.literal('client'),
});
type ClientGrantBody = z.infer<typeof clientGrantSchema>;

const toClientGrantBody = (grant: ClientGrant, isSystem: boolean): ClientGrantBody => ({
  id: grant.id,
  client_id: grant.clientId,
  audience: grant.audience,
  scope: [...grant.scope],
  is_system: isSystem,
  subject_type: 'client',
});

const scopeList = z.array(z.string().min(1).max(280)).max(1000);
const createBody = z.strictObject({
  client_id: z.string().min(1).max(256),
  audience: z.string().min(1).max(600),
  scope: scopeList.optional(),
  // Portcullis grants are for client access (client_credentials) only.
  subject_type: z.literal('client').optional(),
});
const updateBody = z
  .strictObject({ scope: scopeList.nullable().optional() })
  .refine((body) => Object.keys(body).length > 0, 'Too few properties defined (0), minimum 1');

const notFound = () => new HttpError(404, 'The client grant does not exist', 'inexistent_client_grant');
const systemGrant = () => new HttpError(403, 'The grant of the Portcullis CLI client is managed by `portcullis admin-client` and cannot be changed here', 'operation_not_supported');

/** The scopes must be ones the API defines: a grant of an undefined scope could never be used (resource-servers.ts filters them). */
async function checkScopes(stores: TenantStores, audience: string, scope: readonly string[]): Promise<void> {
  const api = await stores.resourceServers.findByIdentifier(audience);
  const defined = new Set(api?.scopes.map((s) => s.value));
  const unknown = [...new Set(scope)].filter((s) => !defined.has(s));
  if (unknown.length > 0) throw new HttpError(400, `Payload validation error: 'Scopes not defined by the resource server ${audience}: ${unknown.join(', ')}' on property scope.`, 'invalid_body');
}

/**
 * Which of these grants are system grants: the CLI admin client's grant on the
 * Management API, which `portcullis admin-client` owns (Auth0's `is_system`
 * grants "cannot be modified or deleted directly").
 */
async function systemGrants(stores: TenantStores, grants: readonly ClientGrant[]): Promise<Set<string>> {
  const managementApi = await stores.resourceServers.systemApiIdentifier();
  const system = new Set<string>();
  for (const grant of grants) {
    if (grant.audience === managementApi && (await stores.clients.findById(grant.clientId))?.isSystem) system.add(grant.id);
  }
  return system;
}

/**
 * `/api/v2/client-grants`: which API scopes a machine client may obtain by
 * client_credentials. Changes reach the token endpoint within the engines'
 * grant cache bound (TENANT_CACHE_TTL_MS).
 */
export function registerClientGrantRoutes(router: ManagementRouter, deps: ManagementDeps): void {
  const { database, services } = deps;
  const stores = (tenantId: string) => tenantStores(database.db, tenantId, services.runtime);
  const params = z.strictObject({ id: pathId });
  const findGrant = async (tenantId: string, id: string) => {
    const grant = await stores(tenantId).clientGrants.findById(id);
    if (!grant) throw notFound();
    return { grant, isSystem: (await systemGrants(stores(tenantId), [grant])).has(grant.id) };
  };

  router.add({
    method: 'GET',
    path: '/client-grants',
    summary: 'Get client grants',
    scopes: ['read:client_grants'],
    query: z.object({ ...pagingQuery, ...checkpointQuery, audience: z.string().min(1).max(600).optional(), client_id: z.string().min(1).max(256).optional() }),
    response: listResponse('client_grants', clientGrantSchema),
    async handler({ query, tenant }) {
      const tenantStore = stores(tenant.id);
      const all = await tenantStore.clientGrants.list({ ...(query.client_id !== undefined ? { clientId: query.client_id } : {}), ...(query.audience !== undefined ? { audience: query.audience } : {}) });
      const window = listWindow(query);
      const page = all.slice(window.offset, window.offset + window.limit);
      const system = await systemGrants(tenantStore, page);
      return listAnswer('client_grants', page.map((g) => toClientGrantBody(g, system.has(g.id))), all.length, window, query.include_totals);
    },
  });

  router.add({
    method: 'GET',
    path: '/client-grants/:id',
    summary: 'Get a client grant',
    scopes: ['read:client_grants'],
    params,
    response: clientGrantSchema,
    async handler({ params: { id }, tenant }) {
      const { grant, isSystem } = await findGrant(tenant.id, id);
      return toClientGrantBody(grant, isSystem);
    },
  });

  router.add({
    method: 'POST',
    path: '/client-grants',
    summary: 'Create a client grant',
    scopes: ['create:client_grants'],
    body: createBody,
    status: 201,
    audit: 'Create client grant',
    response: clientGrantSchema,
    async handler({ body, tenant }) {
      const tenantStore = stores(tenant.id);
      const client = await tenantStore.clients.findById(body.client_id);
      if (!client) throw new HttpError(404, 'Client not found', 'inexistent_client');
      if (!(await tenantStore.resourceServers.findByIdentifier(body.audience))) throw new HttpError(404, `No resource with identifier ${body.audience}`, 'inexistent_resource_server');
      const scope = [...new Set(body.scope ?? [])];
      await checkScopes(tenantStore, body.audience, scope);
      const conflict = () => new HttpError(409, `A client grant already exists between ${body.client_id} and ${body.audience}`, 'client_grant_conflict');
      if (await tenantStore.clientGrants.find(body.client_id, body.audience)) throw conflict();
      try {
        const created = await tenantStore.clientGrants.insert({ clientId: body.client_id, audience: body.audience, scope });
        // The client or the API was deleted between the checks and the insert.
        if (!created) throw new HttpError(404, `No resource with identifier ${body.audience}`, 'inexistent_resource_server');
        return toClientGrantBody(created, false);
      } catch (error) {
        if (isUniqueViolation(error)) throw conflict();
        throw error;
      }
    },
  });

  router.add({
    method: 'PATCH',
    path: '/client-grants/:id',
    summary: "Update a client grant's scopes",
    scopes: ['update:client_grants'],
    params,
    body: updateBody,
    audit: 'Update client grant',
    response: clientGrantSchema,
    async handler({ params: { id }, body, tenant }) {
      const { grant, isSystem } = await findGrant(tenant.id, id);
      if (isSystem) throw systemGrant();
      if (body.scope !== undefined) {
        const scope = [...new Set(body.scope ?? [])];
        await checkScopes(stores(tenant.id), grant.audience, scope);
        if (!(await stores(tenant.id).clientGrants.updateScope(id, scope))) throw notFound();
      }
      const updated = await stores(tenant.id).clientGrants.findById(id);
      if (!updated) throw notFound();
      return toClientGrantBody(updated, false);
    },
  });

  router.add({
    method: 'DELETE',
    path: '/client-grants/:id',
    summary: 'Delete a client grant',
    scopes: ['delete:client_grants'],
    params,
    status: 204,
    audit: 'Delete client grant',
    async handler({ params: { id }, tenant }) {
      const { isSystem } = await findGrant(tenant.id, id);
      if (isSystem) throw systemGrant();
      if (!(await stores(tenant.id).clientGrants.delete(id))) throw notFound();
      return undefined;
    },
  });
}
