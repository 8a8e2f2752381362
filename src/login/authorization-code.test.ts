import { createRemoteJWKSet, jwtVerify } from 'jose';
import * as oidc from 'openid-client';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startListeningTestApp, type TestApp } from '../../test/support/app.js';
import { describeEachBackend } from '../../test/support/backends.js';
import { HttpBrowser, loginForm } from '../../test/support/http-browser.js';
import { systemRuntime } from '../storage/runtime.js';
import { tenantStores } from '../tenants/tenant-stores.js';

const CALLBACK = 'https://app.example.test/callback';
const PASSWORD = 'correct horse battery staple';
const LOGGED_OUT = 'https://app.example.test/logged-out';

describeEachBackend('authorization code + PKCE through the login page (openid-client as the RP)', (backend) => {
  let t: TestApp;
  let issuer: string;
  let rp: oidc.Configuration;
  let tenantId: string;
  let clientId: string;

  beforeAll(async () => {
    ({ t, issuer, tenantId } = await startListeningTestApp(backend));
    const app = await t.services.clients.create(tenantId, {
      name: 'Web App',
      appType: 'regular_web',
      tokenEndpointAuthMethod: 'client_secret_basic',
      config: { callbacks: [CALLBACK], allowed_logout_urls: [LOGGED_OUT], grant_types: ['authorization_code', 'refresh_token'] },
    });
    await t.services.users.signup({ tenantId, connectionName: 'Username-Password-Authentication', email: 'jane@example.test', password: PASSWORD });
    clientId = app.clientId;
    rp = await oidc.discovery(new URL(issuer), app.clientId, app.clientSecret, undefined, { execute: [oidc.allowInsecureRequests] });
  });
  afterAll(async () => t?.cleanup());

  async function startLogin(browser: HttpBrowser, extra: Record<string, string> = {}) {
    const verifier = oidc.randomPKCECodeVerifier();
    const state = oidc.randomState();
    const url = oidc.buildAuthorizationUrl(rp, {
      redirect_uri: CALLBACK,
      scope: 'openid profile email',
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state,
      ...extra,
    });
    return { verifier, state, ...(await browser.follow(url.toString(), CALLBACK)) };
  }

  it('logs a user in and redeems the code for tokens with the right claims', async () => {
    const browser = new HttpBrowser();
    const { verifier, state, response, url } = await startLogin(browser);
    expect(url).toMatch(new RegExp(`^${issuer}u/login\\?state=`));
    expect(response!.status).toBe(200);
    expect(response!.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
    expect(response!.headers.get('cache-control')).toBe('no-store');
    const page = await response!.text();
    expect(page).toContain('<label for="username">');
    const form = loginForm(page, issuer);

    const submitted = await browser.submit(form.action, { csrf: form.csrf, username: 'JANE@example.test', password: PASSWORD });
    expect(submitted.status).toBe(303);
    const callback = await browser.follow(new URL(submitted.headers.get('location')!, issuer).toString(), CALLBACK);
    const callbackUrl = new URL(callback.url);
    expect(callbackUrl.searchParams.get('iss')).toBe(issuer); // RFC 9207

    const tokens = await oidc.authorizationCodeGrant(rp, callbackUrl, { pkceCodeVerifier: verifier, expectedState: state });
    const claims = tokens.claims()!;
    expect(claims).toMatchObject({ iss: issuer, email: 'jane@example.test', email_verified: false, nickname: 'jane' });
    expect(claims.sub).toMatch(/^auth0\|[0-9a-f]{24}$/);
    const userinfo = await oidc.fetchUserInfo(rp, tokens.access_token, claims.sub);
    expect(userinfo).toMatchObject({ sub: claims.sub, email: 'jane@example.test' });
    await expect(jwtVerify(tokens.id_token!, createRemoteJWKSet(new URL(`${issuer}.well-known/jwks.json`)), { issuer })).resolves.toBeDefined();

    // A code is good once.
    await expect(oidc.authorizationCodeGrant(rp, callbackUrl, { pkceCodeVerifier: verifier, expectedState: state })).rejects.toMatchObject({ error: 'invalid_grant' });

    // SSO: the same browser gets a code for prompt=none without a password.
    const silent = await startLogin(browser, { prompt: 'none' });
    expect(silent.url).toMatch(/^https:\/\/app.example.test\/callback\?code=/);
    expect(new URL(silent.url).searchParams.get('code')).toBeTruthy();
  });

  it('answers the same for an unknown user and a wrong password, and refuses a form without its token', async () => {
    const failures: string[] = [];
    t.events.observe((e) => void ((e.type === 'fp' || e.type === 'fu') && failures.push(`${e.type}:${e.userName}:${String(e.details?.reason)}`)));
    for (const [username, password] of [['jane@example.test', 'not the password at all'], ['nobody@example.test', PASSWORD]] as const) {
      const browser = new HttpBrowser();
      const { response } = await startLogin(browser);
      const form = loginForm(await response!.text(), issuer);
      const res = await browser.submit(form.action, { csrf: form.csrf, username, password });
      expect(res.status).toBe(400);
      const page = await res.text();
      expect(page).toContain('Wrong email or password.');
      expect(page).toContain(`value="${username}"`);
    }
    // The log tells them apart (fp: the account exists; fu: it does not); the answer above does not.
    expect(failures).toEqual(['fp:jane@example.test:wrong_credentials', 'fu:nobody@example.test:wrong_credentials']);
    const browser = new HttpBrowser();
    const { response } = await startLogin(browser);
    const form = loginForm(await response!.text(), issuer);
    expect((await browser.submit(form.action, { csrf: 'forged', username: 'jane@example.test', password: PASSWORD })).status).toBe(403);
    // Another browser (no interaction cookie) cannot post to this interaction.
    expect((await new HttpBrowser().submit(form.action, { csrf: form.csrf, username: 'jane@example.test', password: PASSWORD })).status).toBe(400);
  });

  it('prompt=none without a session returns login_required to the callback', async () => {
    const { url } = await startLogin(new HttpBrowser(), { prompt: 'none' });
    expect(new URL(url).searchParams.get('error')).toBe('login_required');
  });

  it('refuses an unregistered redirect_uri with an error page, never a redirect', async () => {
    const url = oidc.buildAuthorizationUrl(rp, { redirect_uri: 'https://evil.example/cb', scope: 'openid', code_challenge: 'x'.repeat(43), code_challenge_method: 'S256' });
    const res = await new HttpBrowser().fetch(url.toString());
    expect(res.status).toBe(400);
    expect(res.headers.get('location')).toBeNull();
  });

  it('rotates refresh tokens, and a reused one revokes the whole grant', async () => {
    const browser = new HttpBrowser();
    // OIDC Core §11: offline_access needs prompt=consent; first-party clients are not asked.
    const { verifier, state, response } = await startLogin(browser, { scope: 'openid offline_access', prompt: 'consent' });
    const form = loginForm(await response!.text(), issuer);
    const submitted = await browser.submit(form.action, { csrf: form.csrf, username: 'jane@example.test', password: PASSWORD });
    const callback = await browser.follow(new URL(submitted.headers.get('location')!, issuer).toString(), CALLBACK);
    const first = await oidc.authorizationCodeGrant(rp, new URL(callback.url), { pkceCodeVerifier: verifier, expectedState: state });
    expect(first.refresh_token).toBeTruthy();

    const second = await oidc.refreshTokenGrant(rp, first.refresh_token!);
    expect(second.refresh_token).toBeTruthy();
    expect(second.refresh_token).not.toBe(first.refresh_token);

    // Reuse of the first refresh token: refused, and the rotated one dies with the grant.
    await expect(oidc.refreshTokenGrant(rp, first.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
    await expect(oidc.refreshTokenGrant(rp, second.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
    // …and so does the access token issued under it.
    await expect(oidc.fetchUserInfo(rp, second.access_token, first.claims()!.sub)).rejects.toBeDefined();
  });

  it('issues refresh tokens for offline_access without prompt=consent, also silently, except for an API that disallows offline access', async () => {
    const browser = new HttpBrowser();
    const redeem = async (flow: { verifier: string; state: string; url: string }) =>
      oidc.authorizationCodeGrant(rp, new URL(flow.url), { pkceCodeVerifier: flow.verifier, expectedState: flow.state });
    // Auth0 keeps offline_access without prompt=consent (first-party: no consent page either).
    const started = await startLogin(browser, { scope: 'openid offline_access' });
    const form = loginForm(await started.response!.text(), issuer);
    const submitted = await browser.submit(form.action, { csrf: form.csrf, username: 'jane@example.test', password: PASSWORD });
    const callback = await browser.follow(new URL(submitted.headers.get('location')!, issuer).toString(), CALLBACK);
    const first = await redeem({ ...started, url: callback.url });
    expect(first.refresh_token).toBeTruthy();
    expect(first.scope).toBe('openid offline_access');

    // SSO: prompt=none with offline_access (how Auth0's SDKs renew) also gets one.
    const silent = await startLogin(browser, { scope: 'openid offline_access', prompt: 'none' });
    expect(silent.url).toMatch(/^https:\/\/app.example.test\/callback\?code=/);
    expect((await redeem(silent)).refresh_token).toBeTruthy();

    // Without offline_access, none.
    expect((await redeem(await startLogin(browser, { prompt: 'none' }))).refresh_token).toBeUndefined();

    // An API with allow_offline_access off gets no refresh token (Auth0's per-API rule).
    const api = 'https://no-offline.example.test/';
    await tenantStores(t.database.db, tenantId, systemRuntime).resourceServers.insert({ identifier: api, name: 'No offline', allowOfflineAccess: false, scopes: [] });
    const forApi = await redeem(await startLogin(browser, { scope: 'openid offline_access', audience: api, prompt: 'none' }));
    expect(forApi.access_token.split('.')).toHaveLength(3);
    expect(forApi.refresh_token).toBeUndefined();
  });

  async function loggedIn(): Promise<{ browser: HttpBrowser; idToken: string }> {
    const browser = new HttpBrowser();
    const { verifier, state, response } = await startLogin(browser);
    const form = loginForm(await response!.text(), issuer);
    const submitted = await browser.submit(form.action, { csrf: form.csrf, username: 'jane@example.test', password: PASSWORD });
    const callback = await browser.follow(new URL(submitted.headers.get('location')!, issuer).toString(), CALLBACK);
    const tokens = await oidc.authorizationCodeGrant(rp, new URL(callback.url), { pkceCodeVerifier: verifier, expectedState: state });
    return { browser, idToken: tokens.id_token! };
  }

  it('Auth0 /v2/logout ends the session server-side and returns only to an allowed URL', async () => {
    const { browser } = await loggedIn();
    const stolen = new Map(browser.cookies); // the cookies as they were before logout

    const refused = await browser.fetch(`${issuer}v2/logout?client_id=${clientId}&returnTo=${encodeURIComponent('https://evil.example/')}`);
    expect(refused.status).toBe(400);
    expect(refused.headers.get('location')).toBeNull();
    expect((await startLogin(browser, { prompt: 'none' })).url.startsWith(CALLBACK)).toBe(true); // still logged in

    const res = await browser.fetch(`${issuer}v2/logout?client_id=${clientId}&returnTo=${encodeURIComponent(LOGGED_OUT)}`);
    expect(res.status).toBe(302);
    expect(res.headers.get('location')).toBe(LOGGED_OUT);
    expect(new URL((await startLogin(browser, { prompt: 'none' })).url).searchParams.get('error')).toBe('login_required');

    // Replaying the old session cookie does not bring the session back.
    const replay = new HttpBrowser();
    for (const [k, v] of stolen) replay.cookies.set(k, v);
    expect(new URL((await startLogin(replay, { prompt: 'none' })).url).searchParams.get('error')).toBe('login_required');
  });

  it('RP-initiated logout (/oidc/logout) asks for confirmation, then ends the session and returns to the registered URL', async () => {
    const { browser, idToken } = await loggedIn();
    const url = oidc.buildEndSessionUrl(rp, { id_token_hint: idToken, post_logout_redirect_uri: LOGGED_OUT, state: 'bye' });
    const confirm = await browser.fetch(url.toString());
    expect(confirm.status).toBe(200);
    expect(confirm.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
    const page = await confirm.text();
    const action = /<form[^>]*action="([^"]+)"/.exec(page)?.[1];
    const xsrf = /name="xsrf" value="([^"]+)"/.exec(page)?.[1];
    expect(action && xsrf).toBeTruthy();
    const done = await browser.submit(new URL(action!, issuer).toString(), { xsrf: xsrf!, logout: 'yes' });
    expect(done.status).toBe(303);
    const final = await browser.follow(new URL(done.headers.get('location')!, issuer).toString(), LOGGED_OUT);
    expect(final.url).toBe(`${LOGGED_OUT}?state=bye`);
    expect(new URL((await startLogin(browser, { prompt: 'none' })).url).searchParams.get('error')).toBe('login_required');
  });

  it('user access tokens for an RBAC API carry only permitted scopes and the permissions claim', async () => {
    const api = 'https://orders.example.test/';
    const stores = tenantStores(t.database.db, tenantId, systemRuntime);
    await stores.resourceServers.insert({
      identifier: api,
      name: 'Orders',
      enforcePolicies: true,
      tokenDialect: 'access_token_authz',
      scopes: [{ value: 'read:orders', description: null }, { value: 'write:orders', description: null }],
    });
    const role = await stores.roles.insert({ name: 'reader' });
    await stores.roles.addPermissions(role.id, [{ resource_server_identifier: api, permission_name: 'read:orders' }]);
    const jane = (await stores.users.findByEmail('jane@example.test'))[0]!;
    await stores.roles.assignToUser(jane.user_id, [role.id]);

    const browser = new HttpBrowser();
    const { verifier, state, response } = await startLogin(browser, { audience: api, scope: 'openid read:orders write:orders' });
    const form = loginForm(await response!.text(), issuer);
    const submitted = await browser.submit(form.action, { csrf: form.csrf, username: 'jane@example.test', password: PASSWORD });
    const callback = await browser.follow(new URL(submitted.headers.get('location')!, issuer).toString(), CALLBACK);
    const tokens = await oidc.authorizationCodeGrant(rp, new URL(callback.url), { pkceCodeVerifier: verifier, expectedState: state });
    const { payload } = await jwtVerify(tokens.access_token, createRemoteJWKSet(new URL(`${issuer}.well-known/jwks.json`)), { issuer, audience: api, typ: 'at+jwt' });
    // As Auth0: the OIDC scopes come first, the userinfo URL is a second audience, RBAC keeps read:orders only.
    expect(payload).toMatchObject({ sub: jane.user_id, azp: clientId, scope: 'openid read:orders', permissions: ['read:orders'], aud: [api, `${issuer}userinfo`] });
    expect(tokens.scope).toBe('openid read:orders');
    const userinfo = await fetch(`${issuer}userinfo`, { headers: { authorization: `Bearer ${tokens.access_token}` } });
    expect(await userinfo.json()).toEqual({ sub: jane.user_id });
  });

  it('signs a new user up through the signup page (screen_hint=signup) and logs them in', async () => {
    const browser = new HttpBrowser();
    const { verifier, state, response, url } = await startLogin(browser, { screen_hint: 'signup' });
    expect(new URL(url).pathname).toBe('/u/login/signup');
    const page = await response!.text();
    expect(page).toContain('<label for="email">');
    const form = loginForm(page, issuer);

    const weak = await browser.submit(form.action, { csrf: form.csrf, email: 'sam@example.test', password: 'short' });
    expect(weak.status).toBe(400);
    const weakPage = await weak.text();
    expect(weakPage).toContain('role="alert"');
    expect(weakPage).toContain('value="sam@example.test"');

    const created = await browser.submit(form.action, { csrf: form.csrf, email: 'sam@example.test', password: 'a perfectly long passphrase' });
    expect(created.status).toBe(303);
    const callback = await browser.follow(new URL(created.headers.get('location')!, issuer).toString(), CALLBACK);
    const tokens = await oidc.authorizationCodeGrant(rp, new URL(callback.url), { pkceCodeVerifier: verifier, expectedState: state });
    expect(tokens.claims()).toMatchObject({ email: 'sam@example.test' });

    // The login page links to signup.
    const login = await startLogin(new HttpBrowser());
    expect(await login.response!.text()).toMatch(/href="\/u\/login\/signup\?state=[^"]+">Sign up</);
  });
});
