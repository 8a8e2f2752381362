import { ManagementError, type ManagementClient } from 'auth0';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startListeningTestApp, type TestApp } from '../../test/support/app.js';
import { describeEachBackend } from '../../test/support/backends.js';
import { testRuntime } from '../../test/support/clock.js';
import { createTenant } from '../../test/support/fixtures.js';
import { adminSdk, managementToken, sdkFor } from '../../test/support/management.js';
import { DEFAULT_DATABASE_CONNECTION } from '../connections/store.js';
import { logsStore } from '../logs/store.js';
import { systemRuntime } from '../storage/runtime.js';
import { tenantStores } from '../tenants/tenant-stores.js';

const DAY = 86_400_000;

describeEachBackend('Management API /api/v2/stats with the official auth0 SDK', (backend) => {
  let t: TestApp;
  let issuer: string;
  let tenantId: string;
  let sdk: ManagementClient;
  let token: string;

  beforeAll(async () => {
    ({ t, issuer, tenantId } = await startListeningTestApp(backend, { TENANT_CACHE_TTL_MS: '200' }));
    ({ sdk, token } = await adminSdk(t, issuer, tenantId));
  });
  afterAll(async () => t?.cleanup());

  const get = async (path: string) => {
    const res = await fetch(`${issuer}api/v2${path}`, { headers: { authorization: `Bearer ${token}` } });
    return { status: res.status, body: (await res.json()) as unknown };
  };

  /** A user of the tenant's default connection whose last login was `daysAgo` days ago (undefined: never). */
  async function userLoggedIn(ownerTenantId: string, email: string, daysAgo: number | undefined) {
    const clock = testRuntime(new Date(Date.now() - (daysAgo ?? 0) * DAY));
    const stores = tenantStores(t.database.db, ownerTenantId, clock);
    const connection = await stores.connections.findByName(DEFAULT_DATABASE_CONNECTION);
    const user = await stores.users.insert({ connectionId: connection!.id, provider: 'auth0', email, passwordHash: '$argon2id$unused' });
    if (daysAgo !== undefined) await stores.users.recordLogin(user!.user_id, '203.0.113.9');
  }

  it('counts the users who logged in during the last 30 days (from last_login), in this tenant only', async () => {
    expect(await sdk.stats.getActiveUsersCount()).toBe(0);
    await userLoggedIn(tenantId, 'today@example.test', 0);
    await userLoggedIn(tenantId, 'recent@example.test', 10);
    await userLoggedIn(tenantId, 'edge@example.test', 29.9);
    await userLoggedIn(tenantId, 'lapsed@example.test', 31);
    await userLoggedIn(tenantId, 'never@example.test', undefined);
    const other = await createTenant(t.database, 'other-stats');
    await userLoggedIn(other.id, 'elsewhere@example.test', 1);
    expect(await sdk.stats.getActiveUsersCount()).toBe(3);
    const raw = await get('/stats/active-users');
    expect(raw).toEqual({ status: 200, body: 3 });
  });

  it('computes daily logins, signups and leaked-password detections from log events, one entry per day', async () => {
    const clock = testRuntime('2031-03-01T00:00:00.000Z');
    const logs = logsStore(t.database.db, tenantId, clock);
    const at = async (instant: string, type: string) => {
      clock.set(instant);
      await logs.append({ type, user_id: 'auth0|someone' });
    };
    await at('2031-02-28T23:59:59.999Z', 'ss'); // the day before the range
    await at('2031-03-01T08:00:00.000Z', 's');
    await at('2031-03-01T09:30:00.000Z', 's');
    await at('2031-03-01T10:00:00.000Z', 'ss');
    await at('2031-03-01T11:00:00.000Z', 'f'); // a failed login is not a login
    await at('2031-03-03T00:00:00.000Z', 'pwd_leak');
    await at('2031-03-03T23:59:59.999Z', 's');
    await at('2031-03-04T00:00:00.000Z', 's'); // the day after the range
    const other = await createTenant(t.database, 'other-daily');
    clock.set('2031-03-01T12:00:00.000Z');
    await logsStore(t.database.db, other.id, clock).append({ type: 's' });

    const daily = await sdk.stats.getDaily({ from: '20310301', to: '20310303' });
    expect(daily).toEqual([
      { date: '2031-03-01T00:00:00.000Z', logins: 2, signups: 1, leaked_passwords: 0, created_at: '2031-03-01T08:00:00.000Z', updated_at: '2031-03-01T10:00:00.000Z' },
      { date: '2031-03-02T00:00:00.000Z', logins: 0, signups: 0, leaked_passwords: 0 },
      { date: '2031-03-03T00:00:00.000Z', logins: 1, signups: 0, leaked_passwords: 1, created_at: '2031-03-03T00:00:00.000Z', updated_at: '2031-03-03T23:59:59.999Z' },
    ]);
    expect(await sdk.stats.getDaily({ from: '20310228', to: '20310228' })).toEqual([
      { date: '2031-02-28T00:00:00.000Z', logins: 0, signups: 1, leaked_passwords: 0, created_at: '2031-02-28T23:59:59.999Z', updated_at: '2031-02-28T23:59:59.999Z' },
    ]);
  });

  it('defaults to the last 30 days and bounds the range to 90 days', async () => {
    const recent = (await sdk.stats.getDaily()) as { date: string }[];
    expect(recent).toHaveLength(30);
    const today = new Date().toISOString().slice(0, 10);
    expect(recent.at(-1)!.date.slice(0, 10)).toBe(today);

    expect(((await get('/stats/daily?from=20310101&to=20310331')).body as unknown[]).length).toBe(90);
    const tooLong = await get('/stats/daily?from=20310101&to=20310401');
    expect(tooLong).toEqual({
      status: 400,
      body: { statusCode: 400, error: 'Bad Request', message: "Query validation error: 'The range is 91 days; at most 90 days can be asked at once' on property to.", errorCode: 'invalid_query_string' },
    });
    for (const bad of ['from=20310302&to=20310301', 'from=2031-03-01', 'from=20310230', 'to=2031031']) {
      const res = await get(`/stats/daily?${bad}`);
      expect(res.status, bad).toBe(400);
      expect(res.body).toMatchObject({ errorCode: 'invalid_query_string' });
    }
  });

  it('publishes these resources in the OpenAPI document, with their parameters and scopes', async () => {
    const doc = (await (await fetch(`${issuer}api/v2/openapi.json`)).json()) as { paths: Record<string, Record<string, { security: unknown; parameters: { name: string }[] }>> };
    const params = (path: string, method: string) => doc.paths[path]![method]!.parameters.map((p) => p.name).sort();
    expect(params('/stats/daily', 'get')).toEqual(['from', 'to']);
    expect(doc.paths['/stats/active-users']!.get!.security).toEqual([{ bearerAuth: ['read:stats'] }]);
    expect(params('/logs', 'get')).toEqual(expect.arrayContaining(['q', 'search', 'from', 'take', 'sort', 'page', 'per_page', 'fields']));
    expect(params('/connections', 'get')).toEqual(expect.arrayContaining(['strategy', 'name', 'from', 'take', 'fields', 'include_fields']));
    expect(Object.keys(doc.paths['/connections/{id}/clients']!).sort()).toEqual(['get', 'patch']);
    expect(Object.keys(doc.paths['/tenants/settings']!).sort()).toEqual(['get', 'patch']);
    expect(doc.paths['/keys/signing/{kid}/revoke']!.put!.security).toEqual([{ bearerAuth: ['update:signing_keys'] }]);
    expect(doc.paths['/keys/signing/rotate']!.post).toBeDefined();
  });

  it('needs read:stats', async () => {
    const stores = tenantStores(t.database.db, tenantId, systemRuntime);
    const reader = await t.services.clients.create(tenantId, { name: 'Log reader', appType: 'non_interactive', config: { grant_types: ['client_credentials'] } });
    await stores.clientGrants.insert({ clientId: reader.clientId, audience: `${issuer}api/v2/`, scope: ['read:logs'] });
    await new Promise((resolve) => setTimeout(resolve, 450));
    const readerSdk = sdkFor(issuer, await managementToken(issuer, { clientId: reader.clientId, clientSecret: reader.clientSecret! }));
    const error = await readerSdk.stats.getActiveUsersCount().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(ManagementError);
    expect((error as ManagementError).body).toEqual({ statusCode: 403, error: 'Forbidden', message: 'Insufficient scope, expected any of: read:stats', errorCode: 'insufficient_scope' });
  });
});
