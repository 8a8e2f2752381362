import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeEachBackend, migratedDatabase } from '../../test/support/backends.js';
import { testRuntime } from '../../test/support/clock.js';
import { createTenant } from '../../test/support/fixtures.js';
import { resourceServersStore } from '../apis/store.js';
import { connectionsStore, DEFAULT_DATABASE_CONNECTION, type Connection } from '../connections/store.js';
import { rolesStore } from '../roles/store.js';
import { isUniqueViolation } from '../storage/errors.js';
import { writeTransaction, type Executor } from '../storage/transaction.js';
import type { Tenant } from '../tenants/store.js';
import { usersStore, type NewUser, type User } from './store.js';

describeEachBackend('users store', (backend) => {
  let ctx: Awaited<ReturnType<typeof migratedDatabase>>;
  let tenant: Tenant;
  let connection: Connection;
  let social: Connection;
  const clock = testRuntime();
  const store = (db: Executor = ctx.database.db) => usersStore(db, tenant.id, clock);

  /** Inserts through the store and fails the test if the store refused. */
  async function insertUser(input: Partial<NewUser>, db: Executor = ctx.database.db): Promise<User> {
    const user = await store(db).insert({ connectionId: connection.id, provider: 'auth0', ...input });
    if (!user) throw new Error('insert refused');
    return user;
  }

  async function rowCounts(): Promise<{ users: number; identities: number; credentials: number }> {
    const db = ctx.database.db;
    const count = async (table: 'users' | 'user_identities' | 'password_credentials') =>
      Number((await db.selectFrom(table).select((eb) => eb.fn.countAll<number>().as('n')).where('tenant_id', '=', tenant.id).executeTakeFirstOrThrow()).n);
    return { users: await count('users'), identities: await count('user_identities'), credentials: await count('password_credentials') };
  }

  beforeAll(async () => {
    ctx = await migratedDatabase(backend);
    tenant = await createTenant(ctx.database, 'acme');
    const connections = connectionsStore(ctx.database.db, tenant.id, clock);
    const found = await connections.findByName(DEFAULT_DATABASE_CONNECTION);
    if (!found) throw new Error('default connection missing');
    connection = found;
    social = await connections.insert({ name: 'github', strategy: 'github' });
  });
  afterAll(async () => ctx?.cleanup());

  it('round-trips every field, with booleans as booleans and metadata as objects', async () => {
    const inserted = await insertUser({
      email: 'Ada.Lovelace@Example.COM',
      emailVerified: true,
      username: 'Ada',
      phoneNumber: '+15550100',
      name: 'Ada Lovelace',
      givenName: 'Ada',
      familyName: 'Lovelace',
      nickname: 'countess',
      picture: 'https://img.example/ada.png',
      appMetadata: { plan: 'gold', roles: ['admin'], flags: { beta: true } },
      userMetadata: { theme: 'dark', count: 3, nothing: null },
      blocked: true,
      passwordHash: '$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA',
    });
    expect(inserted.user_id).toMatch(/^auth0\|[0-9a-f]{24}$/);
    const expected: User = {
      user_id: inserted.user_id,
      connection_id: connection.id,
      email: 'Ada.Lovelace@Example.COM',
      email_verified: true,
      username: 'Ada',
      phone_number: '+15550100',
      phone_verified: false,
      name: 'Ada Lovelace',
      given_name: 'Ada',
      family_name: 'Lovelace',
      nickname: 'countess',
      picture: 'https://img.example/ada.png',
      app_metadata: { plan: 'gold', roles: ['admin'], flags: { beta: true } },
      user_metadata: { theme: 'dark', count: 3, nothing: null },
      blocked: true,
      created_at: clock.now().toISOString(),
      updated_at: clock.now().toISOString(),
      last_login: null,
      last_ip: null,
      logins_count: 0,
    };
    expect(inserted).toEqual(expected);
    expect(await store().findById(inserted.user_id)).toEqual(expected);
  });

  it('derives name and nickname from the email, else the nickname from the username', async () => {
    const byEmail = await insertUser({ email: 'grace.hopper@example.com' });
    expect(byEmail).toMatchObject({ name: 'grace.hopper@example.com', nickname: 'grace.hopper', email_verified: false, blocked: false, app_metadata: {}, user_metadata: {} });
    const byUsername = await insertUser({ username: 'linus' });
    expect(byUsername).toMatchObject({ email: null, name: null, nickname: 'linus', username: 'linus' });
    const bare = await insertUser({ provider: 'github', connectionId: social.id });
    expect(bare).toMatchObject({ email: null, username: null, name: null, nickname: null, phone_number: null, picture: null });
    expect(bare.user_id).toMatch(/^github\|/);
  });

  it('returns undefined for an unknown user', async () => {
    expect(await store().findById('auth0|unknown')).toBeUndefined();
  });

  it('refuses a connection that is not the tenant’s and writes nothing', async () => {
    const before = await rowCounts();
    expect(await store().insert({ connectionId: 'con_unknown', provider: 'auth0', email: 'nobody@example.com', passwordHash: 'h' })).toBeUndefined();
    expect(await rowCounts()).toEqual(before);
  });

  it('records one identity per user, named after the local id', async () => {
    const user = await insertUser({ email: 'identity@example.com' });
    expect(await store().identities(user.user_id)).toEqual([{ connection_id: connection.id, provider: 'auth0', user_id: user.user_id.slice('auth0|'.length), isSocial: false }]);
    expect(await store().identities('auth0|unknown')).toEqual([]);
  });

  it('reads the identities of several users in one call, with connection names, and none of another tenant', async () => {
    const one = await insertUser({ email: 'identities-one@example.com' });
    const two = await insertUser({ email: 'identities-two@example.com' });
    const byUser = await store().identitiesOf([one.user_id, two.user_id, 'auth0|unknown']);
    expect(byUser.get(one.user_id)).toEqual([{ connection_id: connection.id, connection: DEFAULT_DATABASE_CONNECTION, provider: 'auth0', user_id: one.user_id.slice('auth0|'.length), isSocial: false }]);
    expect(byUser.get(two.user_id)?.map((i) => i.user_id)).toEqual([two.user_id.slice('auth0|'.length)]);
    expect(byUser.get('auth0|unknown')).toEqual([]);
    const foreign = await createTenant(ctx.database, 'identities-foreign');
    expect((await usersStore(ctx.database.db, foreign.id, clock).identitiesOf([one.user_id])).get(one.user_id)).toEqual([]);
    expect((await store().identitiesOf([])).size).toBe(0);
  });

  it('keeps the password hash apart and lets it be replaced', async () => {
    const user = await insertUser({ email: 'password@example.com', passwordHash: 'hash-1' });
    expect(user).not.toHaveProperty('hash');
    expect(await store().passwordHash(user.user_id)).toBe('hash-1');
    expect(await store().setPasswordHash(user.user_id, 'hash-2')).toBe(true);
    expect(await store().passwordHash(user.user_id)).toBe('hash-2');

    const passwordless = await insertUser({ email: 'passwordless@example.com' });
    expect(await store().passwordHash(passwordless.user_id)).toBeUndefined();
    expect(await store().setPasswordHash(passwordless.user_id, 'hash')).toBe(false);
    expect(await store().passwordHash(passwordless.user_id)).toBeUndefined();
  });

  it('adds a password to a user that has none, but never a second one or one for an unknown user', async () => {
    const user = await insertUser({ email: 'imported@example.com' });
    const other = await createTenant(ctx.database, 'imports-elsewhere');
    expect(await usersStore(ctx.database.db, other.id, clock).addPasswordHash(user.user_id, 'foreign')).toBe(false);
    expect(await store().addPasswordHash(user.user_id, 'hash-1')).toBe(true);
    expect(await store().passwordHash(user.user_id)).toBe('hash-1');
    const error = await store().addPasswordHash(user.user_id, 'hash-2').catch((e: unknown) => e);
    expect(isUniqueViolation(error)).toBe(true);
    expect(await store().passwordHash(user.user_id)).toBe('hash-1');
    expect(await store().addPasswordHash('auth0|unknown', 'hash')).toBe(false);
    expect(await store().passwordHash('auth0|unknown')).toBeUndefined();
  });

  it('rejects a duplicate email in a connection, case-insensitively, leaving no orphan rows', async () => {
    await insertUser({ email: 'dup@example.com', passwordHash: 'h' });
    const before = await rowCounts();
    const error = await writeTransaction(ctx.database, (trx) => insertUser({ email: 'DUP@Example.com', passwordHash: 'h' }, trx)).catch((e: unknown) => e);
    expect(isUniqueViolation(error)).toBe(true);
    expect(await rowCounts()).toEqual(before);
  });

  it('rolls back every user of a transaction when a later insert fails', async () => {
    const before = await rowCounts();
    const error = await writeTransaction(ctx.database, async (trx) => {
      await insertUser({ email: 'tx-first@example.com', passwordHash: 'h' }, trx);
      await insertUser({ email: 'tx-second@example.com', passwordHash: 'h' }, trx);
      await insertUser({ email: 'TX-FIRST@example.com', passwordHash: 'h' }, trx);
    }).catch((e: unknown) => e);
    expect(isUniqueViolation(error)).toBe(true);
    expect(await rowCounts()).toEqual(before);
    expect(await store().findByEmail('tx-first@example.com')).toEqual([]);
    expect(await store().findByEmail('tx-second@example.com')).toEqual([]);
  });

  it('rolls back the user row when its identity insert fails', async () => {
    // A fixed id makes the second identity collide with the first
    // (same connection and external id) after its users row was written.
    const fixedIds = testRuntime(clock.now(), (prefix) => `${prefix}000000000000000000000001`);
    await usersStore(ctx.database.db, tenant.id, fixedIds).insert({ connectionId: connection.id, provider: 'auth0', email: 'fixed-1@example.com' });
    const before = await rowCounts();
    const error = await writeTransaction(ctx.database, (trx) =>
      usersStore(trx, tenant.id, fixedIds).insert({ connectionId: connection.id, provider: 'other', email: 'fixed-2@example.com', passwordHash: 'h' }),
    ).catch((e: unknown) => e);
    expect(isUniqueViolation(error)).toBe(true);
    expect(await rowCounts()).toEqual(before);
    expect(await store().findById('other|000000000000000000000001')).toBeUndefined();
  });

  it('rejects a duplicate username in a connection, case-insensitively', async () => {
    await insertUser({ username: 'Turing' });
    const error = await insertUser({ username: 'tURING' }).catch((e: unknown) => e);
    expect(isUniqueViolation(error)).toBe(true);
  });

  it('allows the same email in another connection, and any number of users without email', async () => {
    await insertUser({ email: 'shared@example.com' });
    const other = await insertUser({ email: 'Shared@Example.com', connectionId: social.id, provider: 'github' });
    expect(other.connection_id).toBe(social.id);
    await insertUser({ username: 'no-email-1' });
    await insertUser({ username: 'no-email-2' });
  });

  it('finds users by email case-insensitively across connections, oldest first', async () => {
    const first = await insertUser({ email: 'Multi@Example.com' });
    clock.advance(10);
    const second = await insertUser({ email: 'multi@example.com', connectionId: social.id, provider: 'github' });
    const found = await store().findByEmail('MULTI@EXAMPLE.COM');
    expect(found.map((u) => u.user_id)).toEqual([first.user_id, second.user_id]);
    expect(found[0]?.email).toBe('Multi@Example.com');
    expect(await store().findByEmail('nobody@example.com')).toEqual([]);
  });

  it('finds a user for login by email or username, case-insensitively, within one connection', async () => {
    const user = await insertUser({ email: 'Login@Example.com', username: 'LoginName' });
    expect((await store().findForLogin(connection.id, 'login@example.COM'))?.user_id).toBe(user.user_id);
    expect((await store().findForLogin(connection.id, 'loginname'))?.user_id).toBe(user.user_id);
    expect(await store().findForLogin(social.id, 'login@example.com')).toBeUndefined();
    expect(await store().findForLogin(connection.id, 'someone-else')).toBeUndefined();
  });

  it('lists users by creation time, page by page, and counts them', async () => {
    const own = await createTenant(ctx.database, 'paging');
    const paging = testRuntime('2031-01-01T00:00:00.000Z');
    const users = usersStore(ctx.database.db, own.id, paging);
    const ownConnection = await connectionsStore(ctx.database.db, own.id, paging).findByName(DEFAULT_DATABASE_CONNECTION);
    if (!ownConnection) throw new Error('default connection missing');
    const ids: string[] = [];
    for (const n of [1, 2, 3, 4, 5]) {
      const user = await users.insert({ connectionId: ownConnection.id, provider: 'auth0', email: `page${n}@example.com` });
      ids.push(user?.user_id ?? '');
      paging.advance(1000);
    }
    expect((await users.list({ offset: 0, limit: 10 })).map((u) => u.user_id)).toEqual(ids);
    expect((await users.list({ offset: 0, limit: 2 })).map((u) => u.user_id)).toEqual(ids.slice(0, 2));
    expect((await users.list({ offset: 2, limit: 2 })).map((u) => u.user_id)).toEqual(ids.slice(2, 4));
    expect((await users.list({ offset: 4, limit: 2 })).map((u) => u.user_id)).toEqual(ids.slice(4));
    expect(await users.count()).toBe(5);
  });

  it('updates only the fields given, keeping the lookup columns in step', async () => {
    const user = await insertUser({ email: 'before@example.com', username: 'before', givenName: 'Keep', appMetadata: { old: true } });
    clock.advance(1000);
    const updated = await store().update(user.user_id, {
      email: 'After@Example.com',
      username: 'After',
      emailVerified: true,
      phoneNumber: '+15550199',
      phoneVerified: true,
      name: 'After Name',
      familyName: 'Family',
      nickname: null,
      picture: 'https://img.example/after.png',
      appMetadata: { fresh: [1, 2] },
      userMetadata: { lang: 'fr' },
      blocked: true,
    });
    expect(updated).toEqual({
      ...user,
      email: 'After@Example.com',
      username: 'After',
      email_verified: true,
      phone_number: '+15550199',
      phone_verified: true,
      name: 'After Name',
      given_name: 'Keep',
      family_name: 'Family',
      nickname: null,
      picture: 'https://img.example/after.png',
      app_metadata: { fresh: [1, 2] },
      user_metadata: { lang: 'fr' },
      blocked: true,
      updated_at: clock.now().toISOString(),
    });
    expect((await store().findForLogin(connection.id, 'after@example.com'))?.user_id).toBe(user.user_id);
    expect((await store().findForLogin(connection.id, 'after'))?.user_id).toBe(user.user_id);
    expect(await store().findForLogin(connection.id, 'before@example.com')).toBeUndefined();
    expect(await store().findForLogin(connection.id, 'before')).toBeUndefined();
    expect(await store().findByEmail('before@example.com')).toEqual([]);

    const cleared = await store().update(user.user_id, { email: null, blocked: false });
    expect(cleared).toMatchObject({ email: null, blocked: false, username: 'After' });
    expect(await store().findByEmail('after@example.com')).toEqual([]);
  });

  it('rejects an update to an email another user of the connection has', async () => {
    await insertUser({ email: 'taken@example.com' });
    const user = await insertUser({ email: 'free@example.com' });
    const error = await store().update(user.user_id, { email: 'TAKEN@example.com' }).catch((e: unknown) => e);
    expect(isUniqueViolation(error)).toBe(true);
    expect((await store().findById(user.user_id))?.email).toBe('free@example.com');
  });

  it('returns undefined when updating an unknown user', async () => {
    expect(await store().update('auth0|unknown', { name: 'x' })).toBeUndefined();
  });

  it('counts concurrent logins atomically', async () => {
    const user = await insertUser({ email: 'busy@example.com' });
    clock.advance(1000);
    await Promise.all(Array.from({ length: 20 }, (_, i) => store().recordLogin(user.user_id, `10.0.0.${i}`)));
    const found = await store().findById(user.user_id);
    expect(found?.logins_count).toBe(20);
    expect(found?.last_login).toBe(clock.now().toISOString());
    expect(found?.updated_at).toBe(clock.now().toISOString());
    expect(found?.last_ip).toMatch(/^10\.0\.0\.\d+$/);

    await store().recordLogin(user.user_id, null);
    expect(await store().findById(user.user_id)).toMatchObject({ logins_count: 21, last_ip: null });
  });

  it('deletes a user once, with identities, credentials, roles and permissions', async () => {
    const user = await insertUser({ email: 'doomed@example.com', passwordHash: 'h' });
    const api = await resourceServersStore(ctx.database.db, tenant.id, clock).insert({ identifier: 'https://users-doomed.example/', name: 'Doomed', scopes: [{ value: 'read', description: null }] });
    const roles = rolesStore(ctx.database.db, tenant.id, clock);
    const role = await roles.insert({ name: 'doomed-role' });
    expect(await roles.assignToUser(user.user_id, [role.id])).toBe(true);
    expect(await roles.addUserPermissions(user.user_id, [{ resource_server_identifier: api.identifier, permission_name: 'read' }])).toBe(true);

    expect(await store().delete(user.user_id)).toBe(true);
    expect(await store().findById(user.user_id)).toBeUndefined();
    const db = ctx.database.db;
    for (const table of ['user_identities', 'password_credentials', 'user_roles', 'user_permissions'] as const) {
      const rows = await db.selectFrom(table).select('user_id').where('tenant_id', '=', tenant.id).where('user_id', '=', user.user_id).execute();
      expect(rows, table).toEqual([]);
    }
    expect(await roles.findById(role.id)).toBeDefined();
    expect(await store().delete(user.user_id)).toBe(false);
  });
});
