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
