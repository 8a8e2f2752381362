import { type ManagementClient } from 'auth0';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startListeningTestApp, type TestApp } from '../../test/support/app.js';
import { describeEachBackend } from '../../test/support/backends.js';
import { adminSdk, managementFetch, managementToken, sdkFailure, sdkFor } from '../../test/support/management.js';
import { logsStore } from '../logs/store.js';
import { systemRuntime } from '../storage/runtime.js';
import { tenantStores } from '../tenants/tenant-stores.js';

describeEachBackend('Management API /api/v2/clients with the official auth0 SDK', (backend) => {
  let t: TestApp;
  let issuer: string;
  let tenantId: string;
  let sdk: ManagementClient;
  let token: string;
  let adminId: string;

  beforeAll(async () => {
    ({ t, issuer, tenantId } = await startListeningTestApp(backend, { TENANT_CACHE_TTL_MS: '200' }));
    ({ sdk, token, clientId: adminId } = await adminSdk(t, issuer, tenantId));
  });
  afterAll(async () => t?.cleanup());

  const api = managementFetch(() => issuer, () => token);
  const failure = sdkFailure;

  it('creates a client and shows its secret once; get and list never show it', async () => {
    const created = await sdk.clients.create({ name: 'Orders web', app_type: 'regular_web', callbacks: ['https://orders.example.test/callback'], allowed_logout_urls: ['https://orders.example.test/'] });
    expect(created).toMatchObject({
      name: 'Orders web',
      app_type: 'regular_web',
      is_first_party: true,
      callbacks: ['https://orders.example.test/callback'],
      token_endpoint_auth_method: 'client_secret_post',
      grant_types: ['authorization_code', 'refresh_token', 'client_credentials'],
      jwt_configuration: { alg: 'RS256' },
    });
    expect(created.client_id).toMatch(/^[A-Za-z0-9]{32}$/);
    expect(created.client_secret).toMatch(/^[A-Za-z0-9_-]{64}$/);

    const fetched = await sdk.clients.get(created.client_id!);
    expect(fetched.client_id).toBe(created.client_id);
    expect(fetched).not.toHaveProperty('client_secret');
    const page = await sdk.clients.list({ per_page: 100 });
    const listed = page.data.find((c) => c.client_id === created.client_id);
    expect(listed).toBeDefined();
    expect(page.data.every((c) => !('client_secret' in c))).toBe(true);

    // The secret works at the token endpoint (client_credentials on an API it has a grant for is
    // not needed: a wrong secret would be invalid_client, a right one gets past authentication).
    const res = await fetch(`${issuer}oauth/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'client_credentials', client_id: created.client_id!, client_secret: created.client_secret! }).toString(),
    });
    expect(res.status).toBe(200);
  });

  it('pages with include_totals in Auth0 shape, and selects fields', async () => {
    for (const n of [1, 2, 3]) await sdk.clients.create({ name: `Paged ${n}`, app_type: 'native' });
    const res = await api('/clients?per_page=2&page=1&include_totals=true&app_type=native');
    expect(res.status).toBe(200);
    const body = (await res.json()) as { start: number; limit: number; length: number; total: number; clients: { name: string }[] };
    expect(body).toMatchObject({ start: 2, limit: 2, length: 1, total: 3 });
    expect(body.clients.map((c) => c.name)).toEqual(['Paged 3']);
    const plain = await api('/clients?per_page=1&app_type=native');
    expect(Array.isArray(await plain.json())).toBe(true);
    const picked = (await (await api('/clients?fields=name,client_id&app_type=native')).json()) as Record<string, unknown>[];
    expect(Object.keys(picked[0]!).sort()).toEqual(['client_id', 'name']);
    const dropped = (await (await api('/clients?fields=callbacks&include_fields=false&app_type=native')).json()) as Record<string, unknown>[];
    expect(dropped[0]).not.toHaveProperty('callbacks');
    expect(dropped[0]).toHaveProperty('name');
  });

  it('updates a client (first-level replace) and the engine uses the change within a second', async () => {
    const created = await sdk.clients.create({ name: 'Changing', app_type: 'regular_web', callbacks: ['https://a.example.test/cb'] });
    const updated = await sdk.clients.update(created.client_id!, { callbacks: ['https://b.example.test/cb'], name: 'Changed' });
    expect(updated).toMatchObject({ name: 'Changed', callbacks: ['https://b.example.test/cb'], app_type: 'regular_web' });
    expect(updated).not.toHaveProperty('client_secret');
    await new Promise((resolve) => setTimeout(resolve, 450));
    const authorize = (redirect: string) =>
      fetch(`${issuer}authorize?${new URLSearchParams({ client_id: created.client_id!, response_type: 'code', redirect_uri: redirect, scope: 'openid', code_challenge: 'x'.repeat(43), code_challenge_method: 'S256' })}`, { redirect: 'manual' });
    expect((await authorize('https://b.example.test/cb')).status).toBe(303);
    expect((await authorize('https://a.example.test/cb')).status).toBe(400);
  });

  it('keeps both of two concurrent PATCHes of one client (no lost update)', async () => {
    const created = await sdk.clients.create({ name: 'Concurrent', app_type: 'regular_web' });
    await Promise.all([
      sdk.clients.update(created.client_id!, { callbacks: ['https://one.example.test/cb'] }),
      sdk.clients.update(created.client_id!, { allowed_logout_urls: ['https://two.example.test/'] }),
    ]);
    expect(await sdk.clients.get(created.client_id!)).toMatchObject({ callbacks: ['https://one.example.test/cb'], allowed_logout_urls: ['https://two.example.test/'] });
  });

  it('rotates a secret: the new one works, the old one stops', async () => {
    const created = await sdk.clients.create({ name: 'Rotating', app_type: 'non_interactive' });
    const rotated = await sdk.clients.rotateSecret(created.client_id!);
    expect(rotated.client_secret).toBeDefined();
    expect(rotated.client_secret).not.toBe(created.client_secret);
    await new Promise((resolve) => setTimeout(resolve, 450));
    const tokenWith = (secret: string) =>
      fetch(`${issuer}oauth/token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ grant_type: 'client_credentials', client_id: created.client_id!, client_secret: secret }).toString() });
    expect((await tokenWith(rotated.client_secret!)).status).toBe(200);
    expect((await tokenWith(created.client_secret!)).status).toBe(401);
  });

  it('deletes a client: 204, then 404 in Auth0 shape', async () => {
    const created = await sdk.clients.create({ name: 'Short-lived', app_type: 'spa', callbacks: ['http://localhost:3000/cb'] });
    expect(created.token_endpoint_auth_method).toBe('none');
    expect(created).not.toHaveProperty('client_secret');
    await sdk.clients.delete(created.client_id!);
    const missing = await failure(sdk.clients.get(created.client_id!));
    expect(missing.statusCode).toBe(404);
    expect(missing.body).toEqual({ statusCode: 404, error: 'Not Found', message: 'The client does not exist', errorCode: 'inexistent_client' });
  });

  it('refuses unsafe redirect URIs, unknown properties and bad JSON with 400 in Auth0 shape', async () => {
    for (const callback of ['javascript:alert(1)', 'data:text/html,hi', 'http://evil.example/cb', 'https://app.example.test/*', 'https://*.example.test/cb', 'https://app.example.test/cb#frag', 'not a url']) {
      const refused = await failure(sdk.clients.create({ name: 'Bad', callbacks: [callback] }));
      expect(refused.statusCode).toBe(400);
      expect(refused.body).toMatchObject({ statusCode: 400, error: 'Bad Request', errorCode: 'invalid_body' });
      expect((refused.body as { message: string }).message).toMatch(/^Payload validation error: /);
    }
    const many = await api('/clients', { method: 'POST', body: JSON.stringify({ name: 'Many', callbacks: Array.from({ length: 101 }, (_, i) => `https://app.example.test/cb${i}`) }) });
    expect(many.status).toBe(400);
    expect(((await many.json()) as { message: string }).message).toMatch(/on property callbacks\.$/);
    const longName = await api('/clients', { method: 'POST', body: JSON.stringify({ name: 'n'.repeat(256) }) });
    expect(((await longName.json()) as { message: string }).message).toMatch(/on property name\.$/);
    const extra = await api('/clients', { method: 'POST', body: JSON.stringify({ name: 'X', surprise: true }) });
    expect(extra.status).toBe(400);
    expect(await extra.json()).toEqual({ statusCode: 400, error: 'Bad Request', message: "Payload validation error: 'Additional properties not allowed: surprise'.", errorCode: 'invalid_body' });
    const broken = await api('/clients', { method: 'POST', body: '{"name":' });
    expect(broken.status).toBe(400);
    expect(await broken.json()).toMatchObject({ statusCode: 400, errorCode: 'invalid_body' });
    const badPage = await api('/clients?per_page=1000');
    expect(badPage.status).toBe(400);
    expect(await badPage.json()).toMatchObject({ errorCode: 'invalid_query_string' });
  });

  it('answers 401 without a valid Management API token and 403 without the scope', async () => {
    expect(await (await api('/clients', { token: null })).json()).toEqual({ statusCode: 401, error: 'Unauthorized', message: 'Missing authentication', errorCode: 'missing_authentication' });
    const tampered = `${token.slice(0, -6)}AAAAAA`;
    const bad = await api('/clients', { token: tampered });
    expect(bad.status).toBe(401);
    expect(bad.headers.get('www-authenticate')).toContain('Bearer');
    expect((await api('/clients', { token: 'not-a-jwt' })).status).toBe(401);

    // A token of this tenant for another API is not a Management API token.
    const stores = tenantStores(t.database.db, tenantId, systemRuntime);
    await stores.resourceServers.insert({ identifier: 'https://other.example.test/', name: 'Other', scopes: [{ value: 'read:clients', description: null }] });
    const reader = await t.services.clients.create(tenantId, { name: 'Reader', appType: 'non_interactive', config: { grant_types: ['client_credentials'] } });
    await stores.clientGrants.insert({ clientId: reader.clientId, audience: 'https://other.example.test/', scope: ['read:clients'] });
    await stores.clientGrants.insert({ clientId: reader.clientId, audience: `${issuer}api/v2/`, scope: ['read:clients'] });
    await new Promise((resolve) => setTimeout(resolve, 450));
    const otherToken = await (async () => {
      const res = await fetch(`${issuer}oauth/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ grant_type: 'client_credentials', client_id: reader.clientId, client_secret: reader.clientSecret!, audience: 'https://other.example.test/' }).toString(),
      });
      return ((await res.json()) as { access_token: string }).access_token;
    })();
    expect((await api('/clients', { token: otherToken })).status).toBe(401);

    // read:clients only: reading works, creating is 403 insufficient_scope (and audited as fapi).
    const readerSdk = sdkFor(issuer, await managementToken(issuer, { clientId: reader.clientId, clientSecret: reader.clientSecret! }));
    expect((await readerSdk.clients.list()).data.length).toBeGreaterThan(0);
    const forbidden = await failure(readerSdk.clients.create({ name: 'Nope' }));
    expect(forbidden.statusCode).toBe(403);
    expect(forbidden.body).toEqual({ statusCode: 403, error: 'Forbidden', message: 'Insufficient scope, expected any of: create:clients', errorCode: 'insufficient_scope' });
    const [audited] = await logsStore(t.database.db, tenantId, systemRuntime).list({ offset: 0, limit: 1 });
    expect(audited).toMatchObject({ type: 'fapi', client_id: reader.clientId, details: { response: { statusCode: 403 } } });
  });

  it('writes one sapi audit event per change with the acting client, and fapi for a refused one', async () => {
    const logs = logsStore(t.database.db, tenantId, systemRuntime);
    const before = (await logs.list({ offset: 0, limit: 1000 })).length;
    const created = await sdk.clients.create({ name: 'Audited', app_type: 'non_interactive' });
    await failure(sdk.clients.update(created.client_id!, { callbacks: ['javascript:x'] }));
    const all = await logs.list({ offset: 0, limit: 1000 });
    const events = all.slice(0, all.length - before); // newest first
    expect(events.map((e) => e.type)).toEqual(['fapi', 'sapi']);
    expect(events[1]).toMatchObject({ type: 'sapi', description: 'Create client', client_id: adminId, ip: '127.0.0.1', details: { request: { method: 'post', path: '/api/v2/clients' }, response: { statusCode: 201 } } });
    expect(events[0]).toMatchObject({ type: 'fapi', description: 'Update client', details: { response: { statusCode: 400 } } });
    expect(JSON.stringify(events)).not.toContain('client_secret');
  });

  it('refuses to change or delete the CLI admin client', async () => {
    expect((await failure(sdk.clients.delete(adminId))).statusCode).toBe(403);
    expect((await failure(sdk.clients.update(adminId, { name: 'Mine now' }))).statusCode).toBe(403);
  });

  it('publishes an OpenAPI 3.1 document generated from the same schemas', async () => {
    const res = await fetch(`${issuer}api/v2/openapi.json`);
    expect(res.status).toBe(200);
    const doc = (await res.json()) as { openapi: string; servers: { url: string }[]; paths: Record<string, Record<string, { security: unknown; requestBody?: unknown; responses: Record<string, { content?: Record<string, { schema: { properties?: Record<string, unknown> } }> }> }>> };
    expect(doc.openapi).toBe('3.1.0');
    expect(doc.servers).toEqual([{ url: `${issuer}api/v2` }]);
    expect(Object.keys(doc.paths['/clients/{id}']!).sort()).toEqual(['delete', 'get', 'patch']);
    expect(doc.paths['/clients']!.post!.security).toEqual([{ bearerAuth: ['create:clients'] }]);
    const clientProps = doc.paths['/clients/{id}']!.get!.responses['200']!.content!['application/json']!.schema.properties!;
    expect(Object.keys(clientProps)).toContain('callbacks');
    // Nothing stored-only is in the published shape.
    for (const internal of ['secret_enc', 'secretSealed', 'config', 'tenant_id']) expect(clientProps).not.toHaveProperty(internal);
  });
});
