import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeEachBackend, migratedDatabase } from '../../test/support/backends.js';
import { testRuntime } from '../../test/support/clock.js';
import { createTenant } from '../../test/support/fixtures.js';
import { resourceServersStore } from '../apis/store.js';
import { connectionsStore, DEFAULT_DATABASE_CONNECTION } from '../connections/store.js';
import { isUniqueViolation } from '../storage/errors.js';
import type { Tenant } from '../tenants/store.js';
import { usersStore } from '../users/store.js';
import { rolesStore, type Permission } from './store.js';

const ORDERS = 'https://orders.example/api';
const BILLING = 'https://billing.example/api';
const perm = (api: string, name: string): Permission => ({ resource_server_identifier: api, permission_name: name });

describeEachBackend('roles store', (backend) => {
  let ctx: Awaited<ReturnType<typeof migratedDatabase>>;
  let tenant: Tenant;
  let connectionId: string;
  const clock = testRuntime();
  const store = () => rolesStore(ctx.database.db, tenant.id, clock);
  let userCount = 0;
  async function newUser(): Promise<string> {
    const user = await usersStore(ctx.database.db, tenant.id, clock).insert({ connectionId, provider: 'auth0', email: `user${++userCount}@example.com` });
    if (!user) throw new Error('user not inserted');
    return user.user_id;
  }

  beforeAll(async () => {
    ctx = await migratedDatabase(backend);
    tenant = await createTenant(ctx.database, 'acme');
    const connection = await connectionsStore(ctx.database.db, tenant.id, clock).findByName(DEFAULT_DATABASE_CONNECTION);
    if (!connection) throw new Error('default connection missing');
    connectionId = connection.id;
    const apis = resourceServersStore(ctx.database.db, tenant.id, clock);
    await apis.insert({ identifier: ORDERS, name: 'Orders', scopes: ['read', 'write', 'delete'].map((value) => ({ value, description: null })) });
    await apis.insert({ identifier: BILLING, name: 'Billing', scopes: [{ value: 'read', description: null }] });
  });
  afterAll(async () => ctx?.cleanup());

  it('round-trips a role, description defaulting to null', async () => {
    const described = await store().insert({ name: 'editor', description: 'Edits things' });
    expect(described.id).toMatch(/^rol_[A-Za-z0-9]{16}$/);
    expect(await store().findById(described.id)).toEqual({ id: described.id, name: 'editor', description: 'Edits things' });
    const bare = await store().insert({ name: 'bare' });
    expect(await store().findById(bare.id)).toEqual({ id: bare.id, name: 'bare', description: null });
    expect(await store().findById('rol_unknown')).toBeUndefined();
  });

  it('refuses a duplicate role name in the tenant', async () => {
    await store().insert({ name: 'unique-role' });
    const error = await store().insert({ name: 'unique-role' }).catch((e: unknown) => e);
    expect(isUniqueViolation(error)).toBe(true);
  });

  it('lists the tenant roles by name', async () => {
    const own = await createTenant(ctx.database, 'listing');
    const roles = rolesStore(ctx.database.db, own.id, clock);
    await roles.insert({ name: 'charlie' });
    await roles.insert({ name: 'alpha' });
    await roles.insert({ name: 'bravo' });
    expect((await roles.list()).map((r) => r.name)).toEqual(['alpha', 'bravo', 'charlie']);
  });

  it('renames and redescribes a role, refusing a taken name and unknown roles', async () => {
    const role = await store().insert({ name: 'before-rename', description: 'Old' });
    await store().insert({ name: 'taken-name' });
    expect(await store().update(role.id, { name: 'after-rename' })).toBe(true);
    expect(await store().findById(role.id)).toEqual({ id: role.id, name: 'after-rename', description: 'Old' });
    expect(await store().update(role.id, { description: null })).toBe(true);
    expect(await store().findById(role.id)).toEqual({ id: role.id, name: 'after-rename', description: null });
    const error = await store().update(role.id, { name: 'taken-name' }).catch((e: unknown) => e);
    expect(isUniqueViolation(error)).toBe(true);
    expect((await store().findById(role.id))?.name).toBe('after-rename');
    expect(await store().update('rol_unknown', { name: 'x' })).toBe(false);
    const other = await createTenant(ctx.database, 'rename-other');
    expect(await rolesStore(ctx.database.db, other.id, clock).update(role.id, { name: 'stolen' })).toBe(false);
    expect((await store().findById(role.id))?.name).toBe('after-rename');
  });

  it('removes permissions, ignoring absent ones, and removes none when an API is unknown', async () => {
    const role = await store().insert({ name: 'remove-perms' });
    expect(await store().addPermissions(role.id, [perm(ORDERS, 'read'), perm(ORDERS, 'write'), perm(BILLING, 'read')])).toBe(true);
    expect(await store().removePermissions(role.id, [perm(ORDERS, 'write'), perm(ORDERS, 'delete')])).toBe(true);
    expect(await store().rolePermissions(role.id)).toEqual([perm(BILLING, 'read'), perm(ORDERS, 'read')]);
    expect(await store().removePermissions(role.id, [perm(ORDERS, 'read'), perm('https://unknown.example/', 'read')])).toBe(false);
    expect(await store().rolePermissions(role.id)).toEqual([perm(BILLING, 'read'), perm(ORDERS, 'read')]);
    expect(await store().removePermissions('rol_unknown', [perm(ORDERS, 'read')])).toBe(false);
    const other = await createTenant(ctx.database, 'remove-other');
    expect(await rolesStore(ctx.database.db, other.id, clock).removePermissions(role.id, [perm(ORDERS, 'read')])).toBe(false);
    expect(await store().rolePermissions(role.id)).toEqual([perm(BILLING, 'read'), perm(ORDERS, 'read')]);
  });

  it('assigns a role to several users idempotently, or to none when one user or the role is unknown', async () => {
    const [u1, u2, u3] = [await newUser(), await newUser(), await newUser()];
    const role = await store().insert({ name: 'assign-users' });
    expect(await store().assignUsers(role.id, [u1, u2, u1])).toBe(true);
    expect(await store().assignUsers(role.id, [u2])).toBe(true);
    expect((await store().userRoles(u1)).map((r) => r.id)).toEqual([role.id]);
    expect((await store().userRoles(u2)).map((r) => r.id)).toEqual([role.id]);

    expect(await store().assignUsers(role.id, [u3, 'auth0|unknown'])).toBe(false);
    expect(await store().userRoles(u3)).toEqual([]);
    expect(await store().assignUsers('rol_unknown', [u3])).toBe(false);
    expect(await store().userRoles(u3)).toEqual([]);
    // Another tenant's role cannot be given to this tenant's users, nor this role to theirs.
    const other = await createTenant(ctx.database, 'assign-other');
    expect(await rolesStore(ctx.database.db, other.id, clock).assignUsers(role.id, [u3])).toBe(false);
    expect(await store().userRoles(u3)).toEqual([]);
  });

  it('pages the users holding a role by user id, with the total', async () => {
    const role = await store().insert({ name: 'members-role' });
    const bystanderRole = await store().insert({ name: 'bystander-role' });
    const holders = [await newUser(), await newUser(), await newUser()];
    const bystander = await newUser();
    expect(await store().assignUsers(role.id, holders)).toBe(true);
    expect(await store().assignUsers(bystanderRole.id, [bystander])).toBe(true);
    const sorted = [...holders].sort();

    const first = await store().usersOf(role.id, { offset: 0, limit: 2 });
    expect(first.total).toBe(3);
    expect(first.users.map((u) => u.user_id)).toEqual(sorted.slice(0, 2));
    const member = first.users[0];
    // The profile fields Auth0's RoleUser shows (name defaults to the email at signup).
    expect(member).toEqual({ user_id: sorted[0], email: expect.stringMatching(/^user\d+@example\.com$/), name: member?.email, picture: null });
    const second = await store().usersOf(role.id, { offset: 2, limit: 2 });
    expect(second).toEqual({ users: [expect.objectContaining({ user_id: sorted[2] })], total: 3 });
    expect(await store().usersOf('rol_unknown', { offset: 0, limit: 10 })).toEqual({ users: [], total: 0 });
    const other = await createTenant(ctx.database, 'members-other');
    expect(await rolesStore(ctx.database.db, other.id, clock).usersOf(role.id, { offset: 0, limit: 10 })).toEqual({ users: [], total: 0 });
  });

  it('adds permissions idempotently and lists them by API then name', async () => {
    const role = await store().insert({ name: 'perm-role' });
    expect(await store().addPermissions(role.id, [perm(ORDERS, 'write'), perm(BILLING, 'read'), perm(ORDERS, 'read')])).toBe(true);
    expect(await store().addPermissions(role.id, [perm(ORDERS, 'read')])).toBe(true);
    expect(await store().rolePermissions(role.id)).toEqual([perm(BILLING, 'read'), perm(ORDERS, 'read'), perm(ORDERS, 'write')]);
    expect(await store().addPermissions(role.id, [])).toBe(true);
    expect(await store().rolePermissions('rol_unknown')).toEqual([]);
  });

  it('adds no permission at all when one names an unknown API', async () => {
    const role = await store().insert({ name: 'partial-role' });
    expect(await store().addPermissions(role.id, [perm(ORDERS, 'read'), perm('https://unknown.example/', 'read')])).toBe(false);
    expect(await store().rolePermissions(role.id)).toEqual([]);
  });

  it('refuses permissions for an unknown role', async () => {
    expect(await store().addPermissions('rol_unknown', [perm(ORDERS, 'read')])).toBe(false);
    const orphans = await ctx.database.db.selectFrom('role_permissions').select('permission_name').where('role_id', '=', 'rol_unknown').execute();
    expect(orphans).toEqual([]);
  });

  it('assigns roles to a user idempotently, lists them by name, and removes them', async () => {
    const user = await newUser();
    const zeta = await store().insert({ name: 'zeta', description: 'last' });
    const alpha = await store().insert({ name: 'alpha-role' });
    expect(await store().userRoles(user)).toEqual([]);
    expect(await store().assignToUser(user, [zeta.id, alpha.id])).toBe(true);
    expect(await store().assignToUser(user, [zeta.id])).toBe(true);
    expect(await store().userRoles(user)).toEqual([
      { id: alpha.id, name: 'alpha-role', description: null },
      { id: zeta.id, name: 'zeta', description: 'last' },
    ]);

    await store().removeFromUser(user, [zeta.id]);
    expect((await store().userRoles(user)).map((r) => r.id)).toEqual([alpha.id]);
    await store().removeFromUser(user, []);
    expect((await store().userRoles(user)).map((r) => r.id)).toEqual([alpha.id]);
  });

  it('assigns no role at all when one is unknown, or when the user is unknown', async () => {
    const user = await newUser();
    const role = await store().insert({ name: 'assign-refused' });
    expect(await store().assignToUser(user, [role.id, 'rol_unknown'])).toBe(false);
    expect(await store().userRoles(user)).toEqual([]);
    expect(await store().assignToUser('auth0|unknown', [role.id])).toBe(false);
    const orphans = await ctx.database.db.selectFrom('user_roles').select('user_id').where('role_id', '=', role.id).execute();
    expect(orphans).toEqual([]);
  });

  it('refuses direct permissions for an unknown API or an unknown user', async () => {
    const user = await newUser();
    expect(await store().addUserPermissions(user, [perm(ORDERS, 'read'), perm('https://unknown.example/', 'x')])).toBe(false);
    expect(await store().effectivePermissions(user, ORDERS)).toEqual([]);
    expect(await store().addUserPermissions('auth0|unknown', [perm(ORDERS, 'read')])).toBe(false);
  });

  it('lists a user’s direct permissions with API name and scope description, and removes them', async () => {
    const SHIPPING = 'https://shipping.example/api';
    await resourceServersStore(ctx.database.db, tenant.id, clock).insert({ identifier: SHIPPING, name: 'Shipping', scopes: [{ value: 'ship', description: 'Ship parcels' }] });
    const user = await newUser();
    const role = await store().insert({ name: 'direct-only-role' });
    await store().addPermissions(role.id, [perm(BILLING, 'read')]);
    await store().assignToUser(user, [role.id]);
    expect(await store().addUserPermissions(user, [perm(SHIPPING, 'ship'), perm(ORDERS, 'write'), perm(ORDERS, 'read')])).toBe(true);
    // Direct permissions only (the role's billing:read is not listed); a scope without description gives null.
    expect(await store().userPermissions(user)).toEqual([
      { resource_server_identifier: ORDERS, permission_name: 'read', resource_server_name: 'Orders', description: null },
      { resource_server_identifier: ORDERS, permission_name: 'write', resource_server_name: 'Orders', description: null },
      { resource_server_identifier: SHIPPING, permission_name: 'ship', resource_server_name: 'Shipping', description: 'Ship parcels' },
    ]);
    expect(await store().removeUserPermissions(user, [perm(ORDERS, 'write'), perm(ORDERS, 'delete')])).toBe(true);
    expect((await store().userPermissions(user)).map((p) => `${p.resource_server_identifier} ${p.permission_name}`)).toEqual([`${ORDERS} read`, `${SHIPPING} ship`]);
    // One unknown API: nothing removed.
    expect(await store().removeUserPermissions(user, [perm(ORDERS, 'read'), perm('https://unknown.example/', 'x')])).toBe(false);
    expect(await store().userPermissions(user)).toHaveLength(2);
    // Another tenant sees none of them and removes none.
    const foreign = rolesStore(ctx.database.db, (await createTenant(ctx.database, 'perm-foreign')).id, clock);
    expect(await foreign.userPermissions(user)).toEqual([]);
    expect(await store().userPermissions('auth0|unknown')).toEqual([]);
  });

  it('computes effective permissions as the union of direct and role permissions for one API', async () => {
    const user = await newUser();
    const bystander = await newUser();
    const reader = await store().insert({ name: 'eff-reader' });
    const writer = await store().insert({ name: 'eff-writer' });
    expect(await store().addPermissions(reader.id, [perm(ORDERS, 'read'), perm(BILLING, 'read')])).toBe(true);
    expect(await store().addPermissions(writer.id, [perm(ORDERS, 'write'), perm(ORDERS, 'read')])).toBe(true);
    expect(await store().assignToUser(user, [reader.id, writer.id])).toBe(true);
    expect(await store().addUserPermissions(user, [perm(ORDERS, 'delete'), perm(ORDERS, 'read')])).toBe(true);
    expect(await store().addUserPermissions(user, [perm(ORDERS, 'delete')])).toBe(true);

    expect(await store().effectivePermissions(user, ORDERS)).toEqual(['delete', 'read', 'write']);
    expect(await store().effectivePermissions(user, BILLING)).toEqual(['read']);
    expect(await store().effectivePermissions(user, 'https://unknown.example/')).toEqual([]);
    expect(await store().effectivePermissions(bystander, ORDERS)).toEqual([]);

    await store().removeFromUser(user, [writer.id]);
    expect(await store().effectivePermissions(user, ORDERS)).toEqual(['delete', 'read']);
  });

  it('deletes a role once, with its permissions and assignments', async () => {
    const user = await newUser();
    const role = await store().insert({ name: 'doomed-role' });
    expect(await store().addPermissions(role.id, [perm(ORDERS, 'write')])).toBe(true);
    expect(await store().assignToUser(user, [role.id])).toBe(true);
    expect(await store().effectivePermissions(user, ORDERS)).toEqual(['write']);

    expect(await store().delete(role.id)).toBe(true);
    expect(await store().findById(role.id)).toBeUndefined();
    expect(await store().userRoles(user)).toEqual([]);
    expect(await store().effectivePermissions(user, ORDERS)).toEqual([]);
    const db = ctx.database.db;
    expect(await db.selectFrom('role_permissions').select('role_id').where('role_id', '=', role.id).execute()).toEqual([]);
    expect(await db.selectFrom('user_roles').select('role_id').where('role_id', '=', role.id).execute()).toEqual([]);
    expect(await store().delete(role.id)).toBe(false);
  });
});
