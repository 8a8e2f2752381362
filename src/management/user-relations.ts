import { z } from 'zod';
import { HttpError } from '../http/errors.js';
import { LOG_PAGE_CAP } from '../logs/store.js';
import { writeTransaction } from '../storage/transaction.js';
import type { Permission } from '../roles/store.js';
import { tenantStores, type TenantStores } from '../tenants/tenant-stores.js';
import { logEventSchema } from './logs.js';
import type { ManagementDeps } from './plugin.js';
import { offsetOf, pagingQuery, pathId, pageOf } from './query.js';
import { roleSchema } from './roles.js';
import type { ManagementRouter } from './route.js';

const permissionSchema = z.object({
  resource_server_identifier: z.string(),
  permission_name: z.string(),
  resource_server_name: z.string(),
  description: z.string().optional(),
});

/** Auth0 leaves out absent values; the answer schema then checks what is left. */
const withoutNulls = <T extends object>(value: T) => Object.fromEntries(Object.entries(value).filter(([, v]) => v !== null)) as { [K in keyof T]: Exclude<T[K], null> };

const roleIds = z.strictObject({ roles: z.array(z.string().min(1).max(64)).min(1).max(50) });
const permissionList = z.strictObject({
  permissions: z
    .array(z.strictObject({ resource_server_identifier: z.string().min(1).max(600), permission_name: z.string().min(1).max(280) }))
    .min(1)
    .max(100),
});

/** A Lucene phrase matching `value` literally (backslash escapes, src/search/lucene.ts). */
export const lucenePhrase = (value: string) => `"${value.replaceAll('\\', '\\\\').replaceAll('"', '\\"')}"`;

export const userNotFound = () => new HttpError(404, 'The user does not exist.', 'inexistent_user');

/**
 * The rule of role permissions (roles.ts), for a user's direct ones: each
 * names an API of this tenant (400) and, when added, a scope that API
 * defines (400) — any other could never reach a token.
 */
async function checkPermissions(stores: TenantStores, permissions: readonly Permission[], mustBeDefined: boolean): Promise<void> {
  for (const identifier of new Set(permissions.map((p) => p.resource_server_identifier))) {
    const api = await stores.resourceServers.findByIdentifier(identifier);
    if (!api) throw new HttpError(400, `The resource server "${identifier}" does not exist`, 'invalid_body');
    const defined = new Set(api.scopes.map((s) => s.value));
    const undefinedOne = mustBeDefined && permissions.find((p) => p.resource_server_identifier === identifier && !defined.has(p.permission_name));
    if (undefinedOne) throw new HttpError(400, `The permission "${undefinedOne.permission_name}" is not defined by the resource server "${identifier}"`, 'invalid_body');
  }
}

/** `/api/v2/users/{id}/roles`, `/users/{id}/permissions` (direct ones) and `/users/{id}/logs`. */
export function registerUserRelationRoutes(router: ManagementRouter, deps: ManagementDeps): void {
  const { database, services } = deps;
  const stores = (tenantId: string) => tenantStores(database.db, tenantId, services.runtime);
  const params = z.strictObject({ id: pathId });
  const assertUser = async (tenantId: string, userId: string) => {
    if (!(await stores(tenantId).users.findById(userId))) throw userNotFound();
  };

  router.add({
    method: 'GET',
    path: '/users/:id/roles',
    summary: "Get a user's roles",
    scopes: ['read:users', 'read:roles', 'read:role_members'],
    params,
    query: z.object(pagingQuery),
    list: { key: 'roles', item: roleSchema },
    async handler({ params: { id }, query, tenant }) {
      await assertUser(tenant.id, id);
      const roles = await stores(tenant.id).roles.userRoles(id);
      return pageOf(roles, query, withoutNulls);
    },
  });

  router.add({
    method: 'POST',
    path: '/users/:id/roles',
    summary: 'Assign roles to a user',
    scopes: ['create:role_members', 'update:users'],
    params,
    body: roleIds,
    status: 204,
    audit: 'Assign roles to a user',
    async handler({ params: { id }, body, tenant }) {
      await assertUser(tenant.id, id);
      const assigned = await writeTransaction(database, (trx) => tenantStores(trx, tenant.id, services.runtime).roles.assignToUser(id, [...new Set(body.roles)]));
      // The user was found above: a false answer means an unknown role (roles.ts's wording).
      if (!assigned) throw new HttpError(404, 'The role does not exist', 'inexistent_role');
      return undefined;
    },
  });

  router.add({
    method: 'DELETE',
    path: '/users/:id/roles',
    summary: 'Remove roles from a user',
    scopes: ['delete:role_members', 'update:users'],
    params,
    body: roleIds,
    status: 204,
    audit: 'Remove roles from a user',
    async handler({ params: { id }, body, tenant }) {
      await assertUser(tenant.id, id);
      await stores(tenant.id).roles.removeFromUser(id, body.roles);
      return undefined;
    },
  });

  router.add({
    method: 'GET',
    path: '/users/:id/permissions',
    summary: "Get a user's direct permissions",
    scopes: ['read:users'],
    params,
    query: z.object(pagingQuery),
    list: { key: 'permissions', item: permissionSchema },
    async handler({ params: { id }, query, tenant }) {
      await assertUser(tenant.id, id);
      const permissions = await stores(tenant.id).roles.userPermissions(id);
      return pageOf(permissions, query, withoutNulls);
    },
  });

  router.add({
    method: 'POST',
    path: '/users/:id/permissions',
    summary: 'Assign permissions to a user',
    scopes: ['update:users'],
    params,
    body: permissionList,
    status: 201,
    audit: 'Assign permissions to a user',
    async handler({ params: { id }, body, tenant }) {
      await assertUser(tenant.id, id);
      await checkPermissions(stores(tenant.id), body.permissions, true);
      const added = await writeTransaction(database, (trx) => tenantStores(trx, tenant.id, services.runtime).roles.addUserPermissions(id, body.permissions));
      if (!added) throw userNotFound();
      return undefined;
    },
  });

  router.add({
    method: 'DELETE',
    path: '/users/:id/permissions',
    summary: 'Remove permissions from a user',
    scopes: ['update:users'],
    params,
    body: permissionList,
    status: 204,
    audit: 'Remove permissions from a user',
    async handler({ params: { id }, body, tenant }) {
      await assertUser(tenant.id, id);
      await checkPermissions(stores(tenant.id), body.permissions, false);
      // The store refuses (false) only for an API that vanished since the check.
      if (!(await writeTransaction(database, (trx) => tenantStores(trx, tenant.id, services.runtime).roles.removeUserPermissions(id, body.permissions)))) {
        throw new HttpError(400, 'A resource server of these permissions does not exist', 'invalid_body');
      }
      return undefined;
    },
  });

  router.add({
    method: 'GET',
    path: '/users/:id/logs',
    summary: "Get a user's log events",
    scopes: ['read:logs', 'read:logs_users'],
    params,
    query: z.object({ ...pagingQuery, sort: z.enum(['date:1', 'date:-1']).optional() }),
    list: { key: 'logs', item: logEventSchema },
    async handler({ params: { id }, query, tenant }) {
      await assertUser(tenant.id, id);
      const { offset, limit } = offsetOf(query);
      // Auth0's offset paging window over log events (the logs store counts within it too).
      if (offset >= LOG_PAGE_CAP) throw new HttpError(400, `You can only page through the first ${LOG_PAGE_CAP} records.`, 'invalid_paging');
      // The user's events (log_events_user index), as the logs store's search selects them.
      const { events, total } = await stores(tenant.id).logs.search(
        { q: `user_id:${lucenePhrase(id)}`, offset, limit: Math.min(limit, LOG_PAGE_CAP - offset), ascending: query.sort === 'date:1', includeTotals: query.include_totals },
        database.capabilities.name,
      );
      return { items: events.map(withoutNulls), start: offset, limit, ...(total !== undefined ? { total } : {}) };
    },
  });
}
