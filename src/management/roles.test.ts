import { type ManagementClient } from 'auth0';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startListeningTestApp, type TestApp } from '../../test/support/app.js';
import { describeEachBackend } from '../../test/support/backends.js';
import { createTenant } from '../../test/support/fixtures.js';
import { adminSdk, managementFetch, managementToken, sdkFailure, sdkFor } from '../../test/support/management.js';
import { logsStore } from '../logs/store.js';
import { systemRuntime } from '../storage/runtime.js';
import { tenantStores } from '../tenants/tenant-stores.js';

const ORDERS = 'https://orders.example.test/';
const PASSWORD = 'correct horse battery staple';

describeEachBackend('Management API /api/v2/roles with the official auth0 SDK', (backend) => {
  let t: TestApp;
  let issuer: string;
  let tenantId: string;
  let sdk: ManagementClient;
  let token: string;
  let userCount = 0;

  beforeAll(async () => {
    ({ t, issuer, tenantId } = await startListeningTestApp(backend, { TENANT_CACHE_TTL_MS: '200' }));
    ({ sdk, token } = await adminSdk(t, issuer, tenantId));
    await sdk.resourceServers.create({ identifier: ORDERS, name: 'Orders', scopes: [{ value: 'read:orders', description: 'Read orders' }, { value: 'write:orders' }] });
  });
  afterAll(async () => t?.cleanup());

  const api = managementFetch(() => issuer, () => token);
  const failure = sdkFailure;
  const newUser = async () => (await t.services.users.signup({ tenantId, connectionName: 'Username-Password-Authentication', email: `member${++userCount}@example.test`, password: PASSWORD })).user_id;
  const perm = (permission_name: string, resource_server_identifier = ORDERS) => ({ resource_server_identifier, permission_name });

  it('creates, reads, lists, renames and deletes roles', async () => {
    const created = await sdk.roles.create({ name: 'Order reader', description: 'Reads orders' });
    expect(created).toEqual({ id: expect.stringMatching(/^rol_[A-Za-z0-9]{16}$/), name: 'Order reader', description: 'Reads orders' });
    expect(await sdk.roles.get(created.id!)).toEqual(created);
    const bare = await sdk.roles.create({ name: 'Bare role' });
    expect(bare).toEqual({ id: expect.any(String), name: 'Bare role' });

    const filtered = (await (await api('/roles?name_filter=ORDER&include_totals=true')).json()) as { total: number; roles: { id: string }[] };
    expect(filtered).toMatchObject({ start: 0, total: 1, roles: [{ id: created.id }] });
    expect((await sdk.roles.list({ per_page: 100 })).data.map((r) => r.name)).toEqual(expect.arrayContaining(['Bare role', 'Order reader']));

    const renamed = await sdk.roles.update(created.id!, { name: 'Order viewer' });
    expect(renamed).toEqual({ id: created.id, name: 'Order viewer', description: 'Reads orders' });

    const deleted = await api(`/roles/${bare.id}`, { method: 'DELETE' });
    expect(deleted.status).toBe(200);
    const missing = await failure(sdk.roles.get(bare.id!));
    expect(missing.body).toEqual({ statusCode: 404, error: 'Not Found', message: 'The role does not exist', errorCode: 'inexistent_role' });
    expect((await failure(sdk.roles.delete(bare.id!))).statusCode).toBe(404);
    expect((await failure(sdk.roles.update(bare.id!, { name: 'Ghost' }))).statusCode).toBe(404);
  });

  it('refuses a taken role name with 409 on create and on rename', async () => {
    await sdk.roles.create({ name: 'Unique role' });
    const other = await sdk.roles.create({ name: 'Other role' });
    const dup = await api('/roles', { method: 'POST', body: JSON.stringify({ name: 'Unique role' }) });
    expect(dup.status).toBe(409);
    expect(await dup.json()).toEqual({ statusCode: 409, error: 'Conflict', message: 'The role already exists', errorCode: 'role_conflict' });
    const rename = await failure(sdk.roles.update(other.id!, { name: 'Unique role' }));
    expect(rename.statusCode).toBe(409);
    expect((await sdk.roles.get(other.id!)).name).toBe('Other role');
    expect((await api('/roles', { method: 'POST', body: JSON.stringify({ name: 'x', type: 'tenant' }) })).status).toBe(400);
  });

  it("adds, lists and removes a role's permissions; unknown APIs and undefined permissions are 400", async () => {
    const role = await sdk.roles.create({ name: 'Permission holder' });
    await sdk.roles.permissions.add(role.id!, { permissions: [perm('write:orders'), perm('read:orders')] });
    await sdk.roles.permissions.add(role.id!, { permissions: [perm('read:orders')] });
    const listed = await sdk.roles.permissions.list(role.id!);
    expect(listed.data).toEqual([
      { resource_server_identifier: ORDERS, permission_name: 'read:orders', resource_server_name: 'Orders', description: 'Read orders' },
      { resource_server_identifier: ORDERS, permission_name: 'write:orders', resource_server_name: 'Orders' },
    ]);

    const post = async (permissions: unknown[]) => {
      const res = await api(`/roles/${role.id}/permissions`, { method: 'POST', body: JSON.stringify({ permissions }) });
      return { status: res.status, body: await res.json() };
    };
    expect(await post([perm('read:orders', 'https://nowhere.example.test/')])).toEqual({
      status: 400,
      body: { statusCode: 400, error: 'Bad Request', message: 'The resource server "https://nowhere.example.test/" does not exist', errorCode: 'invalid_body' },
    });
    expect(await post([perm('read:orders'), perm('fly:orders')])).toEqual({
      status: 400,
      body: { statusCode: 400, error: 'Bad Request', message: `The permission "fly:orders" is not defined by the resource server "${ORDERS}"`, errorCode: 'invalid_body' },
    });
    expect((await post([])).status).toBe(400);

    await sdk.roles.permissions.delete(role.id!, { permissions: [perm('write:orders')] });
    expect((await sdk.roles.permissions.list(role.id!)).data.map((p) => p.permission_name)).toEqual(['read:orders']);
    const paged = (await (await api(`/roles/${role.id}/permissions?include_totals=true&per_page=1`)).json()) as Record<string, unknown>;
    expect(paged).toMatchObject({ start: 0, limit: 1, length: 1, total: 1 });
    expect((await failure(sdk.roles.permissions.list('rol_unknown'))).statusCode).toBe(404);
  });

  it('assigns users to a role all-or-none and lists them with offset and checkpoint paging', async () => {
    const role = await sdk.roles.create({ name: 'Members' });
    const users = [await newUser(), await newUser(), await newUser()];
    await sdk.roles.users.assign(role.id!, { users: users.slice(0, 2) });
    await sdk.roles.users.assign(role.id!, { users: users.slice(1) });
    const sorted = [...users].sort();

    const viaSdk: string[] = [];
    for await (const user of await sdk.roles.users.list(role.id!, { take: 2 })) viaSdk.push(user.user_id!);
    expect(viaSdk).toEqual(sorted);
    const first = (await (await api(`/roles/${role.id}/users?take=2`)).json()) as { users: { user_id: string; email: string }[]; next: string };
    expect(first.users[0]).toEqual({ user_id: sorted[0], email: expect.stringMatching(/^member\d+@example\.test$/), name: first.users[0]!.email });
    const last = (await (await api(`/roles/${role.id}/users?take=2&from=${first.next}`)).json()) as Record<string, unknown>;
    expect(last).toEqual({ users: [expect.objectContaining({ user_id: sorted[2] })] });
    const offset = (await (await api(`/roles/${role.id}/users?per_page=2&page=1&include_totals=true`)).json()) as Record<string, unknown>;
    expect(offset).toMatchObject({ start: 2, limit: 2, length: 1, total: 3 });

    const stranger = await newUser();
    const refused = await api(`/roles/${role.id}/users`, { method: 'POST', body: JSON.stringify({ users: [stranger, 'auth0|nobody'] }) });
    expect(refused.status).toBe(404);
    expect(await refused.json()).toEqual({ statusCode: 404, error: 'Not Found', message: 'One or more of the users do not exist', errorCode: 'inexistent_user' });
    expect(await tenantStores(t.database.db, tenantId, systemRuntime).roles.userRoles(stranger)).toEqual([]);
    expect((await failure(sdk.roles.users.assign('rol_unknown', { users: [stranger] }))).body).toMatchObject({ statusCode: 404, errorCode: 'inexistent_role' });
    expect((await failure(sdk.roles.users.list('rol_unknown'))).statusCode).toBe(404);
  });

  it("needs read:role_members, or read:users with read:roles, to list a role's users", async () => {
    const role = await sdk.roles.create({ name: 'Scoped members' });
    const reader = await sdk.clients.create({ name: 'Role reader', app_type: 'non_interactive' });
    const credentials = { clientId: reader.client_id!, clientSecret: reader.client_secret! };
    await sdk.clientGrants.create({ client_id: reader.client_id!, audience: `${issuer}api/v2/`, scope: ['read:roles', 'read:users', 'read:role_members'] });
    const tokenWith = (scope: string) => managementToken(issuer, credentials, scope);

    const rolesOnly = await api(`/roles/${role.id}/users`, { token: await tokenWith('read:roles') });
    expect(rolesOnly.status).toBe(403);
    expect(await rolesOnly.json()).toMatchObject({ statusCode: 403, errorCode: 'insufficient_scope' });
    expect((await api(`/roles/${role.id}/users`, { token: await tokenWith('read:roles read:users') })).status).toBe(200);
    expect((await sdkFor(issuer, await tokenWith('read:role_members')).roles.users.list(role.id!)).data).toEqual([]);
    const cannotAssign = await failure(sdkFor(issuer, await tokenWith('read:role_members')).roles.users.assign(role.id!, { users: ['auth0|x'] }));
    expect(cannotAssign.statusCode).toBe(403);
  });

  it("answers 404 for another tenant's role on every route", async () => {
    const other = await createTenant(t.database, 'roles-other');
    const theirs = await tenantStores(t.database.db, other.id, systemRuntime).roles.insert({ name: 'Theirs' });
    const user = await newUser();
    const routes: [string, string, unknown?][] = [
      ['GET', `/roles/${theirs.id}`],
      ['PATCH', `/roles/${theirs.id}`, { name: 'Stolen' }],
      ['DELETE', `/roles/${theirs.id}`],
      ['GET', `/roles/${theirs.id}/permissions`],
      ['POST', `/roles/${theirs.id}/permissions`, { permissions: [perm('read:orders')] }],
      ['DELETE', `/roles/${theirs.id}/permissions`, { permissions: [perm('read:orders')] }],
      ['GET', `/roles/${theirs.id}/users`],
      ['POST', `/roles/${theirs.id}/users`, { users: [user] }],
    ];
    for (const [method, path, body] of routes) {
      const res = await api(path, { method, ...(body ? { body: JSON.stringify(body) } : {}) });
      expect([method, path, res.status]).toEqual([method, path, 404]);
    }
    expect((await tenantStores(t.database.db, other.id, systemRuntime).roles.findById(theirs.id))?.name).toBe('Theirs');
    expect(await tenantStores(t.database.db, tenantId, systemRuntime).roles.userRoles(user)).toEqual([]);
  });

  it('audits role changes with Auth0-style descriptions', async () => {
    const member = await newUser();
    const logs = logsStore(t.database.db, tenantId, systemRuntime);
    const before = (await logs.list({ offset: 0, limit: 1000 })).length;
    const role = await sdk.roles.create({ name: 'Audited role' });
    await sdk.roles.permissions.add(role.id!, { permissions: [perm('read:orders')] });
    await sdk.roles.permissions.delete(role.id!, { permissions: [perm('read:orders')] });
    await sdk.roles.users.assign(role.id!, { users: [member] });
    await sdk.roles.delete(role.id!);
    const all = await logs.list({ offset: 0, limit: 1000 });
    const events = all.slice(0, all.length - before).reverse();
    expect(events.map((e) => [e.type, e.description])).toEqual([
      ['sapi', 'Create role'],
      ['sapi', 'Add permissions to role'],
      ['sapi', 'Remove permissions from role'],
      ['sapi', 'Assign users to role'],
      ['sapi', 'Delete role'],
    ]);
  });
});
