import * as oidc from 'openid-client';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { startListeningTestApp, type TestApp } from '../../test/support/app.js';
import { describeEachBackend } from '../../test/support/backends.js';
import { COUNTER_BACKENDS, counterEnv, dropRedisKeys, uniqueRedisPrefix } from '../../test/support/counters.js';
import { HttpBrowser, loginForm } from '../../test/support/http-browser.js';
import { adminSdk, managementFetch } from '../../test/support/management.js';
import type { SecurityEvent } from '../events/bus.js';
import { PASSWORD_GRANT, PASSWORD_REALM_GRANT } from '../oauth/password-grant.js';

const REALM = 'Username-Password-Authentication';
const PASSWORD = 'correct horse battery staple';
const WRONG = 'not the password at all';
const CALLBACK = 'https://app.example.test/callback';

type Answer = { status: number; body: Record<string, unknown>; retryAfter: string | null };

describeEachBackend('attack protection at login: brute force, suspicious IPs, breached passwords', (backend) => {
  for (const counters of COUNTER_BACKENDS) {
    describe(`counters in ${counters}`, () => {
      const prefix = uniqueRedisPrefix();
      let t: TestApp;
      let issuer: string;
      let tenantId: string;
      let trusted: { clientId: string; clientSecret: string };
      let untrusted: { clientId: string; clientSecret: string };
      let rp: oidc.Configuration;
      let token: string;
      const events: SecurityEvent[] = [];
      let n = 0;
      /** A fresh documentation address (RFC 5737 / 3849) per call, so tests never share an IP's counts. */
      const freshIp = () => `198.51.${Math.floor(++n / 250)}.${(n % 250) + 1}`;

      beforeAll(async () => {
        // TRUST_PROXY: the test talks through loopback and names the end user's IP in X-Forwarded-For.
        ({ t, issuer, tenantId } = await startListeningTestApp(backend, { TENANT_CACHE_TTL_MS: '0', TRUST_PROXY: '127.0.0.1', ...counterEnv(counters, prefix) }));
        t.events.observe((event) => void events.push(event));
        const grants = { grant_types: [PASSWORD_GRANT, PASSWORD_REALM_GRANT] };
        const a = await t.services.clients.create(tenantId, { name: 'Trusted backend', appType: 'regular_web', tokenEndpointAuthMethod: 'client_secret_post', config: { ...grants, token_endpoint_ip_header_trusted: true } });
        trusted = { clientId: a.clientId, clientSecret: a.clientSecret as string };
        const b = await t.services.clients.create(tenantId, { name: 'Plain backend', appType: 'regular_web', tokenEndpointAuthMethod: 'client_secret_post', config: grants });
        untrusted = { clientId: b.clientId, clientSecret: b.clientSecret as string };
        const web = await t.services.clients.create(tenantId, { name: 'Web App', appType: 'regular_web', tokenEndpointAuthMethod: 'client_secret_basic', config: { callbacks: [CALLBACK], grant_types: ['authorization_code'] } });
        rp = await oidc.discovery(new URL(issuer), web.clientId, web.clientSecret, undefined, { execute: [oidc.allowInsecureRequests] });
        ({ token } = await adminSdk(t, issuer, tenantId));
      });
      afterAll(async () => {
        await t?.cleanup();
        if (counters === 'redis') await dropRedisKeys(prefix);
      });

      const api = (path: string, init: RequestInit & { token?: string | null } = {}) => managementFetch(() => issuer, () => token)(path, init);
      const settings = async (part: string, body: Record<string, unknown>) => {
        const res = await api(`/attack-protection/${part}`, { method: 'PATCH', body: JSON.stringify(body) });
        expect(res.status).toBe(200);
      };
      const signup = async (email: string) => (await t.services.users.signup({ tenantId, connectionName: REALM, email, password: PASSWORD })).user_id;
      const eventsOf = (type: string, userName?: string) => events.filter((e) => e.type === type && (userName === undefined || e.userName === userName));

      async function grant(username: string, password: string, ip: string, options: { client?: typeof trusted; forwardedFor?: string } = {}): Promise<Answer> {
        const client = options.client ?? untrusted;
        const res = await fetch(`${issuer}oauth/token`, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-forwarded-for': ip, ...(options.forwardedFor ? { 'auth0-forwarded-for': options.forwardedFor } : {}) },
          body: new URLSearchParams({ grant_type: PASSWORD_REALM_GRANT, realm: REALM, username, password, client_id: client.clientId, client_secret: client.clientSecret }).toString(),
        });
        return { status: res.status, body: (await res.json()) as Record<string, unknown>, retryAfter: res.headers.get('retry-after') };
      }

      it('blocks an identifier + IP pair after max_attempts failures, answers unknown identifiers alike, and lets the owner in from another IP', async () => {
        await settings('brute-force-protection', { max_attempts: 3 });
        const email = `pair-${counters}@example.test`;
        const userId = await signup(email);
        const ip = freshIp();
        for (let i = 0; i < 3; i++) expect((await grant(email, WRONG, ip)).status).toBe(403);
        const blocked = await grant(email, WRONG, ip);
        expect(blocked.status).toBe(429);
        expect(blocked.body).toEqual({ error: 'too_many_attempts', error_description: 'Your account has been blocked after multiple consecutive login attempts.' });
        expect(Number(blocked.retryAfter)).toBeGreaterThan(0);
        // Even the right password is not checked from this IP now.
        expect((await grant(email, PASSWORD, ip)).status).toBe(429);
        expect(eventsOf('limit_wc', email)).toHaveLength(1);
        expect(eventsOf('limit_wc', email)[0]).toMatchObject({ ip, connection: REALM });
        expect(eventsOf('fp', email)).toHaveLength(3);
        // The owner, elsewhere.
        expect((await grant(email, PASSWORD, freshIp())).status).toBe(200);

        // An identifier no account has: the same answers, in the same order.
        const nobody = `nobody-${counters}@example.test`;
        for (let i = 0; i < 3; i++) expect((await grant(nobody, WRONG, ip)).status).toBe(403);
        const unknown = await grant(nobody, WRONG, ip);
        expect({ status: unknown.status, body: unknown.body }).toEqual({ status: blocked.status, body: blocked.body });

        const listed = await api(`/user-blocks?identifier=${encodeURIComponent(email.toUpperCase())}`);
        expect(await listed.json()).toEqual({ blocked_for: [{ identifier: email, ip, connection: REALM }] });
        const byId = await api(`/user-blocks/${encodeURIComponent(userId)}`);
        expect(await byId.json()).toEqual({ blocked_for: [{ identifier: email, ip, connection: REALM }] });
      });

      it('lets at most max_attempts of 50 concurrent wrong passwords be checked (default max_attempts 10)', async () => {
        await settings('brute-force-protection', { max_attempts: 10 });
        const email = `storm-${counters}@example.test`;
        await signup(email);
        const ip = freshIp();
        const answers = await Promise.all(Array.from({ length: 50 }, () => grant(email, WRONG, ip)));
        // Every checked password is one `fp` event: no more than max_attempts were verified.
        expect(eventsOf('fp', email)).toHaveLength(10);
        expect(answers.filter((a) => a.status === 403)).toHaveLength(10);
        expect(answers.filter((a) => a.status === 429 && a.body.error === 'too_many_attempts')).toHaveLength(40);
        expect(eventsOf('limit_wc', email)).toHaveLength(1);
      });

      it('resets the count of a pair on a successful login', async () => {
        await settings('brute-force-protection', { max_attempts: 3 });
        const email = `reset-${counters}@example.test`;
        await signup(email);
        const ip = freshIp();
        for (let i = 0; i < 2; i++) expect((await grant(email, WRONG, ip)).status).toBe(403);
        expect((await grant(email, PASSWORD, ip)).status).toBe(200);
        for (let i = 0; i < 2; i++) expect((await grant(email, WRONG, ip)).status).toBe(403);
        expect((await grant(email, PASSWORD, ip)).status).toBe(200);
      });

      it('releases a block through DELETE /user-blocks/{id} (ublkdu) and through a password change (Management API and scp)', async () => {
        await settings('brute-force-protection', { max_attempts: 2 });
        const block = async (email: string, ip: string) => {
          for (let i = 0; i < 2; i++) await grant(email, WRONG, ip);
          expect((await grant(email, PASSWORD, ip)).status).toBe(429);
        };

        const admin = `unblock-${counters}@example.test`;
        const adminId = await signup(admin);
        const ip = freshIp();
        await block(admin, ip);
        expect((await api(`/user-blocks/${encodeURIComponent(adminId)}`, { method: 'DELETE' })).status).toBe(204);
        expect(eventsOf('ublkdu').filter((e) => e.userId === adminId)).toHaveLength(1);
        expect(await (await api(`/user-blocks/${encodeURIComponent(adminId)}`)).json()).toEqual({ blocked_for: [] });
        expect((await grant(admin, PASSWORD, ip)).status).toBe(200);

        const patched = `patched-${counters}@example.test`;
        const patchedId = await signup(patched);
        await block(patched, ip);
        const changed = await api(`/users/${encodeURIComponent(patchedId)}`, { method: 'PATCH', body: JSON.stringify({ password: 'a completely different passphrase', connection: REALM }) });
        expect(changed.status).toBe(200);
        expect((await grant(patched, 'a completely different passphrase', ip)).status).toBe(200);

        // A password reset elsewhere (its `scp` event) releases too.
        const reset = `scp-${counters}@example.test`;
        const resetId = await signup(reset);
        await block(reset, ip);
        await t.events.publish({ tenantId, type: 'scp', userId: resetId, userName: reset, connection: REALM });
        await vi.waitFor(async () => expect(await (await api(`/user-blocks/${encodeURIComponent(resetId)}`)).json()).toEqual({ blocked_for: [] }));
        expect((await grant(reset, PASSWORD, ip)).status).toBe(200);

        // By identifier.
        await block(reset, ip);
        expect((await api(`/user-blocks?identifier=${encodeURIComponent(reset)}`, { method: 'DELETE' })).status).toBe(204);
        expect((await grant(reset, PASSWORD, ip)).status).toBe(200);
      });

      it('honours the connection option brute_force_protection=false', async () => {
        await settings('brute-force-protection', { max_attempts: 2 });
        const connections = (await (await api('/connections?strategy=auth0')).json()) as { id: string; name: string }[];
        const realm = connections.find((c) => c.name === REALM)!;
        const off = await api(`/connections/${realm.id}`, { method: 'PATCH', body: JSON.stringify({ options: { brute_force_protection: false } }) });
        expect(off.status).toBe(200);
        try {
          const email = `noprotect-${counters}@example.test`;
          await signup(email);
          const ip = freshIp();
          for (let i = 0; i < 4; i++) expect((await grant(email, WRONG, ip)).status).toBe(403);
          expect((await grant(email, PASSWORD, ip)).status).toBe(200);
        } finally {
          await api(`/connections/${realm.id}`, { method: 'PATCH', body: JSON.stringify({ options: { brute_force_protection: true } }) });
        }
      });

      it('believes auth0-forwarded-for only from a first-party client trusted with its secret', async () => {
        await settings('brute-force-protection', { max_attempts: 2 });
        const email = `forwarded-${counters}@example.test`;
        await signup(email);
        const server = freshIp();
        const user = freshIp();
        for (let i = 0; i < 2; i++) expect((await grant(email, WRONG, server, { client: trusted, forwardedFor: user })).status).toBe(403);
        // The pair blocked is (email, the end user's IP), not the server's.
        expect((await grant(email, PASSWORD, server, { client: trusted, forwardedFor: user })).status).toBe(429);
        expect((await grant(email, PASSWORD, server, { client: trusted, forwardedFor: freshIp() })).status).toBe(200);
        expect(eventsOf('limit_wc', email)[0]?.ip).toBe(user);
        // Another client's header is ignored: its requests count for the address they come from.
        expect((await grant(email, PASSWORD, freshIp(), { client: untrusted, forwardedFor: user })).status).toBe(200);
        // A value that is not one IP address is ignored too.
        expect((await grant(email, PASSWORD, freshIp(), { client: trusted, forwardedFor: `${user}, 10.0.0.1` })).status).toBe(200);
      });

      it('blocks on the login page too, with 429 and Retry-After', async () => {
        await settings('brute-force-protection', { max_attempts: 2 });
        const email = `page-${counters}@example.test`;
        await signup(email);
        const ip = freshIp();
        const browser = new HttpBrowser();
        const url = oidc.buildAuthorizationUrl(rp, { redirect_uri: CALLBACK, scope: 'openid', code_challenge: await oidc.calculatePKCECodeChallenge(oidc.randomPKCECodeVerifier()), code_challenge_method: 'S256' });
        const started = await browser.follow(url.toString(), CALLBACK);
        const form = loginForm(await started.response!.text(), issuer);
        const post = (password: string) =>
          browser.fetch(form.action, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-forwarded-for': ip }, body: new URLSearchParams({ csrf: form.csrf, username: email, password }).toString() });
        for (let i = 0; i < 2; i++) expect((await post(WRONG)).status).toBe(400);
        const refused = await post(PASSWORD);
        expect(refused.status).toBe(429);
        expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
        expect(await refused.text()).toContain('Your account has been blocked after multiple consecutive login attempts.');
        expect(eventsOf('limit_wc', email)).toHaveLength(1);
      });

      it('throttles an IP after too many failed logins across accounts (429, Retry-After, limit_mu once), never an allowlisted one', async () => {
        await settings('brute-force-protection', { max_attempts: 10 });
        await settings('suspicious-ip-throttling', { stage: { 'pre-login': { max_attempts: 4 } }, allowlist: ['203.0.113.0/24'] });
        try {
          const ip = freshIp();
          const victims = Array.from({ length: 4 }, (_, i) => `spray-${i}-${counters}@example.test`);
          for (const victim of victims) expect((await grant(victim, WRONG, ip)).status).toBe(403);
          const throttled = await grant(`spray-5-${counters}@example.test`, WRONG, ip);
          expect(throttled.status).toBe(429);
          expect(throttled.body.error).toBe('too_many_attempts');
          expect(throttled.body.error_description).toContain('suspicious login behavior');
          expect(Number(throttled.retryAfter)).toBeGreaterThan(0);
          expect(events.filter((e) => e.type === 'limit_mu' && e.ip === ip)).toHaveLength(1);
          expect((await api(`/anomaly/blocks/ips/${ip}`)).status).toBe(200);
          expect((await api(`/anomaly/blocks/ips/${ip}`, { method: 'DELETE' })).status).toBe(204);
          expect((await api(`/anomaly/blocks/ips/${ip}`)).status).toBe(404);
          expect((await grant(victims[0]!, WRONG, ip)).status).toBe(403);

          const office = '203.0.113.7';
          for (let i = 0; i < 8; i++) expect((await grant(`office-${i}-${counters}@example.test`, WRONG, office)).status).toBe(403);
          expect((await api(`/anomaly/blocks/ips/${office}`)).status).toBe(404);
        } finally {
          await settings('suspicious-ip-throttling', { stage: { 'pre-login': { max_attempts: 100 } }, allowlist: [] });
        }
      });

      it('throttles signups per IP (pre-user-registration) at /dbconnections/signup', async () => {
        await settings('suspicious-ip-throttling', { stage: { 'pre-user-registration': { max_attempts: 2 } } });
        try {
          const ip = freshIp();
          const signupAt = (email: string) =>
            fetch(`${issuer}dbconnections/signup`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-forwarded-for': ip }, body: JSON.stringify({ client_id: untrusted.clientId, connection: REALM, email, password: PASSWORD }) });
          expect((await signupAt(`s1-${counters}@example.test`)).status).toBe(200);
          expect((await signupAt(`s2-${counters}@example.test`)).status).toBe(200);
          const refused = await signupAt(`s3-${counters}@example.test`);
          expect(refused.status).toBe(429);
          expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
          expect(await refused.json()).toMatchObject({ code: 'too_many_attempts', statusCode: 429 });
          expect(events.filter((e) => e.type === 'limit_mu' && e.ip === ip)).toHaveLength(1);
          // Another address signs up as usual.
          const other = await fetch(`${issuer}dbconnections/signup`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-forwarded-for': freshIp() }, body: JSON.stringify({ client_id: untrusted.clientId, connection: REALM, email: `s4-${counters}@example.test`, password: PASSWORD }) });
          expect(other.status).toBe(200);
        } finally {
          await settings('suspicious-ip-throttling', { stage: { 'pre-user-registration': { max_attempts: 50 } } });
        }
      });

      it('refuses a breached password at signup (page and Management API) and records pwd_leak; blocks it at login when asked', async () => {
        const breached = 'qwertyuiopasdfghjkl';
        const created = await api('/users', { method: 'POST', body: JSON.stringify({ connection: REALM, email: `leak-api-${counters}@example.test`, password: breached }) });
        expect(created.status).toBe(400);
        expect(await created.json()).toMatchObject({ statusCode: 400, errorCode: 'password_leaked' });
        expect(eventsOf('pwd_leak', `leak-api-${counters}@example.test`)).toHaveLength(1);

        // The signup page.
        const browser = new HttpBrowser();
        const url = oidc.buildAuthorizationUrl(rp, { redirect_uri: CALLBACK, scope: 'openid', screen_hint: 'signup', code_challenge: await oidc.calculatePKCECodeChallenge(oidc.randomPKCECodeVerifier()), code_challenge_method: 'S256' });
        const page = await browser.follow(url.toString(), CALLBACK);
        expect(page.url).toContain('/u/login/signup');
        const form = loginForm(await page.response!.text(), issuer);
        const refused = await browser.submit(form.action, { csrf: form.csrf, email: `leak-page-${counters}@example.test`, password: breached });
        expect(refused.status).toBe(400);
        expect(await refused.text()).toContain('data breach');
        expect(eventsOf('pwd_leak', `leak-page-${counters}@example.test`)).toHaveLength(1);

        // A password that is not in the list is accepted.
        expect((await api('/users', { method: 'POST', body: JSON.stringify({ connection: REALM, email: `fine-${counters}@example.test`, password: PASSWORD }) })).status).toBe(201);

        // With detection off, the breached password is accepted; at login, `block` then refuses it.
        await settings('breached-password-detection', { enabled: false });
        const email = `leak-login-${counters}@example.test`;
        expect((await api('/users', { method: 'POST', body: JSON.stringify({ connection: REALM, email, password: breached }) })).status).toBe(201);
        await settings('breached-password-detection', { enabled: true, shields: ['block', 'admin_notification'] });
        try {
          const answer = await grant(email, breached, freshIp());
          expect(answer.status).toBe(403);
          expect(answer.body.error).toBe('password_leaked');
          expect(eventsOf('pwd_leak', email)).toHaveLength(1);
        } finally {
          await settings('breached-password-detection', { shields: [] });
        }
        // Without `block` at login, the login goes through (and is recorded).
        expect((await grant(email, breached, freshIp())).status).toBe(200);
        expect(eventsOf('pwd_leak', email)).toHaveLength(2);
      });

      it('counts refused attempts in /metrics by kind', async () => {
        const metrics = await (await fetch(`${issuer.replace(/\/$/, '')}/metrics`)).text();
        for (const kind of ['brute_force', 'suspicious_ip', 'breached_password']) expect(metrics).toMatch(new RegExp(`portcullis_blocked_attempts_total\\{kind="${kind}"\\} [1-9]`));
        expect(metrics).toContain('portcullis_protection_counter_store_degraded 0');
      });
    });
  }
});
