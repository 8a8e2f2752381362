import pino from 'pino';
import { afterAll, beforeAll, expect, it, vi } from 'vitest';
import { startTestApp, type TestApp } from '../../test/support/app.js';
import { describeEachBackend } from '../../test/support/backends.js';
import { dropRedisKeys, uniqueRedisPrefix } from '../../test/support/counters.js';
import { TcpProxy } from '../../test/support/tcp-proxy.js';
import { PASSWORD_REALM_GRANT } from '../oauth/password-grant.js';

const REALM = 'Username-Password-Authentication';
const PASSWORD = 'correct horse battery staple';
const HOST = 'localhost:3000';

/**
 * Decision 013: with Redis cut off, each node counts in its own memory —
 * limits keep holding (per node), the node logs an error and reports
 * `portcullis_protection_counter_store_degraded 1` — and the shared counts
 * are back when Redis is.
 */
describeEachBackend('attack protection when Redis is cut off', (backend) => {
  const prefix = uniqueRedisPrefix();
  const proxy = new TcpProxy('127.0.0.1', 6379);
  const logs: string[] = [];
  let t: TestApp;
  let tenantId: string;
  let client: { clientId: string; clientSecret: string };

  beforeAll(async () => {
    await proxy.start();
    const logger = pino({ level: 'warn' }, { write: (line: string) => void logs.push(line) });
    t = await startTestApp(backend, { REDIS_URL: `redis://127.0.0.1:${proxy.port}`, REDIS_KEY_PREFIX: prefix, REDIS_COMMAND_TIMEOUT_MS: '300', TENANT_CACHE_TTL_MS: '0' }, { logger });
    tenantId = (await t.services.tenants.resolve(undefined)).id;
    const created = await t.services.clients.create(tenantId, { name: 'Backend', appType: 'regular_web', tokenEndpointAuthMethod: 'client_secret_post', config: { grant_types: [PASSWORD_REALM_GRANT] } });
    client = { clientId: created.clientId, clientSecret: created.clientSecret as string };
    await t.services.users.signup({ tenantId, connectionName: REALM, email: 'jane@example.test', password: PASSWORD });
  });
  afterAll(async () => {
    await t?.cleanup();
    await proxy.stop();
    await dropRedisKeys(prefix);
  });

  const login = async (password: string, ip: string) =>
    (
      await t.app.inject({
        method: 'POST',
        url: '/oauth/token',
        headers: { host: HOST, 'content-type': 'application/x-www-form-urlencoded' },
        remoteAddress: ip,
        payload: new URLSearchParams({ grant_type: PASSWORD_REALM_GRANT, realm: REALM, username: 'jane@example.test', password, client_id: client.clientId, client_secret: client.clientSecret }).toString(),
      })
    ).statusCode;
  const metrics = async () => (await t.app.inject({ method: 'GET', url: '/metrics' })).body;

  it('keeps limiting per node in memory while Redis is away, says so, and shares counts again once it is back', async () => {
    const ip = '198.51.100.7';
    const patched = await t.app.inject({ method: 'PATCH', url: '/api/v2/attack-protection/brute-force-protection', headers: { host: HOST, authorization: `Bearer ${await adminToken()}` }, payload: { max_attempts: 3 } });
    expect(patched.statusCode).toBe(200);
    // Blocked in Redis.
    for (let i = 0; i < 3; i++) expect(await login('wrong password here', ip)).toBe(403);
    expect(await login(PASSWORD, ip)).toBe(429);
    expect(await metrics()).toContain('portcullis_protection_counter_store_degraded 0');

    await proxy.stop();
    // Redis's block cannot be read: the node counts afresh in memory, and still blocks at the limit (no fail-open).
    for (let i = 0; i < 3; i++) expect(await login('wrong password here', ip)).toBe(403);
    expect(await login('wrong password here', ip)).toBe(429);
    expect(await login(PASSWORD, ip)).toBe(429);
    const degraded = await metrics();
    expect(degraded).toContain('portcullis_protection_counter_store_degraded 1');
    expect(degraded).toMatch(/portcullis_protection_counter_fallbacks_total [1-9]/);
    expect(logs.some((line) => line.includes('Redis unreachable'))).toBe(true);
    // Another address still logs in.
    expect(await login(PASSWORD, '198.51.100.8')).toBe(200);

    await proxy.start();
    // Back on Redis, whose block of the pair still stands.
    await vi.waitFor(async () => expect(await metrics()).toContain('portcullis_protection_counter_store_degraded 0'), { timeout: 10_000, interval: 200 });
    expect(await login(PASSWORD, ip)).toBe(429);
    expect(logs.some((line) => line.includes('Redis answers again'))).toBe(true);
  });

  async function adminToken(): Promise<string> {
    const admin = await t.services.clients.ensureAdminClient(tenantId);
    const res = await t.app.inject({
      method: 'POST',
      url: '/oauth/token',
      headers: { host: HOST, 'content-type': 'application/x-www-form-urlencoded' },
      payload: new URLSearchParams({ grant_type: 'client_credentials', client_id: admin.clientId, client_secret: admin.clientSecret, audience: admin.audience }).toString(),
    });
    return (res.json() as { access_token: string }).access_token;
  }
});
