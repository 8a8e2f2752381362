import { isoNow, type Runtime } from '../storage/runtime.js';
import type { Executor } from '../storage/transaction.js';

export interface Role {
  readonly id: string;
  readonly name: string;
  readonly description: string | null;
}

/** A permission as Auth0 names it: an API (by identifier) plus a scope value. */
export interface Permission {
  readonly resource_server_identifier: string;
  readonly permission_name: string;
}

/** A user holding a role, in Auth0's `RoleUser` shape. */
export interface RoleMember {
  readonly user_id: string;
  readonly email: string | null;
  readonly name: string | null;
  readonly picture: string | null;
}

/** A user's direct permission as Auth0 lists it: with the API's name and the scope's description. */
export interface UserPermission extends Permission {
  readonly resource_server_name: string;
  readonly description: string | null;
}

export function rolesStore(db: Executor, tenantId: string, runtime: Runtime) {
  /** Maps API identifiers to this tenant's resource server ids; unknown identifiers are left out. */
  async function apiIds(identifiers: readonly string[]): Promise<Map<string, string>> {
    if (identifiers.length === 0) return new Map();
    const rows = await db.selectFrom('resource_servers').select(['id', 'identifier']).where('tenant_id', '=', tenantId).where('identifier', 'in', identifiers).execute();
    return new Map(rows.map((r) => [r.identifier, r.id]));
  }

  async function ownsRole(roleId: string): Promise<boolean> {
    const row = await db.selectFrom('roles').select('id').where('tenant_id', '=', tenantId).where('id', '=', roleId).executeTakeFirst();
    return row !== undefined;
  }

  /** user_roles/user_permissions reference users by (tenant_id, user_id); checking first turns a foreign-key error into `false`. */
  async function ownsUser(userId: string): Promise<boolean> {
    const row = await db.selectFrom('users').select('user_id').where('tenant_id', '=', tenantId).where('user_id', '=', userId).executeTakeFirst();
    return row !== undefined;
  }

  return {
    async insert(input: { name: string; description?: string | null }): Promise<Role> {
      const now = isoNow(runtime);
      const id = runtime.randomId('rol_', 16, 'alnum');
      await db.insertInto('roles').values({ id, tenant_id: tenantId, name: input.name, description: input.description ?? null, created_at: now, updated_at: now }).execute();
      return { id, name: input.name, description: input.description ?? null };
    },

    async findById(id: string): Promise<Role | undefined> {
      return db.selectFrom('roles').select(['id', 'name', 'description']).where('tenant_id', '=', tenantId).where('id', '=', id).executeTakeFirst();
    },

    async list(): Promise<Role[]> {
      return db.selectFrom('roles').select(['id', 'name', 'description']).where('tenant_id', '=', tenantId).orderBy('name').execute();
    },

    /** Renames and/or redescribes a role; false when it is not this tenant's. A taken name throws a unique violation. */
    async update(id: string, changes: { name?: string; description?: string | null }): Promise<boolean> {
      const result = await db
        .updateTable('roles')
        .set({
          ...(changes.name !== undefined ? { name: changes.name } : {}),
          ...(changes.description !== undefined ? { description: changes.description } : {}),
          updated_at: isoNow(runtime),
        })
        .where('tenant_id', '=', tenantId)
        .where('id', '=', id)
        .executeTakeFirst();
      return Number(result.numUpdatedRows) === 1;
    },

    async delete(id: string): Promise<boolean> {
      const result = await db.deleteFrom('roles').where('tenant_id', '=', tenantId).where('id', '=', id).executeTakeFirst();
      return Number(result.numDeletedRows) === 1;
    },

    /**
     * Adds permissions to a role. Returns false (and adds nothing) when the role
     * or one of the APIs is not this tenant's.
     */
    async addPermissions(roleId: string, permissions: readonly Permission[]): Promise<boolean> {
      if (!(await ownsRole(roleId))) return false;
      const ids = await apiIds([...new Set(permissions.map((p) => p.resource_server_identifier))]);
      if (permissions.some((p) => !ids.has(p.resource_server_identifier))) return false;
      for (const p of permissions) {
        await db
          .insertInto('role_permissions')
          .values({ role_id: roleId, resource_server_id: ids.get(p.resource_server_identifier) as string, permission_name: p.permission_name })
          .onConflict((oc) => oc.doNothing())
          .execute();
      }
      return true;
    },

    /**
     * Removes permissions from a role (absent ones are ignored). Returns false
     * (and removes nothing) when the role or one of the APIs is not this
     * tenant's. Call inside a write transaction.
     */
    async removePermissions(roleId: string, permissions: readonly Permission[]): Promise<boolean> {
      if (!(await ownsRole(roleId))) return false;
      const ids = await apiIds([...new Set(permissions.map((p) => p.resource_server_identifier))]);
      if (permissions.some((p) => !ids.has(p.resource_server_identifier))) return false;
      for (const p of permissions) {
        await db
          .deleteFrom('role_permissions')
          .where('role_id', '=', roleId)
          .where('resource_server_id', '=', ids.get(p.resource_server_identifier) as string)
          .where('permission_name', '=', p.permission_name)
          .execute();
      }
      return true;
    },

    async rolePermissions(roleId: string): Promise<Permission[]> {
      return db
        .selectFrom('role_permissions')
        .innerJoin('roles', 'roles.id', 'role_permissions.role_id')
        .innerJoin('resource_servers', 'resource_servers.id', 'role_permissions.resource_server_id')
        .select(['resource_servers.identifier as resource_server_identifier', 'role_permissions.permission_name'])
        .where('roles.tenant_id', '=', tenantId)
        .where('roles.id', '=', roleId)
        .orderBy('resource_servers.identifier')
        .orderBy('role_permissions.permission_name')
        .execute();
    },

    /** Returns false (and assigns nothing) when the user or one of the roles is not this tenant's. */
    async assignToUser(userId: string, roleIds: readonly string[]): Promise<boolean> {
      if (!(await ownsUser(userId))) return false;
      for (const roleId of roleIds) if (!(await ownsRole(roleId))) return false;
      const now = isoNow(runtime);
      for (const roleId of roleIds) {
        await db.insertInto('user_roles').values({ tenant_id: tenantId, user_id: userId, role_id: roleId, created_at: now }).onConflict((oc) => oc.doNothing()).execute();
      }
      return true;
    },

    /**
     * Gives one role to several users. Returns false (and assigns nothing) when
     * the role or one of the users is not this tenant's. Call inside a write
     * transaction.
     */
    async assignUsers(roleId: string, userIds: readonly string[]): Promise<boolean> {
      if (!(await ownsRole(roleId))) return false;
      const unique = [...new Set(userIds)];
      if (unique.length === 0) return true;
      const found = await db.selectFrom('users').select('user_id').where('tenant_id', '=', tenantId).where('user_id', 'in', unique).execute();
      if (found.length !== unique.length) return false;
      const now = isoNow(runtime);
      for (const userId of unique) {
        await db.insertInto('user_roles').values({ tenant_id: tenantId, user_id: userId, role_id: roleId, created_at: now }).onConflict((oc) => oc.doNothing()).execute();
      }
      return true;
    },

    /** One page of the users holding a role, by user id, and how many hold it (none for another tenant's role). */
    async usersOf(roleId: string, page: { offset: number; limit: number }): Promise<{ users: RoleMember[]; total: number }> {
      const holders = db
        .selectFrom('user_roles')
        .innerJoin('roles', 'roles.id', 'user_roles.role_id')
        .innerJoin('users', (join) => join.onRef('users.tenant_id', '=', 'user_roles.tenant_id').onRef('users.user_id', '=', 'user_roles.user_id'))
        .where('user_roles.tenant_id', '=', tenantId)
        .where('roles.tenant_id', '=', tenantId)
        .where('user_roles.role_id', '=', roleId);
      const users = await holders
        .select(['users.user_id', 'users.email', 'users.name', 'users.picture'])
        .orderBy('users.user_id')
        .offset(page.offset)
        .limit(page.limit)
        .execute();
      const counted = await holders.select((eb) => eb.fn.countAll<number | string | bigint>().as('n')).executeTakeFirst();
      return { users, total: Number(counted?.n ?? 0) };
    },

    async removeFromUser(userId: string, roleIds: readonly string[]): Promise<void> {
      if (roleIds.length === 0) return;
      await db.deleteFrom('user_roles').where('tenant_id', '=', tenantId).where('user_id', '=', userId).where('role_id', 'in', roleIds).execute();
    },

    async userRoles(userId: string): Promise<Role[]> {
      return db
        .selectFrom('user_roles')
        .innerJoin('roles', 'roles.id', 'user_roles.role_id')
        .select(['roles.id', 'roles.name', 'roles.description'])
        .where('user_roles.tenant_id', '=', tenantId)
        .where('roles.tenant_id', '=', tenantId)
        .where('user_roles.user_id', '=', userId)
        .orderBy('roles.name')
        .execute();
    },

    /** Returns false (and adds nothing) when the user or one of the APIs is not this tenant's. */
    async addUserPermissions(userId: string, permissions: readonly Permission[]): Promise<boolean> {
      if (!(await ownsUser(userId))) return false;
      const ids = await apiIds([...new Set(permissions.map((p) => p.resource_server_identifier))]);
      if (permissions.some((p) => !ids.has(p.resource_server_identifier))) return false;
      const now = isoNow(runtime);
      for (const p of permissions) {
        await db
          .insertInto('user_permissions')
          .values({ tenant_id: tenantId, user_id: userId, resource_server_id: ids.get(p.resource_server_identifier) as string, permission_name: p.permission_name, created_at: now })
          .onConflict((oc) => oc.doNothing())
          .execute();
      }
      return true;
    },

    /**
     * Removes direct permissions from a user (absent ones are ignored). Returns
     * false (and removes nothing) when one of the APIs is not this tenant's.
     * Call inside a write transaction.
     */
    async removeUserPermissions(userId: string, permissions: readonly Permission[]): Promise<boolean> {
      const ids = await apiIds([...new Set(permissions.map((p) => p.resource_server_identifier))]);
      if (permissions.some((p) => !ids.has(p.resource_server_identifier))) return false;
      for (const p of permissions) {
        await db
          .deleteFrom('user_permissions')
          .where('tenant_id', '=', tenantId)
          .where('user_id', '=', userId)
          .where('resource_server_id', '=', ids.get(p.resource_server_identifier) as string)
          .where('permission_name', '=', p.permission_name)
          .execute();
      }
      return true;
    },

    /** The user's direct permissions (not those of their roles), by API then name. */
    async userPermissions(userId: string): Promise<UserPermission[]> {
      return db
        .selectFrom('user_permissions')
        .innerJoin('resource_servers', 'resource_servers.id', 'user_permissions.resource_server_id')
        .leftJoin('resource_server_scopes', (join) =>
          join.onRef('resource_server_scopes.resource_server_id', '=', 'user_permissions.resource_server_id').onRef('resource_server_scopes.value', '=', 'user_permissions.permission_name'),
        )
        .select(['resource_servers.identifier as resource_server_identifier', 'user_permissions.permission_name', 'resource_servers.name as resource_server_name', 'resource_server_scopes.description'])
        .where('user_permissions.tenant_id', '=', tenantId)
        .where('resource_servers.tenant_id', '=', tenantId)
        .where('user_permissions.user_id', '=', userId)
        .orderBy('resource_servers.identifier')
        .orderBy('user_permissions.permission_name')
        .execute();
    },

    /**
     * The user's effective permissions for one API: direct ones plus those of
     * their roles (what goes into an access token's `permissions` claim).
     */
    async effectivePermissions(userId: string, apiIdentifier: string): Promise<string[]> {
      const direct = db
        .selectFrom('user_permissions')
        .innerJoin('resource_servers', 'resource_servers.id', 'user_permissions.resource_server_id')
        .select('user_permissions.permission_name as name')
        .where('user_permissions.tenant_id', '=', tenantId)
        .where('user_permissions.user_id', '=', userId)
        .where('resource_servers.tenant_id', '=', tenantId)
        .where('resource_servers.identifier', '=', apiIdentifier);
      const viaRoles = db
        .selectFrom('user_roles')
        .innerJoin('role_permissions', 'role_permissions.role_id', 'user_roles.role_id')
        .innerJoin('resource_servers', 'resource_servers.id', 'role_permissions.resource_server_id')
        .select('role_permissions.permission_name as name')
        .where('user_roles.tenant_id', '=', tenantId)
        .where('user_roles.user_id', '=', userId)
        .where('resource_servers.tenant_id', '=', tenantId)
        .where('resource_servers.identifier', '=', apiIdentifier);
      const rows = await direct.union(viaRoles).execute();
      return rows.map((r) => r.name).sort();
    },
  };
}

export type RolesStore = ReturnType<typeof rolesStore>;
