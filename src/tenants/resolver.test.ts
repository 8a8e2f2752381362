import { describe, expect, it } from 'vitest';
import { parseTenantSettings } from './settings.js';
import { TenantResolver, type TenantSnapshot } from './resolver.js';
import type { Tenant } from './store.js';

const tenant = (id: string, isDefault = false): Tenant => ({ id, name: id, isDefault, settings: parseTenantSettings({}), createdAt: '', updatedAt: '' });

function resolverWith(snapshots: TenantSnapshot[], ttlMs = 1000) {
  let now = 0;
  let loads = 0;
  const resolver = new TenantResolver({
    publicHost: 'login.example.com',
    ttlMs,
    now: () => now,
    load: async () => {
      const next = snapshots[Math.min(loads, snapshots.length - 1)]!;
      loads++;
      if (next === FAIL) throw new Error('database down');
      return next;
    },
  });
  return { resolver, advance: (ms: number) => (now += ms), loads: () => loads };
}

const FAIL = { tenants: [], domains: [] } as TenantSnapshot;
const one: TenantSnapshot = { tenants: [tenant('t_default', true)], domains: [{ domain: 'login.example.com', tenantId: 't_default', isPrimary: true }] };
const two: TenantSnapshot = {
  tenants: [tenant('t_default', true), tenant('t_acme')],
  domains: [
    { domain: 'login.example.com', tenantId: 't_default', isPrimary: true },
    { domain: 'auth.acme.test', tenantId: 't_acme', isPrimary: true },
    { domain: 'acme.test:8443', tenantId: 't_acme', isPrimary: false },
  ],
};

describe('TenantResolver', () => {
  it('peek answers synchronously only while the map is fresh (null before the first load and once stale)', async () => {
    const { resolver, advance, loads } = resolverWith([two, one], 1000);
    expect(resolver.peek('auth.acme.test')).toBeNull();
    await resolver.resolve('auth.acme.test');
    expect(resolver.peek('auth.acme.test')?.tenant.id).toBe('t_acme');
    expect(resolver.peek('evil.test')).toBeUndefined();
    advance(1000);
    expect(resolver.peek('auth.acme.test')).toBeNull();
    expect(loads()).toBe(1);
    // The next resolve reloads (now one tenant: any host is the default).
    expect((await resolver.resolve('auth.acme.test'))?.tenant.id).toBe('t_default');
    expect(resolver.peek('evil.test')?.tenant.id).toBe('t_default');
  });

  it('answers on any host while there is only one tenant', async () => {
    const { resolver } = resolverWith([one]);
    expect((await resolver.resolve('anything.test:3000'))?.tenant.id).toBe('t_default');
    expect((await resolver.resolve(undefined))?.tenant.id).toBe('t_default');
  });

  it('with several tenants, matches by domain (port-exact first), PUBLIC_URL host → default, else unknown', async () => {
    const { resolver } = resolverWith([two]);
    expect(await resolver.resolve('AUTH.acme.test')).toMatchObject({ tenant: { id: 't_acme' }, primaryDomain: 'auth.acme.test' });
    expect((await resolver.resolve('auth.acme.test:3000'))?.tenant.id).toBe('t_acme');
    expect((await resolver.resolve('acme.test:8443'))?.tenant.id).toBe('t_acme');
    expect((await resolver.resolve('login.example.com:3000'))?.tenant.id).toBe('t_default');
    expect(await resolver.resolve('acme.test:9999')).toBeUndefined();
    expect(await resolver.resolve('evil.test')).toBeUndefined();
    expect(await resolver.resolve(undefined)).toBeUndefined();
  });

  it('serves from cache within the TTL and reloads after it', async () => {
    const { resolver, advance, loads } = resolverWith([one, two]);
    expect((await resolver.resolve('auth.acme.test'))?.tenant.id).toBe('t_default');
    advance(999);
    expect((await resolver.resolve('auth.acme.test'))?.tenant.id).toBe('t_default');
    expect(loads()).toBe(1);
    advance(1);
    expect((await resolver.resolve('auth.acme.test'))?.tenant.id).toBe('t_acme');
    expect(loads()).toBe(2);
  });

  it('reloads once for many concurrent requests', async () => {
    const { resolver, loads } = resolverWith([two]);
    await Promise.all(Array.from({ length: 50 }, () => resolver.resolve('auth.acme.test')));
    expect(loads()).toBe(1);
  });

  it('keeps serving the last map when a reload fails, and fails with none', async () => {
    const { resolver, advance } = resolverWith([two, FAIL]);
    await resolver.resolve('auth.acme.test');
    advance(5000);
    expect((await resolver.resolve('auth.acme.test'))?.tenant.id).toBe('t_acme');
    const cold = resolverWith([FAIL]).resolver;
    await expect(cold.resolve('x')).rejects.toThrow('database down');
  });
});
