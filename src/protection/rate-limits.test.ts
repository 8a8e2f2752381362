import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startListeningTestApp, type TestApp } from '../../test/support/app.js';
import { describeEachBackend } from '../../test/support/backends.js';
import { COUNTER_BACKENDS, counterEnv, dropRedisKeys, uniqueRedisPrefix } from '../../test/support/counters.js';
import { adminSdk } from '../../test/support/management.js';
import type { SecurityEvent } from '../events/bus.js';
import { memoryCounterStore } from './counters.js';
import { familyOf, RateLimits } from './rate-limits.js';

describe('rate-limit families and keys', () => {
  it('classifies requests by method and path only', () => {
    expect(familyOf('POST', '/oauth/token')).toBe('token');
    expect(familyOf('POST', '/oauth/token?x=1')).toBe('token');
    expect(familyOf('GET', '/oauth/token')).toBeUndefined();
    expect(familyOf('POST', '/u/login?state=abc')).toBe('login');
    expect(familyOf('POST', '/u/login/signup?state=abc')).toBe('login');
    expect(familyOf('POST', '/dbconnections/signup')).toBe('login');
    expect(familyOf('POST', '/u/login/consent?state=abc')).toBeUndefined();
    expect(familyOf('GET', '/api/v2/users')).toBe('management');
    expect(familyOf('GET', '/.well-known/jwks.json')).toBeUndefined();
  });

  it('counts per tenant and family; 0 turns a family off', async () => {
    const limits = new RateLimits(memoryCounterStore(), { token: 2, login: 0, management: 2 });
    const verdicts = [];
    for (let i = 0; i < 4; i++) verdicts.push(await limits.check('token', 'tenant-a'));
    expect(verdicts.map((v) => v?.allowed)).toEqual([true, true, false, false]);
    expect(verdicts.map((v) => v?.remaining)).toEqual([1, 0, 0, 0]);
    expect(verdicts.map((v) => v?.firstRefused)).toEqual([false, false, true, false]);
    expect((await limits.check('token', 'tenant-b'))?.allowed).toBe(true);
    expect((await limits.check('management', 'tenant-a'))?.allowed).toBe(true);
    expect(await limits.check('login', 'tenant-a')).toBeUndefined();
  });
});

describeEachBackend('per-tenant rate limits over HTTP', (backend) => {
  for (const counters of COUNTER_BACKENDS) {
    describe(`counters in ${counters}`, () => {
      const prefix = uniqueRedisPrefix();
      let t: TestApp;
      let issuer: string;
      let tenantId: string;
      let token: string;
      let m2m: { clientId: string; clientSecret: string };
      const events: SecurityEvent[] = [];

      beforeAll(async () => {
        ({ t, issuer, tenantId } = await startListeningTestApp(backend, { RATE_LIMIT_MANAGEMENT_PER_SECOND: '5', RATE_LIMIT_TOKEN_PER_SECOND: '4', RATE_LIMIT_LOGIN_PER_SECOND: '3', ...counterEnv(counters, prefix) }));
        ({ token } = await adminSdk(t, issuer, tenantId));
        const created = await t.services.clients.create(tenantId, { name: 'Machine', appType: 'non_interactive', tokenEndpointAuthMethod: 'client_secret_post', config: { grant_types: ['client_credentials'] } });
        m2m = { clientId: created.clientId, clientSecret: created.clientSecret as string };
        t.events.observe((event) => void events.push(event));
        // The admin token's own request spent part of the token budget: start each burst in a fresh window.
        await new Promise((resolve) => setTimeout(resolve, 1100));
      });
      afterAll(async () => {
        await t?.cleanup();
        if (counters === 'redis') await dropRedisKeys(prefix);
      });

      const burst = <T>(count: number, request: () => Promise<T>) => Promise.all(Array.from({ length: count }, request));

      it('Management API: X-RateLimit-* on every answer, then 429 in Auth0 error shape with Retry-After, and one api_limit', async () => {
        const answers = await burst(15, () => fetch(`${issuer}api/v2/users`, { headers: { authorization: `Bearer ${token}` } }));
        const ok = answers.filter((r) => r.status === 200);
        const refused = answers.filter((r) => r.status === 429);
        expect(ok).toHaveLength(5);
        expect(refused).toHaveLength(10);
        for (const res of answers) {
          expect(res.headers.get('x-ratelimit-limit')).toBe('5');
          expect(Number(res.headers.get('x-ratelimit-reset'))).toBeGreaterThanOrEqual(Math.floor(Date.now() / 1000));
        }
        expect(ok.map((r) => Number(r.headers.get('x-ratelimit-remaining'))).sort()).toEqual([0, 1, 2, 3, 4]);
        expect(Number(refused[0]!.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
        expect(await refused[0]!.json()).toEqual({ statusCode: 429, error: 'Too Many Requests', message: 'Global limit has been reached', errorCode: 'too_many_requests' });
        expect(events.filter((e) => e.type === 'api_limit' && e.details?.family === 'management')).toHaveLength(1);
        const metrics = await (await fetch(`${issuer}metrics`)).text();
        expect(metrics).toMatch(/portcullis_blocked_attempts_total\{kind="rate_limit"\} ([1-9]\d*)/);
      });

      it('token endpoint: 429 with an RFC 6749 error body, Retry-After and X-RateLimit-*', async () => {
        await new Promise((resolve) => setTimeout(resolve, 1100));
        const answers = await burst(10, () =>
          fetch(`${issuer}oauth/token`, {
            method: 'POST',
            headers: { 'content-type': 'application/x-www-form-urlencoded' },
            body: new URLSearchParams({ grant_type: 'client_credentials', client_id: m2m.clientId, client_secret: m2m.clientSecret, audience: `${issuer}api/v2/` }).toString(),
          }),
        );
        const refused = answers.filter((r) => r.status === 429);
        expect(refused).toHaveLength(6);
        // The engine's own answers (here: no grant for this client on the API) carry the headers too.
        const answered = answers.filter((r) => r.status !== 429);
        expect(answered.every((r) => r.headers.get('x-ratelimit-limit') === '4')).toBe(true);
        expect(refused[0]!.headers.get('cache-control')).toBe('no-store');
        expect(await refused[0]!.json()).toEqual({ error: 'too_many_requests', error_description: 'Global limit has been reached' });
        expect(events.filter((e) => e.type === 'api_limit' && e.details?.family === 'token')).toHaveLength(1);
      });

      it('login POSTs: 429 page with Retry-After', async () => {
        const answers = await burst(6, () => fetch(`${issuer}u/login?state=none`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'username=a&password=b' }));
        const refused = answers.filter((r) => r.status === 429);
        expect(refused).toHaveLength(3);
        expect(refused[0]!.headers.get('content-type')).toContain('text/html');
        expect(Number(refused[0]!.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
        expect(await refused[0]!.text()).toContain('Global limit has been reached');
      });
    });
  }
});
