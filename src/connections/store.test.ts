import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeEachBackend, migratedDatabase } from '../../test/support/backends.js';
import { testRuntime } from '../../test/support/clock.js';
import { createTenant } from '../../test/support/fixtures.js';
import { clientsStore } from '../clients/store.js';
import { isUniqueViolation } from '../storage/errors.js';
import type { Tenant } from '../tenants/store.js';
import { usersStore } from '../users/store.js';
import { connectionsStore, DEFAULT_DATABASE_CONNECTION } from './store.js';

describeEachBackend('connections store', (backend) => {
  let ctx: Awaited<ReturnType<typeof migratedDatabase>>;
  let tenant: Tenant;
  const clock = testRuntime();
  const store = () => connectionsStore(ctx.database.db, tenant.id, clock);
  const addClient = (clientId: string) =>
    clientsStore(ctx.database.db, tenant.id, clock).insert({ clientId, name: clientId, appType: 'spa', isFirstParty: true, tokenEndpointAuthMethod: 'none', secretSealed: null });

  beforeAll(async () => {
    ctx = await migratedDatabase(backend);
    tenant = await createTenant(ctx.database, 'acme');
  });
  afterAll(async () => ctx?.cleanup());

  it('holds the default database connection created with the tenant, options decoded', async () => {
    const connection = await store().findByName(DEFAULT_DATABASE_CONNECTION);
    expect(connection).toMatchObject({
      name: DEFAULT_DATABASE_CONNECTION,
      strategy: 'auth0',
      options: { password_complexity_options: { min_length: 12 }, brute_force_protection: true, disable_signup: false, requires_username: false },
    });
    expect(connection?.id).toMatch(/^con_[A-Za-z0-9]{16}$/);
  });

  it('round-trips a connection with nested options', async () => {
    const options = { client_id: 'gh-client', scope: ['read:user', 'user:email'], upstream: { enabled: true, retries: 3, fallback: null } };
    const inserted = await store().insert({ name: 'github', strategy: 'github', options });
    const expected = { id: inserted.id, name: 'github', strategy: 'github', options, createdAt: clock.now().toISOString(), updatedAt: clock.now().toISOString() };
    expect(inserted).toEqual(expected);
    expect(await store().findById(inserted.id)).toEqual(expected);
    expect(await store().findByName('github')).toEqual(expected);
  });

  it('defaults options to {}', async () => {
    const inserted = await store().insert({ name: 'no-options', strategy: 'auth0' });
    expect((await store().findById(inserted.id))?.options).toEqual({});
  });

  it('returns undefined for an unknown id or name', async () => {
    expect(await store().findById('con_unknown')).toBeUndefined();
    expect(await store().findByName('no-such-connection')).toBeUndefined();
  });

  it('refuses a duplicate name in the tenant but allows it in another tenant', async () => {
    await store().insert({ name: 'dup', strategy: 'auth0', options: { first: true } });
    const error = await store().insert({ name: 'dup', strategy: 'auth0' }).catch((e: unknown) => e);
    expect(isUniqueViolation(error)).toBe(true);
    expect((await store().findByName('dup'))?.options).toEqual({ first: true });

    const other = await createTenant(ctx.database, 'other-tenant');
    const elsewhere = await connectionsStore(ctx.database.db, other.id, clock).insert({ name: 'dup', strategy: 'auth0' });
    expect(elsewhere.name).toBe('dup');
  });

  it('lists the tenant connections by name', async () => {
    const own = await createTenant(ctx.database, 'listing');
    const listing = connectionsStore(ctx.database.db, own.id, clock);
    await listing.insert({ name: 'charlie', strategy: 'auth0' });
    await listing.insert({ name: 'alpha', strategy: 'auth0' });
    await listing.insert({ name: 'bravo', strategy: 'auth0' });
    const names = (await listing.list()).map((c) => c.name);
    expect(names).toHaveLength(4);
    expect(names).toContain(DEFAULT_DATABASE_CONNECTION);
    // Only lower-case names are compared: the order of mixed case depends on the PostgreSQL collation.
    expect(names.filter((n) => n !== DEFAULT_DATABASE_CONNECTION)).toEqual(['alpha', 'bravo', 'charlie']);
  });

  it('replaces options and bumps updatedAt', async () => {
    const connection = await store().insert({ name: 'options', strategy: 'auth0', options: { a: 1, keep: 'no' } });
    clock.advance(1000);
    expect(await store().updateOptions(connection.id, { b: [true, false] })).toBe(true);
    const found = await store().findById(connection.id);
    expect(found?.options).toEqual({ b: [true, false] });
    expect(found?.createdAt).toBe(connection.createdAt);
    expect(found?.updatedAt).toBe(clock.now().toISOString());
    expect(await store().updateOptions('con_unknown', {})).toBe(false);
  });

  it('enables clients idempotently, lists them sorted, and disables them', async () => {
    const connection = await store().insert({ name: 'enablement', strategy: 'auth0' });
    await addClient('en-b');
    await addClient('en-a');
    expect(await store().enabledClients(connection.id)).toEqual([]);
    expect(await store().enableClient(connection.id, 'en-b')).toBe(true);
    expect(await store().enableClient(connection.id, 'en-a')).toBe(true);
    expect(await store().enableClient(connection.id, 'en-b')).toBe(true);
    expect(await store().enabledClients(connection.id)).toEqual(['en-a', 'en-b']);

    await store().disableClient(connection.id, 'en-b');
    expect(await store().enabledClients(connection.id)).toEqual(['en-a']);
    await expect(store().disableClient(connection.id, 'en-b')).resolves.toBeUndefined();
  });

  it('refuses to enable an unknown client or on an unknown connection', async () => {
    const connection = await store().insert({ name: 'refusals', strategy: 'auth0' });
    await addClient('ref-client');
    expect(await store().enableClient(connection.id, 'no-such-client')).toBe(false);
    expect(await store().enableClient('con_unknown', 'ref-client')).toBe(false);
    expect(await store().enabledClients(connection.id)).toEqual([]);
    expect(await store().enabledClients('con_unknown')).toEqual([]);
  });

  it('replaces the enabled clients as a set, all or nothing', async () => {
    const connection = await store().insert({ name: 'replacing', strategy: 'auth0' });
    await addClient('rep-a');
    await addClient('rep-b');
    await addClient('rep-c');
    expect(await store().replaceEnabledClients(connection.id, ['rep-b', 'rep-a', 'rep-b'])).toEqual({ ok: true });
    expect(await store().enabledClients(connection.id)).toEqual(['rep-a', 'rep-b']);
    expect(await store().replaceEnabledClients(connection.id, ['rep-c'])).toEqual({ ok: true });
    expect(await store().enabledClients(connection.id)).toEqual(['rep-c']);

    // An unknown client (or another tenant's) changes nothing.
    const other = await createTenant(ctx.database, 'replacing-other');
    await clientsStore(ctx.database.db, other.id, clock).insert({ clientId: 'rep-foreign', name: 'x', appType: 'spa', isFirstParty: true, tokenEndpointAuthMethod: 'none', secretSealed: null });
    expect(await store().replaceEnabledClients(connection.id, ['rep-a', 'rep-ghost', 'rep-foreign'])).toEqual({ ok: false, missing: ['rep-ghost', 'rep-foreign'] });
    expect(await store().enabledClients(connection.id)).toEqual(['rep-c']);
    expect(await store().replaceEnabledClients('con_unknown', ['rep-a'])).toEqual({ ok: false, missing: 'no_connection' });
    expect(await connectionsStore(ctx.database.db, other.id, clock).replaceEnabledClients(connection.id, [])).toEqual({ ok: false, missing: 'no_connection' });

    expect(await store().replaceEnabledClients(connection.id, [])).toEqual({ ok: true });
    expect(await store().enabledClients(connection.id)).toEqual([]);
  });

  it('deletes a connection once, with its client enablements', async () => {
    const connection = await store().insert({ name: 'doomed', strategy: 'auth0' });
    await addClient('doomed-client');
    expect(await store().enableClient(connection.id, 'doomed-client')).toBe(true);
    expect(await store().delete(connection.id)).toBe(true);
    expect(await store().findById(connection.id)).toBeUndefined();
    const links = await ctx.database.db.selectFrom('connection_clients').select('client_id').where('connection_id', '=', connection.id).execute();
    expect(links).toEqual([]);
    expect(await store().delete(connection.id)).toBe(false);
  });

  it('deleting a connection deletes its users with their identities and credentials (as Auth0)', async () => {
    const connection = await store().insert({ name: 'populated', strategy: 'auth0' });
    const users = usersStore(ctx.database.db, tenant.id, clock);
    const user = await users.insert({ connectionId: connection.id, provider: 'auth0', email: 'gone@example.com', passwordHash: '$argon2id$x' });
    expect(user).toBeDefined();
    expect(await store().delete(connection.id)).toBe(true);
    expect(await users.findById(user!.user_id)).toBeUndefined();
    expect(await users.passwordHash(user!.user_id)).toBeUndefined();
    expect(await users.identities(user!.user_id)).toEqual([]);
  });
});
