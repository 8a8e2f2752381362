import { type ManagementClient } from 'auth0';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startListeningTestApp, type TestApp } from '../../test/support/app.js';
import { describeEachBackend } from '../../test/support/backends.js';
import { createTenant } from '../../test/support/fixtures.js';
import { adminSdk, managementFetch, managementToken, sdkFailure, sdkFor } from '../../test/support/management.js';
import { DEFAULT_DATABASE_CONNECTION } from '../connections/store.js';
import { artifactsStore } from '../oauth/artifact-store.js';
import { PASSWORD_REALM_GRANT } from '../oauth/password-grant.js';
import { systemRuntime } from '../storage/runtime.js';
import { tenantStores, type TenantStores } from '../tenants/tenant-stores.js';

const PASSWORD = 'correct horse battery staple';
const ORDERS = 'https://orders.example.test/';

describeEachBackend('Management API /api/v2/grants (user consent grants) with the official auth0 SDK', (backend) => {
  let t: TestApp;
  let issuer: string;
  let tenantId: string;
  let sdk: ManagementClient;
  let token: string;
  let stores: TenantStores;
  let appA: { clientId: string; clientSecret: string };
  let appB: { clientId: string; clientSecret: string };
  let counter = 0;

  beforeAll(async () => {
    ({ t, issuer, tenantId } = await startListeningTestApp(backend, { TENANT_CACHE_TTL_MS: '200' }));
    ({ sdk, token } = await adminSdk(t, issuer, tenantId));
    stores = tenantStores(t.database.db, tenantId, systemRuntime);
    await stores.resourceServers.insert({ identifier: ORDERS, name: 'Orders', allowOfflineAccess: true, scopes: [{ value: 'read:orders', description: null }] });
    const client = async (name: string) => {
      const created = await t.services.clients.create(tenantId, { name, appType: 'regular_web', tokenEndpointAuthMethod: 'client_secret_post', config: { grant_types: [PASSWORD_REALM_GRANT, 'refresh_token'] } });
      return { clientId: created.clientId, clientSecret: created.clientSecret as string };
    };
    appA = await client('App A');
    appB = await client('App B');
  });
  afterAll(async () => t?.cleanup());

  const api = managementFetch(() => issuer, () => token);
  const failure = sdkFailure;
  const post = async (body: Record<string, string>) => {
    const res = await fetch(`${issuer}oauth/token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(body).toString() });
    return { status: res.status, body: (await res.json()) as Record<string, string> };
  };
  const credentials = (client: { clientId: string; clientSecret: string }) => ({ client_id: client.clientId, client_secret: client.clientSecret });
  /** A refresh token by the password-realm grant: its engine Grant is stored (a refresh token refers to it). */
  const login = async (client: { clientId: string; clientSecret: string }, username: string, extra: Record<string, string> = {}) => {
    const { body } = await post({ grant_type: PASSWORD_REALM_GRANT, ...credentials(client), username, password: PASSWORD, realm: DEFAULT_DATABASE_CONNECTION, scope: 'openid offline_access', ...extra });
    if (!body.refresh_token) throw new Error(`no refresh token: ${JSON.stringify(body)}`);
    return body.refresh_token;
  };
  const refreshStatus = async (client: { clientId: string; clientSecret: string }, refreshToken: string) => (await post({ grant_type: 'refresh_token', ...credentials(client), refresh_token: refreshToken })).status;
  const newUser = async () => t.services.users.signup({ tenantId, connectionName: DEFAULT_DATABASE_CONNECTION, email: `grants-${++counter}@example.test`, password: PASSWORD });

  it('lists a user’s grants in Auth0’s shape: one per audience, /userinfo for OpenID-only ones, with filters and totals', async () => {
    const user = await newUser();
    await login(appA, user.email!, { audience: ORDERS, scope: 'openid offline_access read:orders' });
    await login(appB, user.email!);
    const page = await sdk.userGrants.list({ user_id: user.user_id });
    const grants = [page.data.find((g) => g.clientID === appA.clientId), page.data.find((g) => g.clientID === appB.clientId)];
    expect(page.data).toHaveLength(2);
    expect(grants).toEqual([
      { id: expect.any(String), clientID: appA.clientId, user_id: user.user_id, audience: ORDERS, scope: ['openid', 'offline_access', 'read:orders'] },
      { id: expect.any(String), clientID: appB.clientId, user_id: user.user_id, audience: `${issuer}userinfo`, scope: ['openid', 'offline_access'] },
    ]);
    expect(page.response).toMatchObject({ start: 0, limit: 50, total: 2 });
    expect((await sdk.userGrants.list({ user_id: user.user_id, client_id: appB.clientId })).data.map((g) => g.clientID)).toEqual([appB.clientId]);
    expect((await sdk.userGrants.list({ user_id: user.user_id, audience: ORDERS })).data.map((g) => g.clientID)).toEqual([appA.clientId]);
    // Without user_id the tenant's grants are filtered: App B's grants of this user are among them.
    const byClient = await sdk.userGrants.list({ client_id: appB.clientId, per_page: 100 });
    expect(byClient.data.some((g) => g.user_id === user.user_id)).toBe(true);
    expect(byClient.data.every((g) => g.clientID === appB.clientId)).toBe(true);
    const plain = await api(`/grants?user_id=${encodeURIComponent(user.user_id)}&per_page=1&page=1`);
    expect(((await plain.json()) as unknown[]).length).toBe(1);
  });

  it('deletes one grant: what was issued under it stops working, the user’s other grants do not', async () => {
    const user = await newUser();
    const tokenA = await login(appA, user.email!);
    const tokenB = await login(appB, user.email!);
    const [grantA] = (await sdk.userGrants.list({ user_id: user.user_id, client_id: appA.clientId })).data;
    await sdk.userGrants.delete(grantA!.id!);
    expect(await refreshStatus(appA, tokenA)).toBe(400);
    expect(await refreshStatus(appB, tokenB)).toBe(200);
    expect((await sdk.userGrants.list({ user_id: user.user_id })).data.map((g) => g.clientID)).toEqual([appB.clientId]);
    const again = await failure(sdk.userGrants.delete(grantA!.id!));
    expect(again.body).toEqual({ statusCode: 404, error: 'Not Found', message: 'The grant does not exist.', errorCode: 'inexistent_grant' });
  });

  it('deletes every grant of a user by user_id, and nothing of other users', async () => {
    const user = await newUser();
    const bystander = await newUser();
    const tokens = [await login(appA, user.email!), await login(appB, user.email!)];
    const kept = await login(appA, bystander.email!);
    await sdk.userGrants.deleteByUserId({ user_id: user.user_id });
    expect(await refreshStatus(appA, tokens[0]!)).toBe(400);
    expect(await refreshStatus(appB, tokens[1]!)).toBe(400);
    expect((await sdk.userGrants.list({ user_id: user.user_id })).data).toEqual([]);
    expect(await refreshStatus(appA, kept)).toBe(200);
    expect(await (await api('/grants', { method: 'DELETE' })).json()).toMatchObject({ statusCode: 400, errorCode: 'invalid_query_string' });
  });

  it('keeps tenants apart and requires the grants scopes', async () => {
    const other = await createTenant(t.database, 'other-grants');
    await artifactsStore(t.database.db, other.id, systemRuntime).upsert('Grant', 'foreign-grant', { accountId: 'auth0|foreign', clientId: 'c', openid: { scope: 'openid' } }, 3600);
    expect((await api('/grants/foreign-grant', { method: 'DELETE' })).status).toBe(404);
    expect((await sdk.userGrants.list({ user_id: 'auth0|foreign' })).data).toEqual([]);
    expect(await artifactsStore(t.database.db, other.id, systemRuntime).find('Grant', 'foreign-grant')).toBeDefined();

    const reader = await t.services.clients.create(tenantId, { name: 'Grant reader', appType: 'non_interactive', config: { grant_types: ['client_credentials'] } });
    await stores.clientGrants.insert({ clientId: reader.clientId, audience: `${issuer}api/v2/`, scope: ['read:grants'] });
    const readerSdk = sdkFor(issuer, await managementToken(issuer, { clientId: reader.clientId, clientSecret: reader.clientSecret! }));
    expect(Array.isArray((await readerSdk.userGrants.list()).data)).toBe(true);
    const refused = await failure(readerSdk.userGrants.deleteByUserId({ user_id: 'auth0|anyone' }));
    expect(refused.body).toEqual({ statusCode: 403, error: 'Forbidden', message: 'Insufficient scope, expected any of: delete:grants', errorCode: 'insufficient_scope' });
  });
});
