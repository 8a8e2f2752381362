import { z } from 'zod';
import { HttpError } from '../http/errors.js';
import type { Permission, Role, RoleMember } from '../roles/store.js';
import { isUniqueViolation } from '../storage/errors.js';
import { writeTransaction } from '../storage/transaction.js';
import { tenantStores, type TenantStores } from '../tenants/tenant-stores.js';
import { checkpointQuery, listAnswer, listResponse, listWindow } from './client-grants.js';
import type { ManagementDeps } from './plugin.js';
import { pagingQuery, pathId, pageOf } from './query.js';
import type { ManagementRouter } from './route.js';

const name = z.string().trim().min(1).max(255);
const description = z.string().max(255);
const createBody = z.strictObject({ name, description: description.optional() });
const updateBody = z.strictObject({ name: name.optional(), description: description.optional() });

const permissionList = z
  .array(z.strictObject({ resource_server_identifier: z.string().min(1).max(600), permission_name: z.string().min(1).max(280) }))
  .min(1)
  .max(1000);
const permissionsBody = z.strictObject({ permissions: permissionList });
const usersBody = z.strictObject({ users: z.array(z.string().min(1).max(256)).min(1).max(1000) });

export const roleSchema = z.object({ id: z.string(), name: z.string(), description: z.string().optional() });
const permissionSchema = z.object({ resource_server_identifier: z.string(), permission_name: z.string(), resource_server_name: z.string(), description: z.string().optional() });
const roleUserSchema = z.object({ user_id: z.string(), email: z.string().optional(), name: z.string().optional(), picture: z.string().optional() });

const toRoleBody = (role: Role): z.infer<typeof roleSchema> => ({ id: role.id, name: role.name, ...(role.description !== null ? { description: role.description } : {}) });
const toRoleUserBody = (user: RoleMember): z.infer<typeof roleUserSchema> => ({
  user_id: user.user_id,
  ...(user.email !== null ? { email: user.email } : {}),
  ...(user.name !== null ? { name: user.name } : {}),
  ...(user.picture !== null ? { picture: user.picture } : {}),
});

const notFound = () => new HttpError(404, 'The role does not exist', 'inexistent_role');
const conflict = () => new HttpError(409, 'The role already exists', 'role_conflict');

/**
 * Permissions name an API of this tenant and, when added, a scope that API
 * defines (Auth0 refuses others with 400); a permission that is not a scope
 * of its API could never reach a token.
 */
async function checkPermissions(stores: TenantStores, permissions: readonly Permission[], mustBeDefined: boolean): Promise<void> {
  for (const identifier of new Set(permissions.map((p) => p.resource_server_identifier))) {
    const api = await stores.resourceServers.findByIdentifier(identifier);
    if (!api) throw new HttpError(400, `The resource server "${identifier}" does not exist`, 'invalid_body');
    if (!mustBeDefined) continue;
    const defined = new Set(api.scopes.map((s) => s.value));
    const undefinedOne = permissions.find((p) => p.resource_server_identifier === identifier && !defined.has(p.permission_name));
    if (undefinedOne) throw new HttpError(400, `The permission "${undefinedOne.permission_name}" is not defined by the resource server "${identifier}"`, 'invalid_body');
  }
}

/**
 * `/api/v2/roles` with their permissions and users (RBAC). A user's
 * permissions are read when a token is issued (not cached), so a change here
 * is in the next access token.
 */
export function registerRoleRoutes(router: ManagementRouter, deps: ManagementDeps): void {
  const { database, services } = deps;
  const stores = (tenantId: string) => tenantStores(database.db, tenantId, services.runtime);
  const params = z.strictObject({ id: pathId });
  const findRole = async (tenantId: string, id: string) => {
    const role = await stores(tenantId).roles.findById(id);
    if (!role) throw notFound();
    return role;
  };

  router.add({
    method: 'GET',
    path: '/roles',
    summary: 'Get roles',
    scopes: ['read:roles'],
    query: z.object({ ...pagingQuery, name_filter: z.string().max(255).optional() }),
    list: { key: 'roles', item: roleSchema },
    async handler({ query, tenant }) {
      const filter = query.name_filter?.toLowerCase();
      const all = (await stores(tenant.id).roles.list()).filter((role) => filter === undefined || role.name.toLowerCase().includes(filter));
      return pageOf(all, query, toRoleBody);
    },
  });

  router.add({
    method: 'GET',
    path: '/roles/:id',
    summary: 'Get a role',
    scopes: ['read:roles'],
    params,
    response: roleSchema,
    async handler({ params: { id }, tenant }) {
      return toRoleBody(await findRole(tenant.id, id));
    },
  });

  router.add({
    method: 'POST',
    path: '/roles',
    summary: 'Create a role',
    scopes: ['create:roles'],
    body: createBody,
    // Auth0 answers a created role with 200.
    audit: 'Create role',
    response: roleSchema,
    async handler({ body, tenant }) {
      try {
        return toRoleBody(await stores(tenant.id).roles.insert({ name: body.name, description: body.description ?? null }));
      } catch (error) {
        if (isUniqueViolation(error)) throw conflict();
        throw error;
      }
    },
  });

  router.add({
    method: 'PATCH',
    path: '/roles/:id',
    summary: 'Update a role',
    scopes: ['update:roles'],
    params,
    body: updateBody,
    audit: 'Update role',
    response: roleSchema,
    async handler({ params: { id }, body, tenant }) {
      const roles = stores(tenant.id).roles;
      try {
        if (!(await roles.update(id, { ...(body.name !== undefined ? { name: body.name } : {}), ...(body.description !== undefined ? { description: body.description } : {}) }))) throw notFound();
      } catch (error) {
        if (isUniqueViolation(error)) throw conflict();
        throw error;
      }
      return toRoleBody(await findRole(tenant.id, id));
    },
  });

  router.add({
    method: 'DELETE',
    path: '/roles/:id',
    summary: 'Delete a role',
    scopes: ['delete:roles'],
    params,
    // Auth0 answers 200 (no body); the role leaves every user that held it.
    audit: 'Delete role',
    async handler({ params: { id }, tenant }) {
      if (!(await stores(tenant.id).roles.delete(id))) throw notFound();
      return undefined;
    },
  });

  router.add({
    method: 'GET',
    path: '/roles/:id/permissions',
    summary: 'Get the permissions a role grants',
    scopes: ['read:roles'],
    params,
    query: z.object(pagingQuery),
    list: { key: 'permissions', item: permissionSchema },
    async handler({ params: { id }, query, tenant }) {
      await findRole(tenant.id, id);
      const tenantStore = stores(tenant.id);
      const apis = new Map((await tenantStore.resourceServers.list()).map((api) => [api.identifier, api]));
      const all = (await tenantStore.roles.rolePermissions(id)).map((p) => {
        const api = apis.get(p.resource_server_identifier);
        const scopeDescription = api?.scopes.find((s) => s.value === p.permission_name)?.description;
        return { ...p, resource_server_name: api?.name ?? p.resource_server_identifier, ...(scopeDescription ? { description: scopeDescription } : {}) };
      });
      return pageOf(all, query);
    },
  });

  router.add({
    method: 'POST',
    path: '/roles/:id/permissions',
    summary: 'Add permissions to a role',
    scopes: ['update:roles'],
    params,
    body: permissionsBody,
    status: 201,
    audit: 'Add permissions to role',
    async handler({ params: { id }, body, tenant }) {
      await findRole(tenant.id, id);
      await checkPermissions(stores(tenant.id), body.permissions, true);
      const added = await writeTransaction(database, (trx) => tenantStores(trx, tenant.id, services.runtime).roles.addPermissions(id, body.permissions));
      if (!added) throw notFound();
      return undefined;
    },
  });

  router.add({
    method: 'DELETE',
    path: '/roles/:id/permissions',
    summary: 'Remove permissions from a role',
    scopes: ['update:roles'],
    params,
    body: permissionsBody,
    audit: 'Remove permissions from role',
    async handler({ params: { id }, body, tenant }) {
      await findRole(tenant.id, id);
      await checkPermissions(stores(tenant.id), body.permissions, false);
      const removed = await writeTransaction(database, (trx) => tenantStores(trx, tenant.id, services.runtime).roles.removePermissions(id, body.permissions));
      if (!removed) throw notFound();
      return undefined;
    },
  });

  router.add({
    method: 'GET',
    path: '/roles/:id/users',
    summary: 'Get the users holding a role',
    scopes: ['read:role_members', 'read:roles', 'read:users'],
    params,
    query: z.object({ ...pagingQuery, ...checkpointQuery }),
    response: listResponse('users', roleUserSchema),
    async handler({ params: { id }, query, tenant, caller }) {
      // Auth0: read:role_members, or read:users together with read:roles (the answer lists users).
      const has = (scope: string) => caller.scopes.has(scope);
      if (!has('read:role_members') && !(has('read:users') && has('read:roles'))) {
        throw new HttpError(403, 'Insufficient scope, expected any of: read:role_members or all of: read:users,read:roles', 'insufficient_scope');
      }
      await findRole(tenant.id, id);
      const window = listWindow(query);
      const { users, total } = await stores(tenant.id).roles.usersOf(id, window);
      return listAnswer('users', users.map(toRoleUserBody), total, window, query.include_totals);
    },
  });

  router.add({
    method: 'POST',
    path: '/roles/:id/users',
    summary: 'Assign users to a role',
    scopes: ['update:roles', 'create:role_members'],
    params,
    body: usersBody,
    audit: 'Assign users to role',
    async handler({ params: { id }, body, tenant }) {
      await findRole(tenant.id, id);
      // All or none: one unknown user and nobody is assigned.
      const assigned = await writeTransaction(database, (trx) => tenantStores(trx, tenant.id, services.runtime).roles.assignUsers(id, body.users));
      if (!assigned) throw new HttpError(404, 'One or more of the users do not exist', 'inexistent_user');
      return undefined;
    },
  });
}
