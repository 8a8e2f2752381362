import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeEachBackend, migratedDatabase } from '../../test/support/backends.js';
import { testRuntime } from '../../test/support/clock.js';
import { createTenant } from '../../test/support/fixtures.js';
import { clientGrantsStore, resourceServersStore } from '../apis/store.js';
import { connectionsStore, DEFAULT_DATABASE_CONNECTION } from '../connections/store.js';
import { isUniqueViolation } from '../storage/errors.js';
import type { Tenant } from '../tenants/store.js';
import { clientsStore, type NewClient } from './store.js';

const machine = (clientId: string, overrides: Partial<NewClient> = {}): NewClient => ({
  clientId,
  name: `client ${clientId}`,
  appType: 'non_interactive',
  isFirstParty: true,
  tokenEndpointAuthMethod: 'client_secret_post',
  secretSealed: `sealed-${clientId}`,
  ...overrides,
});

describeEachBackend('clients store', (backend) => {
  let ctx: Awaited<ReturnType<typeof migratedDatabase>>;
  let tenant: Tenant;
  const clock = testRuntime();
  const store = () => clientsStore(ctx.database.db, tenant.id, clock);

  beforeAll(async () => {
    ctx = await migratedDatabase(backend);
    tenant = await createTenant(ctx.database, 'acme');
  });
  afterAll(async () => ctx?.cleanup());

  it('round-trips every field, with booleans as booleans and config as an object', async () => {
    const config = { callbacks: ['https://app.example/cb'], jwt_configuration: { alg: 'RS256', lifetime_in_seconds: 36000 }, oidc_conformant: true, logo_uri: null };
    const inserted = await store().insert({
      clientId: 'roundtrip',
      name: 'Round Trip',
      appType: 'spa',
      isFirstParty: false,
      isSystem: true,
      tokenEndpointAuthMethod: 'none',
      secretSealed: 'v1.sealed.blob',
      config,
    });
    const found = await store().findById('roundtrip');
    expect(found).toEqual({
      clientId: 'roundtrip',
      name: 'Round Trip',
      appType: 'spa',
      isFirstParty: false,
      isSystem: true,
      tokenEndpointAuthMethod: 'none',
      secretSealed: 'v1.sealed.blob',
      config,
      createdAt: clock.now().toISOString(),
      updatedAt: clock.now().toISOString(),
    });
    expect(found).toEqual(inserted);
    expect(typeof found?.isFirstParty).toBe('boolean');
    expect(typeof found?.isSystem).toBe('boolean');
  });

  it('defaults isSystem to false and config to {}, and keeps null appType and secret', async () => {
    await store().insert({ clientId: 'defaults', name: 'Defaults', appType: null, isFirstParty: true, tokenEndpointAuthMethod: 'none', secretSealed: null });
    const found = await store().findById('defaults');
    expect(found).toMatchObject({ appType: null, isFirstParty: true, isSystem: false, secretSealed: null, config: {} });
  });

  it('returns undefined for an unknown client', async () => {
    expect(await store().findById('no-such-client')).toBeUndefined();
  });

  it('rejects a duplicate client id with a unique violation', async () => {
    await store().insert(machine('dup'));
    const error = await store().insert(machine('dup', { name: 'other' })).catch((e: unknown) => e);
    expect(isUniqueViolation(error)).toBe(true);
    expect((await store().findById('dup'))?.name).toBe('client dup');
  });

  it('finds a system client by name, never a non-system client of the same name', async () => {
    await store().insert(machine('sys-ordinary', { name: 'Admin CLI' }));
    expect(await store().findSystemByName('Admin CLI')).toBeUndefined();
    await store().insert(machine('sys-system', { name: 'Admin CLI', isSystem: true }));
    expect((await store().findSystemByName('Admin CLI'))?.clientId).toBe('sys-system');
  });

  it('lists by creation time then client id, page by page, and counts', async () => {
    const own = await createTenant(ctx.database, 'paging');
    const paging = testRuntime('2031-05-01T00:00:00.000Z');
    const clients = clientsStore(ctx.database.db, own.id, paging);
    // Later clients get lexically smaller ids, so only created_at explains the order.
    for (const id of ['p-5', 'p-4', 'p-3']) {
      await clients.insert(machine(id));
      paging.advance(1000);
    }
    // Two clients created in the same millisecond are ordered by id.
    await clients.insert(machine('p-2'));
    await clients.insert(machine('p-1'));

    const all = await clients.list({ offset: 0, limit: 100 });
    expect(all.map((c) => c.clientId)).toEqual(['p-5', 'p-4', 'p-3', 'p-1', 'p-2']);
    expect((await clients.list({ offset: 0, limit: 2 })).map((c) => c.clientId)).toEqual(['p-5', 'p-4']);
    expect((await clients.list({ offset: 2, limit: 2 })).map((c) => c.clientId)).toEqual(['p-3', 'p-1']);
    expect((await clients.list({ offset: 4, limit: 2 })).map((c) => c.clientId)).toEqual(['p-2']);
    expect(await clients.list({ offset: 5, limit: 2 })).toEqual([]);
    expect(await clients.count()).toBe(5);
  });

  it('replaces the sealed secret and bumps updatedAt only', async () => {
    const created = await store().insert(machine('rotate'));
    clock.advance(5000);
    expect(await store().setSecret('rotate', 'sealed-new')).toBe(true);
    const found = await store().findById('rotate');
    expect(found?.secretSealed).toBe('sealed-new');
    expect(found?.createdAt).toBe(created.createdAt);
    expect(found?.updatedAt).toBe(clock.now().toISOString());
    expect(found?.updatedAt).not.toBe(created.updatedAt);
    expect(await store().setSecret('no-such-client', 'x')).toBe(false);
  });

  it('deletes a client once, taking its grants and connection enablements with it', async () => {
    await store().insert(machine('doomed'));
    const api = await resourceServersStore(ctx.database.db, tenant.id, clock).insert({ identifier: 'https://doomed.example/api', name: 'Doomed API', scopes: [{ value: 'read', description: null }] });
    const grants = clientGrantsStore(ctx.database.db, tenant.id, clock);
    expect(await grants.insert({ clientId: 'doomed', audience: api.identifier, scope: ['read'] })).toBeDefined();
    const connections = connectionsStore(ctx.database.db, tenant.id, clock);
    const connection = await connections.findByName(DEFAULT_DATABASE_CONNECTION);
    if (!connection) throw new Error('default connection missing');
    expect(await connections.enableClient(connection.id, 'doomed')).toBe(true);
    expect(await connections.enabledClients(connection.id)).toContain('doomed');

    expect(await store().delete('doomed')).toBe(true);
    expect(await store().findById('doomed')).toBeUndefined();
    expect(await grants.listByClient('doomed')).toEqual([]);
    expect(await connections.enabledClients(connection.id)).not.toContain('doomed');
    expect(await store().delete('doomed')).toBe(false);
  });
});
