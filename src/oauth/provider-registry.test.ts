import type { IncomingMessage, ServerResponse } from 'node:http';
import type Provider from 'oidc-provider';
import { describe, expect, it } from 'vitest';
import { parseTenantSettings } from '../tenants/settings.js';
import type { Tenant } from '../tenants/store.js';
import { ProviderRegistry } from './provider-registry.js';

const tenant: Tenant = { id: 't1', name: 't1', isDefault: true, settings: parseTenantSettings({}), createdAt: '', updatedAt: '' };
const ISSUER = 'https://login.example.test/';

/** A stand-in engine: serves a discovery document, which is all the registry asks of it. */
const fakeProvider = (label: string) =>
  ({
    callback: () => (_req: IncomingMessage, res: ServerResponse) => {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ issuer: ISSUER, label }));
    },
  }) as unknown as Provider;

function registry() {
  let now = 0;
  let version = 1;
  let builds = 0;
  const reg = new ProviderRegistry({
    checkIntervalMs: 1000,
    now: () => now,
    versions: async () => new Map([[tenant.id, version]]),
    build: async () => ({ provider: fakeProvider(`build ${++builds}`), jwks: [] }),
  });
  return { reg, advance: (ms: number) => (now += ms), bump: () => version++, builds: () => builds };
}

describe('ProviderRegistry.peek', () => {
  it('returns the built engine without waiting only while it is current and the version check is not due', async () => {
    const { reg, advance, bump, builds } = registry();
    expect(reg.peek(tenant, ISSUER)).toBeUndefined(); // nothing built yet
    const built = await reg.get(tenant, ISSUER);
    expect(reg.peek(tenant, ISSUER)).toBe(built);
    expect(reg.peek(tenant, 'https://other.example.test/')).toBeUndefined(); // issuer changed
    advance(1000);
    expect(reg.peek(tenant, ISSUER)).toBeUndefined(); // version check due: callers must await get()
    bump();
    const rebuilt = await reg.get(tenant, ISSUER);
    expect(builds()).toBe(2);
    expect(JSON.parse(rebuilt.discovery.body)).toMatchObject({ label: 'build 2' });
    expect(reg.peek(tenant, ISSUER)).toBe(rebuilt);
  });
});
