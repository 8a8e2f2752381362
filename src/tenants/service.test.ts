import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeEachBackend, migratedDatabase } from '../../test/support/backends.js';
import { testConfig } from '../../test/support/config.js';
import { SecretBox } from '../crypto/secret-box.js';
import { keysService } from '../keys/service.js';
import { MANAGEMENT_SCOPES } from '../management/scopes.js';
import { systemRuntime } from '../storage/runtime.js';
import { TenantInputError } from './domain.js';
import { tenantsService } from './service.js';
import { tenantsStore } from './store.js';
import { tenantStores } from './tenant-stores.js';

describeEachBackend('tenants', (backend) => {
  let ctx: Awaited<ReturnType<typeof migratedDatabase>>;
  let service: ReturnType<typeof tenantsService>;

  beforeAll(async () => {
    ctx = await migratedDatabase(backend);
    const box = new SecretBox(randomBytes(32));
    service = tenantsService(testConfig({ PUBLIC_URL: 'https://login.example.com' }), ctx.database, keysService(ctx.database, box, systemRuntime), systemRuntime);
  });
  afterAll(async () => ctx?.cleanup());

  it('creates the default tenant once, on PUBLIC_URL\'s host, even when nodes race', async () => {
    const results = await Promise.all([service.ensureDefault(), service.ensureDefault(), service.ensureDefault()]);
    expect(results.filter((r) => r.created)).toHaveLength(1);
    expect(new Set(results.map((r) => r.tenant.id)).size).toBe(1);
    const tenant = results[0]!.tenant;
    expect(tenant).toMatchObject({ name: 'default', isDefault: true });
    expect(await service.issuerOf(tenant)).toBe('https://login.example.com/');
    expect(await service.primaryDomain(tenant.id)).toBe('login.example.com');
  });

  it('creates a tenant with domains, keys, the default connection and the Management API', async () => {
    const tenant = await service.create({ name: 'acme', domains: ['Login.ACME.test', 'auth.acme.test:8443'], friendlyName: 'Acme Inc' });
    expect(tenant.settings).toMatchObject({ friendly_name: 'Acme Inc', session_lifetime: 168, idle_session_lifetime: 72 });
    const domains = (await service.listDomains()).filter((d) => d.tenantId === tenant.id);
    expect(domains).toEqual([
      { domain: 'auth.acme.test:8443', tenantId: tenant.id, isPrimary: false },
      { domain: 'login.acme.test', tenantId: tenant.id, isPrimary: true },
    ]);
    expect(await service.issuerOf(tenant)).toBe('https://login.acme.test/');

    const stores = tenantStores(ctx.database.db, tenant.id, systemRuntime);
    const keys = await stores.signingKeys.list();
    expect(keys.map((k) => k.state).sort()).toEqual(['current', 'next']);
    expect(keys.every((k) => k.alg === 'RS256')).toBe(true);
    const connection = await stores.connections.findByName('Username-Password-Authentication');
    expect(connection).toMatchObject({ strategy: 'auth0' });
    const [api] = await stores.resourceServers.list();
    expect(api).toMatchObject({ identifier: 'https://login.acme.test/api/v2/', isSystem: true });
    expect(api!.scopes.map((s) => s.value).sort()).toEqual([...MANAGEMENT_SCOPES].sort());
  });

  it('finds tenants by name and by domain', async () => {
    const store = tenantsStore(ctx.database.db, systemRuntime);
    expect((await store.findByDomain('login.acme.test'))?.name).toBe('acme');
    expect((await store.findByName('acme'))?.name).toBe('acme');
    expect(await store.findByDomain('nobody.test')).toBeUndefined();
    expect(await store.count()).toBe(2);
  });

  it.each([
    [{ name: 'Bad Name', domains: ['x.test'] }, /not a valid tenant name/],
    [{ name: 'x', domains: ['x.test'] }, /not a valid tenant name/],
    [{ name: 'okname', domains: ['https://x.test'] }, /not a valid domain/],
    [{ name: 'okname', domains: ['x.test/path'] }, /not a valid domain/],
    [{ name: 'okname', domains: ['*.x.test'] }, /not a valid domain/],
    [{ name: 'okname', domains: ['x.test:99999'] }, /not a valid domain/],
    [{ name: 'okname', domains: ['-x.test'] }, /not a valid domain/],
    [{ name: 'okname', domains: [] }, /at least one domain/],
    [{ name: 'acme', domains: ['new.test'] }, /already exists/],
    [{ name: 'okname', domains: ['LOGIN.acme.test'] }, /already belongs to another tenant/],
  ])('refuses %j and writes nothing', async (input, message) => {
    const before = await service.list();
    const error = await service.create(input).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TenantInputError);
    expect((error as Error).message).toMatch(message);
    expect(await service.list()).toEqual(before);
  });

  it('resolves a tenant by name, or the default tenant without one', async () => {
    expect((await service.resolve(undefined)).name).toBe('default');
    expect((await service.resolve('acme')).name).toBe('acme');
    await expect(service.resolve('ghost')).rejects.toThrow('tenant "ghost" does not exist');
  });

  it('keeps settings updates per tenant', async () => {
    const store = tenantsStore(ctx.database.db, systemRuntime);
    const acme = (await store.findByName('acme'))!;
    await store.updateSettings(acme.id, { ...acme.settings, support_email: 'help@acme.test' });
    expect((await store.findByName('acme'))!.settings.support_email).toBe('help@acme.test');
    expect((await store.findDefault())!.settings.support_email).toBeUndefined();
  });

  it('syncIssuers moves the default tenant and its Management API audience to a new PUBLIC_URL', async () => {
    const box = new SecretBox(randomBytes(32));
    const moved = tenantsService(testConfig({ PUBLIC_URL: 'https://id.example.org:8443' }), ctx.database, keysService(ctx.database, box, systemRuntime), systemRuntime);
    const defaultTenant = await moved.resolve(undefined);
    const stores = tenantStores(ctx.database.db, defaultTenant.id, systemRuntime);
    const api = (await stores.resourceServers.list()).find((rs) => rs.isSystem)!;
    const client = await stores.clients.insert({ clientId: 'c-sync', name: 'm2m', appType: 'non_interactive', isFirstParty: true, tokenEndpointAuthMethod: 'client_secret_post', secretSealed: null });
    await stores.clientGrants.insert({ clientId: client.clientId, audience: api.identifier, scope: ['read:users'] });

    // acme follows too: its domain has no port, so it takes PUBLIC_URL's.
    expect(await moved.syncIssuers()).toEqual(['default', 'acme']);
    expect(await moved.primaryDomain(defaultTenant.id)).toBe('id.example.org:8443');
    expect(await moved.issuerOf(defaultTenant)).toBe('https://id.example.org:8443/');
    expect((await stores.resourceServers.list()).find((rs) => rs.isSystem)!.identifier).toBe('https://id.example.org:8443/api/v2/');
    expect((await stores.clientGrants.find('c-sync', 'https://id.example.org:8443/api/v2/'))?.scope).toEqual(['read:users']);
    // Other tenants keep their own domains; a second run changes nothing.
    const acme = await moved.resolve('acme');
    expect(await moved.primaryDomain(acme.id)).toBe('login.acme.test');
    const acmeApi = (await tenantStores(ctx.database.db, acme.id, systemRuntime).resourceServers.list()).find((rs) => rs.isSystem)!;
    expect(acmeApi.identifier).toBe('https://login.acme.test:8443/api/v2/');
    expect(await moved.syncIssuers()).toEqual([]);
  });

  it('syncIssuers refuses a PUBLIC_URL whose host belongs to another tenant', async () => {
    const box = new SecretBox(randomBytes(32));
    const clash = tenantsService(testConfig({ PUBLIC_URL: 'https://login.acme.test' }), ctx.database, keysService(ctx.database, box, systemRuntime), systemRuntime);
    await expect(clash.syncIssuers()).rejects.toThrow('PUBLIC_URL\'s host "login.acme.test" belongs to tenant "acme", not to the default tenant');
  });
});
