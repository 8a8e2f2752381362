import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ResourceServer } from '../src/apis/store.js';
import { DEFAULT_DATABASE_CONNECTION, type Connection } from '../src/connections/store.js';
import { LogCheckpointError } from '../src/logs/store.js';
import type { Role } from '../src/roles/store.js';
import { tenantStores, type TenantStores } from '../src/tenants/tenant-stores.js';
import type { User } from '../src/users/store.js';
import { describeEachBackend, migratedDatabase } from './support/backends.js';
import { testRuntime } from './support/clock.js';
import { createTenant } from './support/fixtures.js';

/**
 * Rows written through tenant A's stores must be invisible to tenant B's
 * stores and untouchable through them, and B may not reference A's rows.
 * Every B-side call below names A's row by its real id; A's row is then read
 * back through A's stores to show nothing changed.
 */
describeEachBackend('tenant isolation', (backend) => {
  let ctx: Awaited<ReturnType<typeof migratedDatabase>>;
  const clock = testRuntime();
  let A: TenantStores;
  let B: TenantStores;

  // A's rows.
  let aConnection: Connection;
  let aApi: ResourceServer;
  let aUser: User;
  let aRole: Role;
  let aGrantId: string;
  let aLogId: string;
  let aPreviousKid: string;
  const A_CLIENT = 'tenant-a-client';
  const A_SYSTEM_CLIENT = 'tenant-a-system-client';
  const A_EMAIL = 'shared@example.com';

  // B's own rows, used to attempt cross-tenant references.
  let bConnection: Connection;
  let bApi: ResourceServer;
  let bUser: User;
  let bRole: Role;
  const B_CLIENT = 'tenant-b-client';

  const client = (clientId: string, isSystem = false) => ({
    clientId,
    name: isSystem ? 'System Client' : `client ${clientId}`,
    appType: 'regular_web',
    isFirstParty: true,
    isSystem,
    tokenEndpointAuthMethod: 'client_secret_basic',
    secretSealed: `sealed-${clientId}`,
    config: { callbacks: ['https://a.example/cb'] },
  });

  beforeAll(async () => {
    ctx = await migratedDatabase(backend);
    const tenantA = await createTenant(ctx.database, 'tenant-a');
    const tenantB = await createTenant(ctx.database, 'tenant-b');
    A = tenantStores(ctx.database.db, tenantA.id, clock);
    B = tenantStores(ctx.database.db, tenantB.id, clock);

    // Tenant A.
    aPreviousKid = 'a-previous-kid';
    await A.signingKeys.insert({ kid: aPreviousKid, alg: 'ES256', state: 'previous', publicJwk: { kty: 'EC', crv: 'P-256', x: 'x', y: 'y' }, privateJwe: 'sealed' });
    await A.clients.insert(client(A_CLIENT));
    await A.clients.insert(client(A_SYSTEM_CLIENT, true));
    aApi = await A.resourceServers.insert({ identifier: 'https://a.example/api', name: 'A API', scopes: [{ value: 'read', description: 'Read' }] });
    const grant = await A.clientGrants.insert({ clientId: A_CLIENT, audience: aApi.identifier, scope: ['read'] });
    if (!grant) throw new Error('A grant not inserted');
    aGrantId = grant.id;
    aConnection = await A.connections.insert({ name: 'a-only-connection', strategy: 'auth0', options: { a: true } });
    expect(await A.connections.enableClient(aConnection.id, A_CLIENT)).toBe(true);
    const user = await A.users.insert({ connectionId: aConnection.id, provider: 'auth0', email: A_EMAIL, username: 'a-user', passwordHash: 'a-hash' });
    if (!user) throw new Error('A user not inserted');
    aUser = user;
    aRole = await A.roles.insert({ name: 'a-role', description: 'A role' });
    expect(await A.roles.addPermissions(aRole.id, [{ resource_server_identifier: aApi.identifier, permission_name: 'read' }])).toBe(true);
    expect(await A.roles.assignToUser(aUser.user_id, [aRole.id])).toBe(true);
    expect(await A.roles.addUserPermissions(aUser.user_id, [{ resource_server_identifier: aApi.identifier, permission_name: 'write' }])).toBe(true);
    await A.artifacts.upsert('Session', 'a-session', { uid: 'a-uid', accountId: aUser.user_id }, 3600);
    await A.artifacts.upsert('DeviceCode', 'a-device', { userCode: 'AAAA-AAAA', grantId: 'a-grant' }, 3600);
    await A.artifacts.upsert('AccessToken', 'a-token', { grantId: 'a-grant' }, 3600);
    aLogId = (await A.logs.append({ type: 's', user_id: aUser.user_id, description: 'A login' })).log_id;

    // Tenant B, with rows of its own.
    await B.clients.insert(client(B_CLIENT));
    bApi = await B.resourceServers.insert({ identifier: 'https://b.example/api', name: 'B API', scopes: [{ value: 'read', description: null }] });
    bConnection = await B.connections.insert({ name: 'b-only-connection', strategy: 'auth0' });
    const other = await B.users.insert({ connectionId: bConnection.id, provider: 'auth0', email: 'b@example.com' });
    if (!other) throw new Error('B user not inserted');
    bUser = other;
    bRole = await B.roles.insert({ name: 'b-role' });
    await B.logs.append({ type: 's', description: 'B login' });
  });
  afterAll(async () => ctx?.cleanup());

  it('covers every store of TenantStores', () => {
    // A new store added to tenantStores must get an isolation test here.
    expect(Object.keys(A).sort()).toEqual(['artifacts', 'clientGrants', 'clients', 'connections', 'logs', 'resourceServers', 'roles', 'signingKeys', 'tenantId', 'users']);
  });

  describe('signing keys', () => {
    it('hides A’s keys from B', async () => {
      const aKids = (await A.signingKeys.list()).map((k) => k.kid);
      expect(aKids).toHaveLength(3);
      const bKids = (await B.signingKeys.list()).map((k) => k.kid);
      expect(bKids.filter((kid) => aKids.includes(kid))).toEqual([]);
      expect((await B.signingKeys.listByState(['next', 'current', 'previous'])).map((k) => k.kid).filter((kid) => aKids.includes(kid))).toEqual([]);
      for (const kid of aKids) expect(await B.signingKeys.find(kid)).toBeUndefined();
    });

    it('does not let B revoke or transition A’s keys', async () => {
      const before = await A.signingKeys.list();
      expect(await B.signingKeys.revokePrevious(aPreviousKid)).toBe(false);
      // B rotating its own keys moves none of A's.
      expect(await B.signingKeys.transition('next', 'next')).toBe(1);
      expect(await B.signingKeys.transition('previous', 'revoked')).toBe(0);
      expect(await A.signingKeys.list()).toEqual(before);
      expect((await A.signingKeys.find(aPreviousKid))?.state).toBe('previous');
    });
  });

  describe('clients', () => {
    it('hides A’s clients from B', async () => {
      expect(await B.clients.findById(A_CLIENT)).toBeUndefined();
      expect(await B.clients.findSystemByName('System Client')).toBeUndefined();
      expect((await B.clients.list({ offset: 0, limit: 100 })).map((c) => c.clientId)).toEqual([B_CLIENT]);
      expect(await B.clients.count()).toBe(1);
    });

    it('does not let B change or delete A’s client', async () => {
      const before = await A.clients.findById(A_CLIENT);
      clock.advance(1000);
      expect(await B.clients.setSecret(A_CLIENT, 'stolen')).toBe(false);
      expect(await B.clients.delete(A_CLIENT)).toBe(false);
      expect(await A.clients.findById(A_CLIENT)).toEqual(before);
    });
  });

  describe('resource servers', () => {
    it('hides A’s APIs from B', async () => {
      const aIds = (await A.resourceServers.list()).map((api) => api.id);
      expect(aIds).toContain(aApi.id);
      expect((await B.resourceServers.list()).filter((api) => aIds.includes(api.id))).toEqual([]);
      expect(await B.resourceServers.findById(aApi.id)).toBeUndefined();
      expect(await B.resourceServers.findByIdentifier(aApi.identifier)).toBeUndefined();
    });

    it('does not let B change A’s scopes or delete A’s API', async () => {
      clock.advance(1000);
      await B.resourceServers.setScopes(aApi.id, [{ value: 'pwned', description: null }]);
      expect(await B.resourceServers.delete(aApi.id)).toBe(false);
      expect(await A.resourceServers.findById(aApi.id)).toEqual(aApi);
    });
  });

  describe('client grants', () => {
    it('hides A’s grants from B', async () => {
      expect(await B.clientGrants.find(A_CLIENT, aApi.identifier)).toBeUndefined();
      expect(await B.clientGrants.listByClient(A_CLIENT)).toEqual([]);
    });

    it('does not let B change or delete A’s grant', async () => {
      const before = await A.clientGrants.find(A_CLIENT, aApi.identifier);
      clock.advance(1000);
      expect(await B.clientGrants.updateScope(aGrantId, ['read', 'write'])).toBe(false);
      expect(await B.clientGrants.delete(aGrantId)).toBe(false);
      expect(await A.clientGrants.find(A_CLIENT, aApi.identifier)).toEqual(before);
    });

    it('refuses a B grant naming A’s client or A’s API', async () => {
      expect(await B.clientGrants.insert({ clientId: A_CLIENT, audience: bApi.identifier, scope: ['read'] })).toBeUndefined();
      expect(await B.clientGrants.insert({ clientId: B_CLIENT, audience: aApi.identifier, scope: ['read'] })).toBeUndefined();
      expect(await B.clientGrants.listByClient(B_CLIENT)).toEqual([]);
      expect(await A.clientGrants.listByClient(A_CLIENT)).toHaveLength(1);
    });
  });

  describe('connections', () => {
    it('hides A’s connections from B', async () => {
      expect(await B.connections.findById(aConnection.id)).toBeUndefined();
      expect(await B.connections.findByName('a-only-connection')).toBeUndefined();
      const bConnections = await B.connections.list();
      expect(bConnections.map((c) => c.name).sort()).toEqual([DEFAULT_DATABASE_CONNECTION, 'b-only-connection'].sort());
      expect(bConnections.map((c) => c.id)).not.toContain(aConnection.id);
      expect(await B.connections.enabledClients(aConnection.id)).toEqual([]);
    });

    it('keeps same-named connections apart', async () => {
      const aDefault = await A.connections.findByName(DEFAULT_DATABASE_CONNECTION);
      const bDefault = await B.connections.findByName(DEFAULT_DATABASE_CONNECTION);
      expect(aDefault?.id).toBeDefined();
      expect(bDefault?.id).toBeDefined();
      expect(aDefault?.id).not.toBe(bDefault?.id);
    });

    it('does not let B change, disable clients on, or delete A’s connection', async () => {
      clock.advance(1000);
      expect(await B.connections.updateOptions(aConnection.id, { pwned: true })).toBe(false);
      await B.connections.disableClient(aConnection.id, A_CLIENT);
      expect(await B.connections.delete(aConnection.id)).toBe(false);
      expect(await A.connections.findById(aConnection.id)).toEqual(aConnection);
      expect(await A.connections.enabledClients(aConnection.id)).toEqual([A_CLIENT]);
    });

    it('refuses enabling across tenants, either way round', async () => {
      expect(await B.connections.enableClient(bConnection.id, A_CLIENT)).toBe(false);
      expect(await B.connections.enableClient(aConnection.id, B_CLIENT)).toBe(false);
      expect(await B.connections.enabledClients(bConnection.id)).toEqual([]);
      expect(await A.connections.enabledClients(aConnection.id)).toEqual([A_CLIENT]);
    });
  });

  describe('users', () => {
    it('hides A’s users from B', async () => {
      expect(await B.users.findById(aUser.user_id)).toBeUndefined();
      expect(await B.users.findByEmail(A_EMAIL)).toEqual([]);
      expect(await B.users.findForLogin(aConnection.id, A_EMAIL)).toBeUndefined();
      expect(await B.users.findForLogin(aConnection.id, 'a-user')).toBeUndefined();
      expect(await B.users.identities(aUser.user_id)).toEqual([]);
      expect(await B.users.passwordHash(aUser.user_id)).toBeUndefined();
      expect((await B.users.list({ offset: 0, limit: 100 })).map((u) => u.user_id)).toEqual([bUser.user_id]);
      expect(await B.users.count()).toBe(1);
    });

    it('does not let B update, log in, re-password or delete A’s user', async () => {
      const before = await A.users.findById(aUser.user_id);
      clock.advance(1000);
      expect(await B.users.update(aUser.user_id, { email: 'pwned@example.com', blocked: true, appMetadata: { pwned: true } })).toBeUndefined();
      await B.users.recordLogin(aUser.user_id, '198.51.100.1');
      expect(await B.users.setPasswordHash(aUser.user_id, 'pwned')).toBe(false);
      expect(await B.users.delete(aUser.user_id)).toBe(false);
      expect(await A.users.findById(aUser.user_id)).toEqual(before);
      expect(await A.users.passwordHash(aUser.user_id)).toBe('a-hash');
      expect(await A.users.identities(aUser.user_id)).toHaveLength(1);
    });

    it('refuses a B user in A’s connection and writes nothing', async () => {
      expect(await B.users.insert({ connectionId: aConnection.id, provider: 'auth0', email: 'intruder@example.com', passwordHash: 'h' })).toBeUndefined();
      expect(await B.users.findByEmail('intruder@example.com')).toEqual([]);
      expect(await A.users.findForLogin(aConnection.id, 'intruder@example.com')).toBeUndefined();
      expect(await B.users.count()).toBe(1);
    });

    it('lets B have a user with A’s email in its own connection', async () => {
      const twin = await B.users.insert({ connectionId: bConnection.id, provider: 'auth0', email: A_EMAIL.toUpperCase() });
      expect(twin?.email).toBe(A_EMAIL.toUpperCase());
      expect((await A.users.findByEmail(A_EMAIL)).map((u) => u.user_id)).toEqual([aUser.user_id]);
      expect(await B.users.delete(twin?.user_id ?? '')).toBe(true);
    });
  });

  describe('roles', () => {
    it('hides A’s roles and their permissions from B', async () => {
      expect(await B.roles.findById(aRole.id)).toBeUndefined();
      expect((await B.roles.list()).map((r) => r.id)).toEqual([bRole.id]);
      expect(await B.roles.rolePermissions(aRole.id)).toEqual([]);
      expect(await B.roles.userRoles(aUser.user_id)).toEqual([]);
      expect(await B.roles.effectivePermissions(aUser.user_id, aApi.identifier)).toEqual([]);
    });

    it('does not let B change, unassign or delete A’s role', async () => {
      expect(await B.roles.addPermissions(aRole.id, [{ resource_server_identifier: bApi.identifier, permission_name: 'read' }])).toBe(false);
      await B.roles.removeFromUser(aUser.user_id, [aRole.id]);
      expect(await B.roles.delete(aRole.id)).toBe(false);
      expect(await A.roles.findById(aRole.id)).toEqual(aRole);
      expect(await A.roles.rolePermissions(aRole.id)).toEqual([{ resource_server_identifier: aApi.identifier, permission_name: 'read' }]);
      expect(await A.roles.userRoles(aUser.user_id)).toEqual([aRole]);
      expect(await A.roles.effectivePermissions(aUser.user_id, aApi.identifier)).toEqual(['read', 'write']);
    });

    it('refuses references to A’s API, role or user from B', async () => {
      const onAApi = [{ resource_server_identifier: aApi.identifier, permission_name: 'read' }];
      expect(await B.roles.addPermissions(bRole.id, onAApi)).toBe(false);
      expect(await B.roles.addUserPermissions(bUser.user_id, onAApi)).toBe(false);
      expect(await B.roles.assignToUser(bUser.user_id, [aRole.id])).toBe(false);
      expect(await B.roles.assignToUser(aUser.user_id, [bRole.id])).toBe(false);
      expect(await B.roles.addUserPermissions(aUser.user_id, [{ resource_server_identifier: bApi.identifier, permission_name: 'read' }])).toBe(false);

      expect(await B.roles.rolePermissions(bRole.id)).toEqual([]);
      expect(await B.roles.userRoles(bUser.user_id)).toEqual([]);
      expect(await B.roles.effectivePermissions(bUser.user_id, aApi.identifier)).toEqual([]);
      expect(await A.roles.userRoles(aUser.user_id)).toEqual([aRole]);
      expect(await A.roles.effectivePermissions(aUser.user_id, bApi.identifier)).toEqual([]);
    });
  });

  describe('artifacts', () => {
    it('hides A’s artifacts from B', async () => {
      expect(await B.artifacts.find('Session', 'a-session')).toBeUndefined();
      expect(await B.artifacts.findByUid('Session', 'a-uid')).toBeUndefined();
      expect(await B.artifacts.findByUserCode('DeviceCode', 'AAAA-AAAA')).toBeUndefined();
    });

    it('does not let B consume, destroy or revoke A’s artifacts', async () => {
      expect(await B.artifacts.consume('AccessToken', 'a-token')).toBe(false);
      await B.artifacts.destroy('Session', 'a-session');
      expect(await B.artifacts.revokeByGrantId('a-grant')).toBe(0);
      expect(await A.artifacts.find('AccessToken', 'a-token')).toEqual({ payload: { grantId: 'a-grant' }, consumedAt: undefined });
      expect(await A.artifacts.find('Session', 'a-session')).toBeDefined();
      expect(await A.artifacts.find('DeviceCode', 'a-device')).toBeDefined();
    });

    it('keeps a B artifact with the same kind and id apart from A’s', async () => {
      await B.artifacts.upsert('Session', 'a-session', { uid: 'a-uid', accountId: 'b-account' }, 3600);
      expect((await A.artifacts.find('Session', 'a-session'))?.payload).toEqual({ uid: 'a-uid', accountId: aUser.user_id });
      expect((await B.artifacts.findByUid('Session', 'a-uid'))?.payload.accountId).toBe('b-account');
      expect((await A.artifacts.findByUid('Session', 'a-uid'))?.payload.accountId).toBe(aUser.user_id);
      expect(await B.artifacts.consume('Session', 'a-session')).toBe(true);
      expect((await A.artifacts.find('Session', 'a-session'))?.consumedAt).toBeUndefined();
      await B.artifacts.destroy('Session', 'a-session');
      expect(await A.artifacts.find('Session', 'a-session')).toBeDefined();
    });
  });

  describe('logs', () => {
    it('hides A’s log events from B', async () => {
      expect(await B.logs.get(aLogId)).toBeUndefined();
      expect((await B.logs.list({ offset: 0, limit: 100 })).map((e) => e.description)).toEqual(['B login']);
      expect(await B.logs.listForUser(aUser.user_id, { offset: 0, limit: 100 })).toEqual([]);
      expect((await B.logs.listFrom(undefined, 100)).map((e) => e.description)).toEqual(['B login']);
      // A's event is no checkpoint in B: refused as unknown (never a page of A's events).
      await expect(B.logs.listFrom(aLogId, 100)).rejects.toBeInstanceOf(LogCheckpointError);
      expect((await A.logs.get(aLogId))?.description).toBe('A login');
    });
  });
});
