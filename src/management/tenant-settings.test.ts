import { type ManagementClient } from 'auth0';
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startListeningTestApp, type TestApp } from '../../test/support/app.js';
import { describeEachBackend } from '../../test/support/backends.js';
import { HttpBrowser, loginForm } from '../../test/support/http-browser.js';
import { adminSdk, sdkFailure } from '../../test/support/management.js';
import { DEFAULT_DATABASE_CONNECTION } from '../connections/store.js';
import { systemRuntime } from '../storage/runtime.js';
import { tenantsStore } from '../tenants/store.js';
import { tenantStores } from '../tenants/tenant-stores.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describeEachBackend('Management API /api/v2/tenants/settings with the official auth0 SDK', (backend) => {
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

  const tenants = () => tenantsStore(t.database.db, systemRuntime);
  const patch = (body: unknown) =>
    fetch(`${issuer}api/v2/tenants/settings`, { method: 'PATCH', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const failure = sdkFailure;

  it("answers Auth0's shape with Auth0's defaults, and none of Portcullis's own settings", async () => {
    const settings = await sdk.tenants.settings.get();
    expect(settings).toMatchObject({ session_lifetime: 168, idle_session_lifetime: 72, enabled_locales: ['en'], allowed_logout_urls: [] });
    expect(settings).not.toHaveProperty('signing_alg');
    expect(settings).not.toHaveProperty('primary_color');
    const picked = await sdk.tenants.settings.get({ fields: 'session_lifetime', include_fields: true });
    expect(picked).toEqual({ session_lifetime: 168 });
  });

  it('merges PATCH at the first level, keeps settings it does not expose, and bumps config_version', async () => {
    const before = await tenants().findById(tenantId);
    await tenants().updateSettings(tenantId, { ...before!.settings, primary_color: '#123456' });
    const versionBefore = (await tenants().configVersions()).get(tenantId)!;

    const first = await sdk.tenants.settings.update({ friendly_name: 'Acme Login', support_email: 'help@acme.example', allowed_logout_urls: ['https://acme.example/bye'] });
    expect(first).toMatchObject({ friendly_name: 'Acme Login', support_email: 'help@acme.example', allowed_logout_urls: ['https://acme.example/bye'], session_lifetime: 168 });
    const second = await sdk.tenants.settings.update({ session_lifetime_in_minutes: 90, idle_session_lifetime: 1 });
    expect(second).toMatchObject({ friendly_name: 'Acme Login', support_email: 'help@acme.example', session_lifetime: 1.5, idle_session_lifetime: 1 });
    expect(await sdk.tenants.settings.get()).toEqual(second);

    const stored = (await tenants().findById(tenantId))!.settings;
    expect(stored).toMatchObject({ friendly_name: 'Acme Login', primary_color: '#123456', signing_alg: 'RS256', session_lifetime: 1.5 });
    expect((await tenants().configVersions()).get(tenantId)).toBe(versionBefore + 2);
  });

  it('refuses unknown APIs and connections, out-of-bounds lifetimes, unsafe URLs and foreign fields in Auth0 shape', async () => {
    const audience = await patch({ default_audience: 'https://nowhere.example/' });
    expect(audience.status).toBe(400);
    expect(await audience.json()).toEqual({
      statusCode: 400,
      error: 'Bad Request',
      message: `Payload validation error: 'No API has the identifier "https://nowhere.example/"' on property default_audience.`,
      errorCode: 'invalid_body',
    });
    expect(await (await patch({ default_directory: 'no-such-db' })).json()).toMatchObject({ statusCode: 400, message: `Payload validation error: 'No database connection is named "no-such-db"' on property default_directory.` });
    for (const body of [{ session_lifetime: 8761 }, { session_lifetime: 0 }, { idle_session_lifetime: 2401 }, { session_lifetime: 2, session_lifetime_in_minutes: 120 }, { enabled_locales: [] }]) {
      const res = await patch(body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(await res.json()).toMatchObject({ errorCode: 'invalid_body' });
    }
    for (const url of ['javascript:alert(1)', 'http://evil.example/', 'https://*.example/']) {
      expect((await failure(sdk.tenants.settings.update({ allowed_logout_urls: [url] }))).statusCode).toBe(400);
      expect((await patch({ picture_url: url })).status).toBe(400);
    }
    expect(await (await patch({ signing_alg: 'ES256' })).json()).toMatchObject({ message: "Payload validation error: 'Additional properties not allowed: signing_alg'." });
    // Nothing of the refused requests was stored.
    expect((await sdk.tenants.settings.get()).allowed_logout_urls).toEqual(['https://acme.example/bye']);
  });

  it('puts a new default_audience in force within a second: a client_credentials token without audience gets that API', async () => {
    const stores = tenantStores(t.database.db, tenantId, systemRuntime);
    const identifier = 'https://orders.example.test/';
    await stores.resourceServers.insert({ identifier, name: 'Orders', scopes: [{ value: 'read:orders', description: null }] });
    const machine = await t.services.clients.create(tenantId, { name: 'Orders worker', appType: 'non_interactive', config: { grant_types: ['client_credentials'] } });
    await stores.clientGrants.insert({ clientId: machine.clientId, audience: identifier, scope: ['read:orders'] });
    const tokenWithoutAudience = () =>
      fetch(`${issuer}oauth/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ grant_type: 'client_credentials', client_id: machine.clientId, client_secret: machine.clientSecret! }).toString(),
      });
    await sleep(450);
    // Without a default audience the engine issues no token for that API (an opaque token, or an error).
    const before = await tokenWithoutAudience();
    const beforeToken = before.status === 200 ? ((await before.json()) as { access_token: string }).access_token : undefined;
    expect(beforeToken === undefined || beforeToken.split('.').length !== 3 ? undefined : decodeJwt(beforeToken).aud).not.toBe(identifier);

    expect((await sdk.tenants.settings.update({ default_audience: identifier })).default_audience).toBe(identifier);
    // Two cache periods (TENANT_CACHE_TTL_MS = 200 ms here; 1 s by default) and the engine has it.
    await sleep(450);
    const res = await tokenWithoutAudience();
    expect(res.status).toBe(200);
    const accessToken = ((await res.json()) as { access_token: string }).access_token;
    expect(decodeJwt(accessToken)).toMatchObject({ aud: identifier, scope: 'read:orders' });

    // An empty string clears it (as in Auth0).
    expect(await sdk.tenants.settings.update({ default_audience: '' })).not.toHaveProperty('default_audience');
    expect((await tenants().findById(tenantId))!.settings.default_audience).toBeUndefined();
  });

  it('puts a new session lifetime in force within a second: the next SSO session is stored with it', async () => {
    const email = 'session@example.test';
    const password = 'a sufficiently long passphrase';
    await t.services.users.signup({ tenantId, connectionName: DEFAULT_DATABASE_CONNECTION, email, password });
    const web = await t.services.clients.create(tenantId, { name: 'Session web', appType: 'regular_web', config: { callbacks: ['https://session.example.test/cb'], grant_types: ['authorization_code'] } });
    await sdk.tenants.settings.update({ session_lifetime_in_minutes: 20, idle_session_lifetime: 72 });
    await sleep(450);

    const browser = new HttpBrowser();
    const authorize = `${issuer}authorize?${new URLSearchParams({ client_id: web.clientId, response_type: 'code', redirect_uri: 'https://session.example.test/cb', scope: 'openid', code_challenge: 'x'.repeat(43), code_challenge_method: 'S256' })}`;
    const page = await browser.follow(authorize, 'https://session.example.test/cb');
    const form = loginForm(await page.response!.text(), issuer);
    const loggedIn = Date.now();
    const submitted = await browser.submit(form.action, { csrf: form.csrf, username: email, password });
    expect(submitted.status).toBe(303);
    // The engine saves the session when the authorization resumes after the login.
    const callback = await browser.follow(new URL(submitted.headers.get('location')!, issuer).toString(), 'https://session.example.test/cb');
    expect(new URL(callback.url).searchParams.get('code')).toBeTruthy();
    const sessions = await t.database.db.selectFrom('oidc_artifacts').select('expires_at').where('tenant_id', '=', tenantId).where('kind', '=', 'Session').execute();
    expect(sessions.length).toBeGreaterThan(0);
    for (const session of sessions) {
      const left = Date.parse(session.expires_at!) - loggedIn;
      // 20 minutes from login (not the idle 72 h, nor the former 1.5 h).
      expect(left).toBeGreaterThan(19 * 60_000);
      expect(left).toBeLessThan(21 * 60_000);
    }
  });
});
