import { createRemoteJWKSet, decodeJwt, jwtVerify } from 'jose';
import * as oidc from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startListeningTestApp, type TestApp } from '../../test/support/app.js';
import { describeEachBackend } from '../../test/support/backends.js';
import { systemRuntime } from '../storage/runtime.js';
import { tenantsStore } from '../tenants/store.js';
import { tenantStores, type TenantStores } from '../tenants/tenant-stores.js';
import { PASSWORD_GRANT, PASSWORD_REALM_GRANT } from './password-grant.js';

const PASSWORD = 'correct horse battery staple';
const REALM = 'Username-Password-Authentication';
const ORDERS = 'https://orders.example.test/';
const ARCHIVE = 'https://archive.example.test/';

type TokenAnswer = { status: number; body: Record<string, string> };

describeEachBackend('Auth0 password and password-realm grants at /oauth/token', (backend) => {
  let t: TestApp;
  let issuer: string;
  let tenantId: string;
  let stores: TenantStores;
  let app: { clientId: string; clientSecret: string };
  let plain: { clientId: string; clientSecret: string };
  let userId: string;

  beforeAll(async () => {
    ({ t, issuer, tenantId } = await startListeningTestApp(backend, { TENANT_CACHE_TTL_MS: '200' }));
    stores = tenantStores(t.database.db, tenantId, systemRuntime);
    await stores.resourceServers.insert({
      identifier: ORDERS,
      name: 'Orders',
      allowOfflineAccess: true,
      enforcePolicies: true,
      tokenDialect: 'access_token_authz',
      scopes: [
        { value: 'read:orders', description: 'Read orders' },
        { value: 'write:orders', description: 'Change orders' },
      ],
    });
    await stores.resourceServers.insert({ identifier: ARCHIVE, name: 'Archive', allowOfflineAccess: false, scopes: [{ value: 'read:archive', description: null }] });
    const created = await t.services.clients.create(tenantId, {
      name: 'Legacy App',
      appType: 'regular_web',
      tokenEndpointAuthMethod: 'client_secret_post',
      config: { grant_types: [PASSWORD_GRANT, PASSWORD_REALM_GRANT, 'refresh_token'] },
    });
    app = { clientId: created.clientId, clientSecret: created.clientSecret as string };
    const other = await t.services.clients.create(tenantId, { name: 'Web App', appType: 'regular_web', tokenEndpointAuthMethod: 'client_secret_post', config: { callbacks: ['https://app.example.test/cb'] } });
    plain = { clientId: other.clientId, clientSecret: other.clientSecret as string };
    const user = await t.services.users.signup({ tenantId, connectionName: REALM, email: 'jane@example.test', password: PASSWORD });
    userId = user.user_id;
    await stores.users.update(userId, { name: 'Jane Doe' });
    const role = await stores.roles.insert({ name: 'reader' });
    await stores.roles.addPermissions(role.id, [{ resource_server_identifier: ORDERS, permission_name: 'read:orders' }]);
    await stores.roles.assignToUser(userId, [role.id]);
  });
  afterAll(async () => t?.cleanup());

  const jwks = () => createRemoteJWKSet(new URL(`${issuer}.well-known/jwks.json`));

  async function token(body: Record<string, string>, client = app): Promise<TokenAnswer> {
    const res = await fetch(`${issuer}oauth/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ client_id: client.clientId, client_secret: client.clientSecret, ...body }).toString(),
    });
    return { status: res.status, body: (await res.json()) as Record<string, string> };
  }
  const realmGrant = (extra: Record<string, string> = {}) => token({ grant_type: PASSWORD_REALM_GRANT, username: 'jane@example.test', password: PASSWORD, realm: REALM, ...extra });

  it('issues an API access token, an ID token and a refresh token for the realm, with Auth0 claims and RBAC', async () => {
    const before = (await stores.users.findById(userId))!.logins_count;
    const { status, body } = await realmGrant({ audience: ORDERS, scope: 'openid profile email offline_access read:orders write:orders' });
    expect(status).toBe(200);
    expect(body.token_type).toBe('Bearer');
    expect(body.refresh_token).toEqual(expect.any(String));
    // RBAC: the user's role allows read:orders only.
    expect(body.scope).toBe('openid profile email offline_access read:orders');
    const { payload: at, protectedHeader } = await jwtVerify(body.access_token as string, jwks(), { issuer, typ: 'at+jwt' });
    expect(protectedHeader.alg).toBe('RS256');
    expect(at.sub).toBe(userId);
    expect(at.azp).toBe(app.clientId);
    expect(at.aud).toEqual([ORDERS, `${issuer}userinfo`]);
    expect(at.scope).toBe('openid profile email offline_access read:orders');
    expect(at.permissions).toEqual(['read:orders']);
    const { payload: id } = await jwtVerify(body.id_token as string, jwks(), { issuer, audience: app.clientId });
    expect(id).toMatchObject({ sub: userId, email: 'jane@example.test', name: 'Jane Doe' });
    expect(typeof id.auth_time).toBe('number');
    const after = await stores.users.findById(userId);
    expect(after!.logins_count).toBe(before + 1);
    expect(after!.last_ip).toBe('127.0.0.1');
  });

  it("signs ID tokens for 10 hours, or for the application's jwt_configuration.lifetime_in_seconds", async () => {
    const { body } = await realmGrant({ scope: 'openid' });
    const standard = decodeJwt(body.id_token as string);
    expect(standard.exp! - standard.iat!).toBe(36_000);
    const short = await t.services.clients.create(tenantId, {
      name: 'Short ID tokens',
      appType: 'regular_web',
      tokenEndpointAuthMethod: 'client_secret_post',
      config: { grant_types: [PASSWORD_REALM_GRANT], jwt_configuration: { lifetime_in_seconds: 600 } },
    });
    const answer = await token({ grant_type: PASSWORD_REALM_GRANT, username: 'jane@example.test', password: PASSWORD, realm: REALM, scope: 'openid' }, { clientId: short.clientId, clientSecret: short.clientSecret as string });
    expect(answer.status).toBe(200);
    const claims = decodeJwt(answer.body.id_token as string);
    expect(claims.exp! - claims.iat!).toBe(600);
  });

  it('lets the API access token call /userinfo (second audience), and refuses JWTs that may not', async () => {
    const { body } = await realmGrant({ audience: ORDERS, scope: 'openid email read:orders' });
    const userinfo = (value: string) => fetch(`${issuer}userinfo`, { headers: { authorization: `Bearer ${value}` } });
    const ok = await userinfo(body.access_token as string);
    expect(ok.status).toBe(200);
    expect(ok.headers.get('cache-control')).toBe('no-store');
    expect(await ok.json()).toEqual({ sub: userId, email: 'jane@example.test', email_verified: false });

    // Without openid the token's only audience is the API.
    const apiOnly = await realmGrant({ audience: ORDERS, scope: 'read:orders' });
    expect(decodeJwt(apiOnly.body.access_token as string).aud).toBe(ORDERS);
    const refused = await userinfo(apiOnly.body.access_token as string);
    expect(refused.status).toBe(401);
    expect(refused.headers.get('www-authenticate')).toContain('error="invalid_token"');
    // An ID token is not an access token; a tampered signature does not verify.
    expect((await userinfo(body.id_token as string)).status).toBe(401);
    const [h, p, sig] = (body.access_token as string).split('.');
    expect((await userinfo(`${h}.${p}.${sig!.slice(0, -4)}AAAA`)).status).toBe(401);
  });

  it('lets the refresh token rotate through the engine, keeping the API and the claims', async () => {
    const first = await realmGrant({ audience: ORDERS, scope: 'openid offline_access read:orders' });
    const rp = await oidc.discovery(new URL(issuer), app.clientId, app.clientSecret, oidc.ClientSecretPost(app.clientSecret), { execute: [oidc.allowInsecureRequests] });
    const refreshed = await oidc.refreshTokenGrant(rp, first.body.refresh_token as string);
    expect(refreshed.refresh_token).toBeDefined();
    expect(refreshed.refresh_token).not.toBe(first.body.refresh_token);
    const { payload } = await jwtVerify(refreshed.access_token, jwks(), { issuer, audience: ORDERS });
    expect(payload).toMatchObject({ sub: userId, permissions: ['read:orders'] });
    expect(refreshed.claims()?.sub).toBe(userId);
    // The used refresh token is spent: presenting it again fails (and revokes the grant).
    const reuse = await token({ grant_type: 'refresh_token', refresh_token: first.body.refresh_token as string });
    expect(reuse).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });
  });

  it('issues an opaque access token good for /userinfo when no audience is named', async () => {
    const { status, body } = await realmGrant({ scope: 'openid email' });
    expect(status).toBe(200);
    expect(body.access_token!.split('.')).toHaveLength(1);
    expect(body.refresh_token).toBeUndefined();
    const res = await fetch(`${issuer}userinfo`, { headers: { authorization: `Bearer ${body.access_token}` } });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ sub: userId, email: 'jane@example.test', email_verified: false });
  });

  it('issues no refresh token for an API that does not allow offline access, nor without offline_access', async () => {
    const archive = await realmGrant({ audience: ARCHIVE, scope: 'offline_access read:archive' });
    expect(archive.status).toBe(200);
    expect(archive.body.refresh_token).toBeUndefined();
    expect(archive.body.scope).toBe('read:archive');
    expect(decodeJwt(archive.body.access_token as string).aud).toBe(ARCHIVE);
    const online = await realmGrant({ audience: ORDERS, scope: 'read:orders' });
    expect(online.body.refresh_token).toBeUndefined();
    expect(online.body.id_token).toBeUndefined();
  });

  it('answers a wrong password and an unknown user with the same 403 invalid_grant', async () => {
    const wrong = await realmGrant({ password: 'not the password at all' });
    const unknown = await realmGrant({ username: 'nobody@example.test' });
    expect(wrong).toEqual({ status: 403, body: { error: 'invalid_grant', error_description: 'Wrong email or password.' } });
    expect(unknown).toEqual(wrong);
  });

  it('refuses a blocked user only once the password was right', async () => {
    const blocked = await t.services.users.signup({ tenantId, connectionName: REALM, email: 'blocked@example.test', password: PASSWORD });
    await stores.users.update(blocked.user_id, { blocked: true });
    expect(await realmGrant({ username: 'blocked@example.test' })).toEqual({ status: 403, body: { error: 'invalid_grant', error_description: 'user is blocked' } });
    expect(await realmGrant({ username: 'blocked@example.test', password: 'a wrong password here' })).toMatchObject({ status: 403, body: { error_description: 'Wrong email or password.' } });
  });

  it('answers RFC 6749 errors for missing parameters, unknown realms and APIs, and clients without the grant', async () => {
    expect(await token({ grant_type: PASSWORD_REALM_GRANT, username: 'jane@example.test', password: PASSWORD })).toEqual({
      status: 400,
      body: { error: 'invalid_request', error_description: 'missing required parameter(s) (realm)' },
    });
    expect(await token({ grant_type: PASSWORD_GRANT, username: 'jane@example.test' })).toMatchObject({ status: 400, body: { error: 'invalid_request', error_description: 'missing required parameter(s) (password)' } });
    expect(await realmGrant({ realm: 'No-Such-Connection' })).toMatchObject({ status: 400, body: { error: 'invalid_request' } });
    expect(await realmGrant({ audience: 'https://unknown.example.test/' })).toMatchObject({ status: 400, body: { error: 'invalid_target' } });
    expect(await token({ grant_type: PASSWORD_GRANT, username: 'jane@example.test', password: PASSWORD }, plain)).toMatchObject({ status: 400, body: { error: 'unauthorized_client' } });
    const dupes = await fetch(`${issuer}oauth/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: `grant_type=password&client_id=${app.clientId}&client_secret=${app.clientSecret}&username=a&username=b&password=x`,
    });
    expect(dupes.status).toBe(400);
    expect(await dupes.json()).toMatchObject({ error: 'invalid_request' });
  });

  describe('grant_type=password', () => {
    it('uses the default database connection, or the tenant default_directory when set', async () => {
      const ok = await token({ grant_type: PASSWORD_GRANT, username: 'jane@example.test', password: PASSWORD, scope: 'openid' });
      expect(ok.status).toBe(200);
      expect(decodeJwt(ok.body.id_token as string).sub).toBe(userId);

      const staff = await stores.connections.insert({ name: 'Staff', strategy: 'auth0' });
      await t.services.users.signup({ tenantId, connectionName: 'Staff', email: 'jane@example.test', password: 'another long password 42' });
      const tenant = await t.services.tenants.resolve(undefined);
      await tenantsStore(t.database.db, systemRuntime).updateSettings(tenantId, { ...tenant.settings, default_directory: staff.name });
      await new Promise((resolve) => setTimeout(resolve, 450));
      expect(await token({ grant_type: PASSWORD_GRANT, username: 'jane@example.test', password: PASSWORD })).toMatchObject({ status: 403 });
      expect((await token({ grant_type: PASSWORD_GRANT, username: 'jane@example.test', password: 'another long password 42' })).status).toBe(200);
    });
  });
});
