import * as oidc from 'openid-client';
import { afterAll, afterEach, beforeAll, expect, it, vi } from 'vitest';
import { startTestApp, type TestApp } from '../../test/support/app.js';
import { describeEachBackend } from '../../test/support/backends.js';
import { freePort } from '../../test/support/cli.js';
import { HttpBrowser, loginForm } from '../../test/support/http-browser.js';
import { systemRuntime } from '../storage/runtime.js';
import { tenantsStore } from '../tenants/store.js';

const CALLBACK = 'https://app.example.test/callback';
const PASSWORD = 'correct horse battery staple';
const EMAIL = 'jane@example.test';
const MINUTE = 60_000;
/** The engine's session cookie and its signature (cookies are signed with the tenant's key). */
const SESSION_COOKIES = ['_session', '_session.sig'];

/**
 * The SSO session: its id is replaced at every login, and it ends after the
 * tenant's idle period without use or its absolute lifetime from login,
 * whichever comes first. The engine reads its clock from Date, so the tests
 * move Date (only Date: timers run as usual) instead of waiting.
 */
describeEachBackend('SSO session: id rotation and lifetimes', (backend) => {
  let t: TestApp;
  let issuer: string;
  let rp: oidc.Configuration;

  beforeAll(async () => {
    const port = await freePort();
    issuer = `http://127.0.0.1:${port}/`;
    t = await startTestApp(backend, { PUBLIC_URL: `http://127.0.0.1:${port}` });
    // Idle 1 h, absolute 4 h; set before the first request builds the tenant's engine.
    const tenant = await t.services.tenants.resolve(undefined);
    await tenantsStore(t.database.db, systemRuntime).updateSettings(tenant.id, { ...tenant.settings, idle_session_lifetime: 1, session_lifetime: 4 });
    await t.app.listen({ port, host: '127.0.0.1' });
    await t.services.users.signup({ tenantId: tenant.id, connectionName: 'Username-Password-Authentication', email: EMAIL, password: PASSWORD });
    const app = await t.services.clients.create(tenant.id, {
      name: 'Web App',
      appType: 'regular_web',
      tokenEndpointAuthMethod: 'client_secret_basic',
      config: { callbacks: [CALLBACK], grant_types: ['authorization_code', 'refresh_token'] },
    });
    rp = await oidc.discovery(new URL(issuer), app.clientId, app.clientSecret, undefined, { execute: [oidc.allowInsecureRequests] });
  });
  afterAll(async () => t?.cleanup());
  afterEach(() => {
    vi.useRealTimers();
  });

  async function authorize(browser: HttpBrowser, params: Record<string, string> = {}) {
    const verifier = oidc.randomPKCECodeVerifier();
    const state = oidc.randomState();
    const url = oidc.buildAuthorizationUrl(rp, { redirect_uri: CALLBACK, scope: 'openid', state, code_challenge: await oidc.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256', ...params });
    return { verifier, state, ...(await browser.follow(url.toString(), CALLBACK)) };
  }

  /** Logs in through the login page; returns the callback URL and what redeems its code. */
  async function logIn(browser: HttpBrowser, params: Record<string, string> = {}) {
    const started = await authorize(browser, params);
    expect(new URL(started.url).pathname).toBe('/u/login');
    const form = loginForm(await started.response!.text(), issuer);
    const submitted = await browser.submit(form.action, { csrf: form.csrf, username: EMAIL, password: PASSWORD });
    expect(submitted.status).toBe(303);
    const callback = await browser.follow(new URL(submitted.headers.get('location')!, issuer).toString(), CALLBACK);
    const callbackUrl = new URL(callback.url);
    expect(callbackUrl.searchParams.get('code')).toBeTruthy();
    return { verifier: started.verifier, state: started.state, callbackUrl };
  }

  /** What a silent authorization (prompt=none) with this browser's cookies gets: a code, or the error. */
  async function silently(browser: HttpBrowser): Promise<string> {
    const params = new URL((await authorize(browser, { prompt: 'none' })).url).searchParams;
    return params.get('code') ? 'code' : (params.get('error') ?? 'nothing');
  }

  const sessionCookies = (browser: HttpBrowser) => SESSION_COOKIES.map((name) => browser.cookies.get(name));

  /** A browser holding nothing but the given session cookies. */
  function replaying(values: readonly (string | undefined)[]): HttpBrowser {
    const browser = new HttpBrowser();
    SESSION_COOKIES.forEach((name, i) => {
      if (values[i] !== undefined) browser.cookies.set(name, values[i]);
    });
    return browser;
  }

  it('gives the session a new id at each login; the old cookie, replayed, is worth nothing', async () => {
    const browser = new HttpBrowser();
    await logIn(browser);
    const before = sessionCookies(browser);
    expect(before[0]).toBeTruthy();

    await logIn(browser, { prompt: 'login' });
    const after = sessionCookies(browser);
    expect(after[0]).toBeTruthy();
    expect(after[0]).not.toBe(before[0]);

    expect(await silently(replaying(before))).toBe('login_required');
    // The same replay with the current cookie is logged in: the old one failed for being old.
    expect(await silently(replaying(after))).toBe('code');
  });

  it('ends the session after the idle period without use; each use extends it', async () => {
    const start = Date.now();
    vi.useFakeTimers({ toFake: ['Date'], now: start });
    const browser = new HttpBrowser();
    await logIn(browser);

    vi.setSystemTime(start + 59 * MINUTE);
    expect(await silently(browser)).toBe('code');
    // 118 min after login, 59 min after the last use: alive only because that use extended it.
    vi.setSystemTime(start + 118 * MINUTE);
    expect(await silently(browser)).toBe('code');
    // 61 min without use (and well within the 4 h absolute lifetime): gone.
    vi.setSystemTime(start + 179 * MINUTE);
    expect(await silently(browser)).toBe('login_required');
  });

  it('ends the session at its absolute lifetime from login, however active', async () => {
    const start = Date.now();
    vi.useFakeTimers({ toFake: ['Date'], now: start });
    const browser = new HttpBrowser();
    await logIn(browser);

    for (const minutes of [50, 100, 150, 200, 239]) {
      vi.setSystemTime(start + minutes * MINUTE);
      expect(await silently(browser), `${minutes} min after login`).toBe('code');
    }
    // 4 h after login, 2 min after the last use.
    vi.setSystemTime(start + 241 * MINUTE);
    expect(await silently(browser)).toBe('login_required');
  });

  it('keeps refresh tokens working after the session has ended, up to their 30 days', async () => {
    const start = Date.now();
    vi.useFakeTimers({ toFake: ['Date'], now: start });
    const browser = new HttpBrowser();
    // OIDC Core §11: offline_access needs prompt=consent (first-party: approved without a page).
    const login = await logIn(browser, { scope: 'openid offline_access', prompt: 'consent' });
    const tokens = await oidc.authorizationCodeGrant(rp, login.callbackUrl, { pkceCodeVerifier: login.verifier, expectedState: login.state });
    expect(tokens.refresh_token).toBeTruthy();

    vi.setSystemTime(start + 5 * 60 * MINUTE);
    expect(await silently(browser)).toBe('login_required');
    const refreshed = await oidc.refreshTokenGrant(rp, tokens.refresh_token!);
    expect(refreshed.access_token).toBeTruthy();

    // 30 days after the grant (the rotated refresh token itself would live 5 h more), it ends with its grant.
    vi.setSystemTime(start + (30 * 24 + 1) * 60 * MINUTE);
    await expect(oidc.refreshTokenGrant(rp, refreshed.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
  });
});
