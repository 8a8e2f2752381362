import { afterAll, beforeAll, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../../test/support/app.js';
import { describeEachBackend } from '../../test/support/backends.js';

const MAIN = 'login.example.test:3000';
const ACME = 'auth.acme.test:3000';

describeEachBackend('Management API tenant isolation (tokens and objects never cross tenants)', (backend) => {
  let t: TestApp;
  let mainToken: string;
  let acmeToken: string;
  let acmeUserId: string;

  const call = (host: string, method: 'GET' | 'POST', url: string, token?: string, payload?: unknown) =>
    t.app.inject({ method, url, headers: { host, ...(token ? { authorization: `Bearer ${token}` } : {}) }, ...(payload !== undefined ? { payload: payload as object } : {}) });

  async function tokenFor(host: string, tenantId: string): Promise<string> {
    const admin = await t.services.clients.ensureAdminClient(tenantId);
    const res = await call(host, 'POST', '/oauth/token', undefined, { grant_type: 'client_credentials', client_id: admin.clientId, client_secret: admin.clientSecret, audience: `http://${host}/api/v2/` });
    expect(res.statusCode).toBe(200);
    return (res.json() as { access_token: string }).access_token;
  }

  beforeAll(async () => {
    t = await startTestApp(backend, { PUBLIC_URL: `http://${MAIN}`, TENANT_CACHE_TTL_MS: '200' });
    const main = await t.services.tenants.resolve(undefined);
    const acme = await t.services.tenants.create({ name: 'acme', domains: ['auth.acme.test'] });
    mainToken = await tokenFor(MAIN, main.id);
    acmeToken = await tokenFor(ACME, acme.id);
    const created = await call(ACME, 'POST', '/api/v2/users', acmeToken, { connection: 'Username-Password-Authentication', email: 'only.acme@example.test', password: 'correct horse battery staple' });
    expect(created.statusCode).toBe(201);
    acmeUserId = (created.json() as { user_id: string }).user_id;
  });
  afterAll(async () => t?.cleanup());

  it("tenant A's token is refused at tenant B (issuer and audience are B's), even for B's own objects", async () => {
    const res = await call(ACME, 'GET', `/api/v2/users/${encodeURIComponent(acmeUserId)}`, mainToken);
    expect(res.statusCode).toBe(401);
    expect(res.json()).toMatchObject({ statusCode: 401, message: 'Invalid token' });
  });

  it("tenant A cannot read tenant B's user by id at its own host: 404, as if it did not exist", async () => {
    const res = await call(MAIN, 'GET', `/api/v2/users/${encodeURIComponent(acmeUserId)}`, mainToken);
    expect(res.statusCode).toBe(404);
    const list = await call(MAIN, 'GET', '/api/v2/users?q=email:%22only.acme@example.test%22&search_engine=v3', mainToken);
    expect(list.json()).toEqual([]);
  });

  it("tenant B reads its own user", async () => {
    const res = await call(ACME, 'GET', `/api/v2/users/${encodeURIComponent(acmeUserId)}`, acmeToken);
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ user_id: acmeUserId, email: 'only.acme@example.test' });
  });
});
