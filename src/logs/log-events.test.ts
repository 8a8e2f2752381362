import * as oidc from 'openid-client';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { adminSdk, sdkFailure } from '../../test/support/management.js';
import { startListeningTestApp, type TestApp } from '../../test/support/app.js';
import { describeEachBackend } from '../../test/support/backends.js';
import { codeFlow } from '../../test/support/code-flow.js';
import { HttpBrowser, loginForm } from '../../test/support/http-browser.js';
import { PASSWORD_REALM_GRANT } from '../oauth/password-grant.js';
import { systemRuntime } from '../storage/runtime.js';
import { tenantStores, type TenantStores } from '../tenants/tenant-stores.js';
import { logsStore, type LogEvent } from './store.js';

const PASSWORD = 'correct horse battery staple';
const CALLBACK = 'https://app.example.test/callback';
const LOGGED_OUT = 'https://app.example.test/logged-out';
const API = 'https://orders.example.test/';
const REALM = 'Username-Password-Authentication';
const UA = 'log-events-test/1.0';

/**
 * Every event type the flows produce, asserted after the real flow (the login
 * page through HttpBrowser, openid-client, the token endpoint, the auth0 SDK),
 * with Auth0's fields filled and no secret in any of them.
 */
describeEachBackend('security log events from real flows', (backend) => {
  let t: TestApp;
  let issuer: string;
  let tenantId: string;
  let stores: TenantStores;
  let web: { clientId: string; clientSecret: string };
  let m2m: { clientId: string; clientSecret: string };
  let rp: oidc.Configuration;
  let flow: ReturnType<typeof codeFlow>;
  let jane: { userId: string; connectionId: string };
  let admin: Awaited<ReturnType<typeof adminSdk>>;
  /** Every credential the flows used; no event may contain one. */
  const secrets = new Set<string>([PASSWORD]);
  let seen = 0;

  /** The events written since the last call, oldest first. */
  async function newEvents(): Promise<LogEvent[]> {
    const found = await logsStore(t.database.db, tenantId, systemRuntime).listAfterSeq(seen, 1000);
    seen = found.at(-1)?.seq ?? seen;
    return found.map((f) => f.event);
  }

  const janeFields = () => ({ user_id: jane.userId, user_name: 'jane@example.test', connection: REALM, connection_id: jane.connectionId, strategy: 'auth0' });
  const webFields = () => ({ client_id: web.clientId, client_name: 'Web App', ip: '127.0.0.1' });

  beforeAll(async () => {
    ({ t, issuer, tenantId } = await startListeningTestApp(backend));
    stores = tenantStores(t.database.db, tenantId, systemRuntime);
    await stores.resourceServers.insert({ identifier: API, name: 'Orders', allowOfflineAccess: true, scopes: [{ value: 'read:orders', description: null }] });
    const created = await t.services.clients.create(tenantId, {
      name: 'Web App',
      appType: 'regular_web',
      tokenEndpointAuthMethod: 'client_secret_post',
      config: { callbacks: [CALLBACK], allowed_logout_urls: [LOGGED_OUT], grant_types: ['authorization_code', 'refresh_token', 'password', PASSWORD_REALM_GRANT] },
    });
    web = { clientId: created.clientId, clientSecret: created.clientSecret as string };
    const machine = await t.services.clients.create(tenantId, { name: 'Billing Job', appType: 'non_interactive', tokenEndpointAuthMethod: 'client_secret_post', config: { grant_types: ['client_credentials'] } });
    m2m = { clientId: machine.clientId, clientSecret: machine.clientSecret as string };
    await stores.clientGrants.insert({ clientId: m2m.clientId, audience: API, scope: ['read:orders'] });
    secrets.add(web.clientSecret).add(m2m.clientSecret);
    const user = await t.services.users.signup({ tenantId, connectionName: REALM, email: 'jane@example.test', password: PASSWORD });
    jane = { userId: user.user_id, connectionId: (await stores.connections.findByName(REALM))!.id };
    rp = await oidc.discovery(new URL(issuer), web.clientId, web.clientSecret, oidc.ClientSecretPost(web.clientSecret), {
      execute: [oidc.allowInsecureRequests],
      [oidc.customFetch]: (url, options) => fetch(url, { ...options, headers: { ...(options.headers as Record<string, string>), 'user-agent': UA } }),
    });
    flow = codeFlow({ issuer, redirectUri: CALLBACK, password: PASSWORD });
    admin = await adminSdk(t, issuer, tenantId);
    secrets.add(admin.token);
    await newEvents();
  });
  afterAll(async () => t?.cleanup());

  it('login page and code flow: s, seacft, ssa, sertft, ferrt, fertft, slo — each with the Auth0 fields', async () => {
    const browser = new HttpBrowser();
    const login = await flow.signIn(browser, rp, 'jane@example.test', { audience: API, scope: 'openid email offline_access read:orders' });
    secrets.add(login.callbackUrl.searchParams.get('code')!);
    expect(await newEvents()).toEqual([
      expect.objectContaining({ type: 's', description: 'Success Login', ...janeFields(), ...webFields(), user_agent: expect.any(String), audience: API, scope: expect.stringContaining('read:orders') }),
    ]);

    const tokens = await flow.redeem(rp, login);
    secrets.add(tokens.access_token).add(tokens.refresh_token!).add(tokens.id_token!);
    expect(await newEvents()).toEqual([
      expect.objectContaining({ type: 'seacft', ...janeFields(), ...webFields(), user_agent: UA, audience: API, scope: expect.stringContaining('read:orders'), details: { grant_type: 'authorization_code' } }),
    ]);

    const silent = await flow.authorize(browser, rp, { prompt: 'none', audience: API, scope: 'openid read:orders' });
    expect(silent.url).toMatch(/^https:\/\/app\.example\.test\/callback\?code=/);
    secrets.add(new URL(silent.url).searchParams.get('code')!);
    expect(await newEvents()).toEqual([expect.objectContaining({ type: 'ssa', ...janeFields(), ...webFields(), audience: API, scope: 'openid read:orders', details: { prompt: 'none' } })]);

    const refreshed = await oidc.refreshTokenGrant(rp, tokens.refresh_token!);
    secrets.add(refreshed.access_token).add(refreshed.refresh_token!);
    expect(await newEvents()).toEqual([expect.objectContaining({ type: 'sertft', ...janeFields(), ...webFields(), audience: API, details: { grant_type: 'refresh_token', refresh_token_rotated: true } })]);

    // The rotated token presented again: ferrt (reuse), and the grant is revoked…
    await expect(oidc.refreshTokenGrant(rp, tokens.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
    expect(await newEvents()).toEqual([expect.objectContaining({ type: 'ferrt', user_id: jane.userId, ...webFields(), details: expect.objectContaining({ error: 'invalid_grant', error_detail: 'refresh token already used' }) })]);
    // …so the newest one fails too, as an ordinary refresh failure.
    await expect(oidc.refreshTokenGrant(rp, refreshed.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
    expect(await newEvents()).toEqual([expect.objectContaining({ type: 'fertft', ...webFields(), details: expect.objectContaining({ error: 'invalid_grant' }) })]);

    const out = await browser.fetch(`${issuer}v2/logout?client_id=${web.clientId}&returnTo=${encodeURIComponent(LOGGED_OUT)}`);
    expect(out.status).toBe(302);
    expect(await newEvents()).toEqual([expect.objectContaining({ type: 'slo', user_id: jane.userId, ...webFields(), details: { return_to: LOGGED_OUT, session_ended: true } })]);
  });

  it('refused logins: fp (wrong password), fu (unknown user, same answer), f (blocked user)', async () => {
    const attempt = async (username: string, password: string) => {
      const browser = new HttpBrowser();
      const started = await flow.authorize(browser, rp);
      const form = loginForm(await started.response!.text(), issuer);
      const res = await browser.submit(form.action, { csrf: form.csrf, username, password });
      const page = await res.text();
      return { status: res.status, error: /class="error"[^>]*>([^<]*)</.exec(page)?.[1] ?? page.includes('Wrong email or password.') };
    };
    const wrong = await attempt('jane@example.test', 'not the password at all');
    const unknown = await attempt('nobody@example.test', 'not the password at all');
    expect(unknown).toEqual(wrong);
    expect(await newEvents()).toEqual([
      expect.objectContaining({ type: 'fp', description: 'Wrong email or password.', ...janeFields(), ...webFields(), details: { error: { message: 'Wrong email or password.' }, reason: 'wrong_credentials' } }),
      expect.objectContaining({ type: 'fu', description: 'Wrong email or password.', user_id: null, user_name: 'nobody@example.test', connection: REALM, connection_id: jane.connectionId, strategy: 'auth0', ...webFields() }),
    ]);

    const blocked = await t.services.users.signup({ tenantId, connectionName: REALM, email: 'blocked@example.test', password: PASSWORD });
    await stores.users.update(blocked.user_id, { blocked: true });
    expect((await attempt('blocked@example.test', PASSWORD)).status).toBe(400);
    expect(await newEvents()).toEqual([expect.objectContaining({ type: 'f', description: 'user is blocked', user_id: blocked.user_id, user_name: 'blocked@example.test', connection: REALM, ...webFields() })]);
  });

  it('silent authentication without a session: fsa (login_required)', async () => {
    const { url } = await flow.authorize(new HttpBrowser(), rp, { prompt: 'none' });
    expect(new URL(url).searchParams.get('error')).toBe('login_required');
    expect(await newEvents()).toEqual([expect.objectContaining({ type: 'fsa', user_id: null, ...webFields(), details: { error: 'login_required', prompt: 'none' } })]);
  });

  it('a code redeemed twice: seacft then feacft', async () => {
    const login = await flow.signIn(new HttpBrowser(), rp, 'jane@example.test');
    secrets.add(login.callbackUrl.searchParams.get('code')!);
    const tokens = await flow.redeem(rp, login);
    secrets.add(tokens.access_token).add(tokens.id_token!);
    await expect(flow.redeem(rp, login)).rejects.toMatchObject({ error: 'invalid_grant' });
    expect((await newEvents()).map((e) => [e.type, e.client_id])).toEqual([
      ['s', web.clientId],
      ['seacft', web.clientId],
      ['feacft', web.clientId],
    ]);
  });

  const tokenRequest = async (body: Record<string, string>) => {
    const res = await fetch(`${issuer}oauth/token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', 'user-agent': UA }, body: new URLSearchParams(body).toString() });
    const json = (await res.json()) as Record<string, string>;
    for (const key of ['access_token', 'refresh_token', 'id_token']) if (json[key]) secrets.add(json[key]);
    return { status: res.status, body: json };
  };

  it('client credentials: seccft with the audience and scope, feccft for a wrong secret', async () => {
    const ok = await tokenRequest({ grant_type: 'client_credentials', client_id: m2m.clientId, client_secret: m2m.clientSecret, audience: API });
    expect(ok.status).toBe(200);
    const bad = await tokenRequest({ grant_type: 'client_credentials', client_id: m2m.clientId, client_secret: 'not-the-secret', audience: API });
    expect(bad.status).toBe(401);
    expect(await newEvents()).toEqual([
      expect.objectContaining({ type: 'seccft', client_id: m2m.clientId, client_name: 'Billing Job', user_id: null, audience: API, scope: 'read:orders', ip: '127.0.0.1', user_agent: UA }),
      expect.objectContaining({ type: 'feccft', client_id: m2m.clientId, client_name: 'Billing Job', details: expect.objectContaining({ error: 'invalid_client' }) }),
    ]);
  });

  it('password grants: s + sepft, fp + fepft, and the password-realm grant', async () => {
    const realm = await tokenRequest({ grant_type: PASSWORD_REALM_GRANT, client_id: web.clientId, client_secret: web.clientSecret, username: 'jane@example.test', password: PASSWORD, realm: REALM, audience: API, scope: 'openid read:orders' });
    expect(realm.status).toBe(200);
    const wrong = await tokenRequest({ grant_type: 'password', client_id: web.clientId, client_secret: web.clientSecret, username: 'jane@example.test', password: 'wrong password here' });
    expect(wrong.status).toBe(403);
    const plain = await tokenRequest({ grant_type: 'password', client_id: web.clientId, client_secret: web.clientSecret, username: 'jane@example.test', password: PASSWORD });
    expect(plain.status).toBe(200);
    expect(await newEvents()).toEqual([
      expect.objectContaining({ type: 's', ...janeFields(), ...webFields(), user_agent: UA, audience: API, scope: 'openid read:orders' }),
      expect.objectContaining({ type: 'sepft', ...janeFields(), ...webFields(), audience: API, scope: 'read:orders', details: { grant_type: PASSWORD_REALM_GRANT } }),
      expect.objectContaining({ type: 'fp', ...janeFields(), ...webFields() }),
      expect.objectContaining({ type: 'fepft', ...webFields(), details: expect.objectContaining({ error: 'invalid_grant', grant_type: 'password' }) }),
      expect.objectContaining({ type: 's', ...janeFields() }),
      expect.objectContaining({ type: 'sepft', ...janeFields(), details: { grant_type: 'password' } }),
    ]);
  });

  it('commits a password login and its token exchange (s + sepft) in one log transaction', async () => {
    const batches = async () => {
      const text = await (await fetch(`${issuer}metrics`)).text();
      const value = (name: string) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1]);
      return { count: value('portcullis_log_writer_batch_size_count'), sum: value('portcullis_log_writer_batch_size_sum') };
    };
    const before = await batches();
    const login = await tokenRequest({ grant_type: PASSWORD_REALM_GRANT, client_id: web.clientId, client_secret: web.clientSecret, username: 'jane@example.test', password: PASSWORD, realm: REALM, audience: API, scope: 'openid read:orders' });
    expect(login.status).toBe(200);
    const after = await batches();
    expect(after).toEqual({ count: before.count + 1, sum: before.sum + 2 });
    expect((await newEvents()).map((e) => e.type)).toEqual(['s', 'sepft']);
  });

  it('signup on the login page and at /dbconnections/signup: ss, and fs with the reason but never the password', async () => {
    const browser = new HttpBrowser();
    const started = await flow.authorize(browser, rp, { screen_hint: 'signup' });
    const page = await started.response!.text();
    const form = /<form method="post" action="([^"]+)"/.exec(page)?.[1];
    const csrf = /name="csrf" value="([^"]+)"/.exec(page)?.[1];
    const action = new URL(form!.replaceAll('&amp;', '&'), issuer).toString();
    const weak = await browser.submit(action, { csrf: csrf!, email: 'new@example.test', password: 'short1' });
    expect(weak.status).toBe(400);
    const created = await browser.submit(action, { csrf: csrf!, email: 'new@example.test', password: PASSWORD });
    expect(created.status).toBe(303);
    const newUser = (await stores.users.findByEmail('new@example.test'))[0]!;

    const api = (body: Record<string, string>) => fetch(`${issuer}dbconnections/signup`, { method: 'POST', headers: { 'content-type': 'application/json', 'user-agent': UA }, body: JSON.stringify(body) });
    expect((await api({ client_id: web.clientId, connection: REALM, email: 'api@example.test', password: PASSWORD })).status).toBe(200);
    expect((await api({ client_id: web.clientId, connection: REALM, email: 'api@example.test', password: 'another long passphrase' })).status).toBe(400);
    secrets.add('short1').add('another long passphrase');
    const apiUser = (await stores.users.findByEmail('api@example.test'))[0]!;

    expect(await newEvents()).toEqual([
      expect.objectContaining({ type: 'fs', user_name: 'new@example.test', user_id: null, ...webFields(), details: expect.objectContaining({ error: expect.objectContaining({ code: 'password_too_short' }), field: 'password' }) }),
      expect.objectContaining({ type: 'ss', user_id: newUser.user_id, user_name: 'new@example.test', connection: REALM, strategy: 'auth0', ...webFields() }),
      expect.objectContaining({ type: 'ss', user_id: apiUser.user_id, user_name: 'api@example.test', connection: REALM, connection_id: jane.connectionId, ...webFields(), user_agent: UA }),
      expect.objectContaining({ type: 'fs', user_name: 'api@example.test', connection: REALM, description: 'The user already exists.', details: { error: { code: 'user_exists', message: 'The user already exists.' } } }),
    ]);
  });

  it('logout failures: flo for a returnTo that is not allowed and for an unregistered post_logout_redirect_uri; slo at /oidc/logout', async () => {
    const browser = new HttpBrowser();
    const login = await flow.signIn(browser, rp, 'jane@example.test');
    const tokens = await flow.redeem(rp, login);
    secrets.add(tokens.access_token).add(tokens.id_token!).add(login.callbackUrl.searchParams.get('code')!);
    await newEvents();

    expect((await browser.fetch(`${issuer}v2/logout?client_id=${web.clientId}&returnTo=${encodeURIComponent('https://evil.example/')}`)).status).toBe(400);
    const badUri = oidc.buildEndSessionUrl(rp, { id_token_hint: tokens.id_token!, post_logout_redirect_uri: 'https://evil.example/' });
    expect((await browser.fetch(badUri.toString())).status).toBe(400);
    expect(await newEvents()).toEqual([
      expect.objectContaining({ type: 'flo', ...webFields(), details: { error: 'invalid_request', return_to: 'https://evil.example/' } }),
      expect.objectContaining({ type: 'flo', ...webFields(), description: 'post_logout_redirect_uri not registered', details: { error: 'invalid_request', post_logout_redirect_uri: 'https://evil.example/' } }),
    ]);

    const confirm = await browser.fetch(oidc.buildEndSessionUrl(rp, { id_token_hint: tokens.id_token!, post_logout_redirect_uri: LOGGED_OUT }).toString());
    const page = await confirm.text();
    const action = /<form[^>]*action="([^"]+)"/.exec(page)?.[1];
    const xsrf = /name="xsrf" value="([^"]+)"/.exec(page)?.[1];
    expect((await browser.submit(new URL(action!, issuer).toString(), { xsrf: xsrf!, logout: 'yes' })).status).toBe(303);
    expect(await newEvents()).toEqual([expect.objectContaining({ type: 'slo', user_id: jane.userId, ...webFields(), details: { channel: 'oidc' } })]);
  });

  it('Management API with the auth0 SDK: sapi and fapi, du + sdu on deletion, fdu for an unknown user', async () => {
    const { sdk, clientId } = admin;
    const created = await sdk.users.create({ connection: REALM, email: 'leaving@example.test', password: PASSWORD });
    await sdk.users.delete(created.user_id!);
    expect((await sdkFailure(sdk.users.delete(created.user_id!))).statusCode).toBe(404);
    const actor = { client_id: clientId, client_name: expect.any(String), ip: '127.0.0.1' };
    const user = { user_id: created.user_id, user_name: 'leaving@example.test', connection: REALM, connection_id: jane.connectionId, strategy: 'auth0' };
    expect(await newEvents()).toEqual([
      expect.objectContaining({ type: 'sapi', ...actor, details: expect.objectContaining({ request: expect.objectContaining({ method: 'post', path: '/api/v2/users' }) }) }),
      expect.objectContaining({ type: 'sdu', ...actor, ...user }),
      expect.objectContaining({ type: 'du', ...actor, ...user, description: 'User has been deleted.' }),
      expect.objectContaining({ type: 'sapi', ...actor, description: 'Delete user' }),
      expect.objectContaining({ type: 'fdu', ...actor, user_id: created.user_id, user_name: null, details: { error: 'inexistent_user' } }),
      expect.objectContaining({ type: 'fapi', ...actor, details: expect.objectContaining({ response: expect.objectContaining({ statusCode: 404 }) }) }),
    ]);
  });

  it('Management API reading: checkpoint paging with from/take, q search, /users/{id}/logs', async () => {
    const { sdk, token } = admin;
    const all = (await logsStore(t.database.db, tenantId, systemRuntime).listAfterSeq(0, 1000)).map((e) => e.event.log_id);
    const paged: string[] = [];
    let from = all[0]!;
    paged.push(from);
    for (;;) {
      // The SDK has no from/take; Auth0's checkpoint paging over plain HTTP.
      const res = await fetch(`${issuer}api/v2/logs?from=${from}&take=7`, { headers: { authorization: `Bearer ${token}` } });
      const page = (await res.json()) as Array<{ log_id: string }>;
      if (page.length === 0) break;
      paged.push(...page.map((e) => e.log_id));
      from = page.at(-1)!.log_id;
    }
    // Reading wrote more events (the token's seccft); the pages reach at least what existed, in order, once each.
    expect(paged.slice(0, all.length)).toEqual(all);
    expect(new Set(paged).size).toBe(paged.length);

    const fp = (await sdk.logs.list({ search: 'type:"fp" AND date:[2020-01-01 TO *]' })).data;
    expect(fp.length).toBeGreaterThanOrEqual(2);
    expect(fp.every((e) => e.type === 'fp')).toBe(true);
    const janes = (await sdk.users.logs.list(jane.userId, { per_page: 100 })).data;
    expect(janes.length).toBeGreaterThan(5);
    expect(janes.every((e) => e.user_id === jane.userId)).toBe(true);
    expect(new Set(janes.map((e) => e.type))).toEqual(expect.objectContaining(new Set(['s', 'seacft', 'fp', 'sepft'])));
  });

  it('metrics count logins by result, tokens by grant, events by type and the log writer’s batches', async () => {
    await t.events.publish({ tenantId, type: 'limit_wc', userName: 'jane@example.test', ip: '203.0.113.1' });
    const text = await (await fetch(`${issuer}metrics`)).text();
    const value = (line: string) => Number(new RegExp(`^${line.replace(/[{}"]/g, (c) => `\\${c}`)} (\\d+)`, 'm').exec(text)?.[1] ?? 0);
    expect(value('portcullis_logins_total{result="success",type="s"}')).toBeGreaterThanOrEqual(4);
    expect(value('portcullis_logins_total{result="failure",type="fu"}')).toBeGreaterThanOrEqual(1);
    expect(value('portcullis_tokens_total{grant="client_credentials",result="success"}')).toBeGreaterThanOrEqual(1);
    expect(value('portcullis_tokens_total{grant="refresh_token",result="failure"}')).toBeGreaterThanOrEqual(2);
    // Every event by type; refused attempts themselves are counted by attack protection (portcullis_blocked_attempts_total{kind}).
    expect(value('portcullis_security_events_total{type="limit_wc"}')).toBe(1);
    expect(value('portcullis_log_writer_batch_size_count')).toBeGreaterThan(10);
    expect(value('portcullis_log_writer_failures_total')).toBe(0);
  });

  it('no event holds a password, a client secret, a token or a code', async () => {
    const every = await logsStore(t.database.db, tenantId, systemRuntime).listAfterSeq(0, 10_000);
    expect(every.length).toBeGreaterThan(30);
    const stored = JSON.stringify(every);
    for (const secret of secrets) expect(stored.includes(secret), `a stored event contains a secret (${secret.slice(0, 4)}…)`).toBe(false);
  });

  it('a request whose event cannot be written fails instead of answering without it', async () => {
    let failing = false;
    t.events.onDurable(async () => {
      if (failing) throw new Error('log store unavailable');
    });
    failing = true;
    try {
      const cc = await tokenRequest({ grant_type: 'client_credentials', client_id: m2m.clientId, client_secret: m2m.clientSecret, audience: API });
      expect(cc.status).toBe(500);
      expect(cc.body).toEqual({ error: 'server_error', error_description: 'The request could not be completed.' });

      const browser = new HttpBrowser();
      const started = await flow.authorize(browser, rp);
      const form = loginForm(await started.response!.text(), issuer);
      const login = await browser.submit(form.action, { csrf: form.csrf, username: 'jane@example.test', password: PASSWORD });
      expect(login.status).toBe(500);
      expect(login.headers.get('location')).toBeNull();

      expect((await sdkFailure(admin.sdk.users.create({ connection: REALM, email: 'unlogged@example.test', password: PASSWORD }))).statusCode).toBe(500);
    } finally {
      failing = false;
    }
  });
});
