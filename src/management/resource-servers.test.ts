import { type ManagementClient } from 'auth0';
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startListeningTestApp, type TestApp } from '../../test/support/app.js';
import { describeEachBackend } from '../../test/support/backends.js';
import { createTenant } from '../../test/support/fixtures.js';
import { adminSdk, managementFetch, sdkFailure } from '../../test/support/management.js';
import { logsStore } from '../logs/store.js';
import { systemRuntime } from '../storage/runtime.js';
import { tenantStores } from '../tenants/tenant-stores.js';

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describeEachBackend('Management API /api/v2/resource-servers with the official auth0 SDK', (backend) => {
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

  const api = managementFetch(() => issuer, () => token);
  const failure = sdkFailure;
  /** A machine client with a grant on `audience`, and a client_credentials request for it. */
  async function machineFor(audience: string, scope: string[]) {
    const client = await sdk.clients.create({ name: `M2M for ${audience}`, app_type: 'non_interactive' });
    await sdk.clientGrants.create({ client_id: client.client_id!, audience, scope });
    return () =>
      fetch(`${issuer}oauth/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ grant_type: 'client_credentials', client_id: client.client_id!, client_secret: client.client_secret!, audience }).toString(),
      });
  }

  it('creates an API with its scopes and settings, and reads it by id and by URL-encoded identifier', async () => {
    const created = await sdk.resourceServers.create({
      identifier: 'https://orders.example.test/api',
      name: 'Orders',
      scopes: [
        { value: 'write:orders', description: 'Change orders' },
        { value: 'read:orders', description: 'Read orders' },
      ],
      token_lifetime: 3600,
      enforce_policies: true,
      token_dialect: 'access_token_authz',
      allow_offline_access: true,
      skip_consent_for_verifiable_first_party_clients: false,
      signing_alg: 'RS256',
    });
    expect(created).toEqual({
      id: expect.stringMatching(/^[0-9a-f]{24}$/),
      name: 'Orders',
      is_system: false,
      identifier: 'https://orders.example.test/api',
      scopes: [
        { value: 'read:orders', description: 'Read orders' },
        { value: 'write:orders', description: 'Change orders' },
      ],
      signing_alg: 'RS256',
      allow_offline_access: true,
      skip_consent_for_verifiable_first_party_clients: false,
      token_lifetime: 3600,
      enforce_policies: true,
      token_dialect: 'access_token_authz',
    });
    expect(await sdk.resourceServers.get(created.id!)).toEqual(created);
    // The SDK URL-encodes the path parameter: https%3A%2F%2Forders.example.test%2Fapi
    expect(await sdk.resourceServers.get('https://orders.example.test/api')).toEqual(created);

    // Auth0's defaults for what is not given; the name defaults to the identifier.
    const bare = await sdk.resourceServers.create({ identifier: 'urn:example:bare' });
    expect(bare).toMatchObject({ name: 'urn:example:bare', scopes: [], token_lifetime: 86400, enforce_policies: false, token_dialect: 'access_token', allow_offline_access: false, signing_alg: 'RS256' });
  });

  it('lists APIs with paging, totals and the identifiers filter, the Management API among them', async () => {
    for (const n of [1, 2, 3]) await sdk.resourceServers.create({ identifier: `https://paged-${n}.example.test/`, name: `Paged ${n}` });
    const all = await sdk.resourceServers.list({ per_page: 100 });
    const management = all.data.find((rs) => rs.is_system);
    expect(management).toMatchObject({ identifier: `${issuer}api/v2/`, name: 'Portcullis Management API', is_system: true });
    expect(management?.scopes?.map((s) => s.value)).toContain('read:resource_servers');

    const filtered = `identifiers=${encodeURIComponent('https://paged-1.example.test/')}&identifiers=${encodeURIComponent('https://paged-3.example.test/')}`;
    const res = await api(`/resource-servers?${filtered}&per_page=1&page=1&include_totals=true`);
    expect(res.status).toBe(200);
    const body = (await res.json()) as { start: number; limit: number; length: number; total: number; resource_servers: { name: string }[] };
    expect(body).toMatchObject({ start: 1, limit: 1, length: 1, total: 2 });
    expect(body.resource_servers.map((rs) => rs.name)).toEqual(['Paged 3']);
    const plain = (await (await api(`/resource-servers?${filtered}&fields=name`)).json()) as unknown[];
    expect(plain).toEqual([{ name: 'Paged 1' }, { name: 'Paged 3' }]);
  });

  it('refuses a second API with the same identifier with 409 in Auth0 shape', async () => {
    await sdk.resourceServers.create({ identifier: 'https://unique.example.test/', name: 'First' });
    const res = await api('/resource-servers', { method: 'POST', body: JSON.stringify({ identifier: 'https://unique.example.test/', name: 'Second' }) });
    expect(res.status).toBe(409);
    expect(await res.json()).toEqual({ statusCode: 409, error: 'Conflict', message: 'A resource server with the same identifier already exists', errorCode: 'resource_server_conflict' });
    expect((await sdk.resourceServers.get('https://unique.example.test/')).name).toBe('First');
  });

  it('refuses HS256, unsupported dialects, out-of-bounds lifetimes, non-URI identifiers and duplicate scopes', async () => {
    const post = async (body: Record<string, unknown>) => {
      const res = await api('/resource-servers', { method: 'POST', body: JSON.stringify({ identifier: 'https://refused.example.test/', ...body }) });
      return { status: res.status, body: (await res.json()) as { message: string; errorCode: string } };
    };
    const hs = await post({ signing_alg: 'HS256' });
    expect(hs).toEqual({
      status: 400,
      body: {
        statusCode: 400,
        error: 'Bad Request',
        message: "Payload validation error: 'HS256 (shared-secret) access tokens are not supported: access tokens are signed with the tenant's key, signing_alg must be RS256' on property signing_alg.",
        errorCode: 'invalid_body',
      },
    });
    expect((await post({ signing_secret: 'a-shared-secret-of-some-length' })).body.message).toBe("Payload validation error: 'Additional properties not allowed: signing_secret'.");
    expect((await post({ signing_alg: 'PS256' })).status).toBe(400);
    expect((await post({ token_dialect: 'rfc9068_profile_authz' })).body).toMatchObject({ errorCode: 'invalid_body', message: expect.stringContaining('token_dialect') });
    for (const lifetime of [0, 2_592_001, 1.5]) expect((await post({ token_lifetime: lifetime })).body.message).toMatch(/on property token_lifetime\.$/);
    expect((await post({ token_lifetime: 2_592_000 })).status).toBe(201);
    for (const identifier of ['my-api', 'https://x.example.test/#frag', 'https://x.example.test/a b']) {
      const refused = await api('/resource-servers', { method: 'POST', body: JSON.stringify({ identifier }) });
      expect(refused.status).toBe(400);
      expect(((await refused.json()) as { message: string }).message).toMatch(/on property identifier\.$/);
    }
    const duplicate = await post({ identifier: 'https://dup-scopes.example.test/', scopes: [{ value: 'read' }, { value: 'read' }] });
    expect(duplicate.body.message).toBe("Payload validation error: 'duplicate scope \"read\"' on property scopes.1.value.");
    expect((await post({ identifier: 'https://bad-scope.example.test/', scopes: [{ value: 'read orders' }] })).status).toBe(400);
    expect((await post({ name: '<script>', identifier: 'https://bad-name.example.test/' })).status).toBe(400);
  });

  it('updates an API: scopes replaced wholesale, 201 as Auth0, identifier fixed, and the engine uses the change within a second', async () => {
    const created = await sdk.resourceServers.create({ identifier: 'https://patch.example.test/', name: 'Patch me', token_lifetime: 600, scopes: [{ value: 'a' }, { value: 'b' }] });
    const requestToken = await machineFor('https://patch.example.test/', ['a', 'b']);
    const before = (await (await requestToken()).json()) as { access_token: string };
    const first = decodeJwt(before.access_token);
    expect(first.exp! - first.iat!).toBe(600);
    expect(first.scope).toBe('a b');

    const res = await api(`/resource-servers/${created.id}`, { method: 'PATCH', body: JSON.stringify({ scopes: [{ value: 'c', description: 'C' }, { value: 'a' }], token_lifetime: 1200 }) });
    expect(res.status).toBe(201);
    expect(await res.json()).toMatchObject({ id: created.id, name: 'Patch me', scopes: [{ value: 'a' }, { value: 'c', description: 'C' }], token_lifetime: 1200 });
    const renamed = await sdk.resourceServers.update('https://patch.example.test/', { name: 'Patched' });
    expect(renamed).toMatchObject({ name: 'Patched', token_lifetime: 1200, scopes: [{ value: 'a' }, { value: 'c', description: 'C' }] });

    const moved = await api(`/resource-servers/${created.id}`, { method: 'PATCH', body: JSON.stringify({ identifier: 'https://elsewhere.example.test/' }) });
    expect(moved.status).toBe(400);
    expect(await moved.json()).toMatchObject({ message: "Payload validation error: 'Additional properties not allowed: identifier'." });

    await pause(450);
    const after = decodeJwt(((await (await requestToken()).json()) as { access_token: string }).access_token);
    expect(after.exp! - after.iat!).toBe(1200);
    // `b` left the API: the grant still names it, but no token carries it any more.
    expect(after.scope).toBe('a');
  });

  it('lets the Management API be read, its token lifetime changed, and nothing else', async () => {
    const audience = `${issuer}api/v2/`;
    const management = await sdk.resourceServers.get(audience);
    expect(management).toMatchObject({ is_system: true, identifier: audience });
    const renamed = await api(`/resource-servers/${management.id}`, { method: 'PATCH', body: JSON.stringify({ name: 'Mine now', scopes: [] }) });
    expect(renamed.status).toBe(400);
    expect(await renamed.json()).toEqual({ statusCode: 400, error: 'Bad Request', message: "Payload validation error: 'Additional properties not allowed: name,scopes'.", errorCode: 'invalid_body' });
    const lifetime = await sdk.resourceServers.update(management.id!, { token_lifetime: 7200 });
    expect(lifetime).toMatchObject({ is_system: true, token_lifetime: 7200, name: management.name });
    expect(lifetime.scopes).toEqual(management.scopes);

    const deleted = await api(`/resource-servers/${encodeURIComponent(audience)}`, { method: 'DELETE' });
    expect(deleted.status).toBe(400);
    expect(await deleted.json()).toEqual({ statusCode: 400, error: 'Bad Request', message: 'System resource servers cannot be deleted', errorCode: 'operation_not_supported' });
    expect((await sdk.resourceServers.get(management.id!)).is_system).toBe(true);
  });

  it('deletes an API with its grants: 204, then 404 in Auth0 shape, and no more tokens for it', async () => {
    const created = await sdk.resourceServers.create({ identifier: 'https://doomed.example.test/', name: 'Doomed', scopes: [{ value: 'x' }] });
    const requestToken = await machineFor('https://doomed.example.test/', ['x']);
    expect((await requestToken()).status).toBe(200);
    await sdk.resourceServers.delete(created.id!);
    const missing = await failure(sdk.resourceServers.get(created.id!));
    expect(missing.statusCode).toBe(404);
    expect(missing.body).toEqual({ statusCode: 404, error: 'Not Found', message: 'The resource server does not exist', errorCode: 'inexistent_resource_server' });
    expect((await sdk.clientGrants.list({ audience: 'https://doomed.example.test/' })).data).toEqual([]);
    expect((await failure(sdk.resourceServers.delete(created.id!))).statusCode).toBe(404);
    await pause(450);
    const refused = await requestToken();
    expect(refused.status).toBe(400);
    expect(await refused.json()).toMatchObject({ error: 'invalid_target' });
  });

  it("answers 404 for another tenant's API, by id and by identifier", async () => {
    const other = await createTenant(t.database, 'rs-other');
    const theirs = await tenantStores(t.database.db, other.id, systemRuntime).resourceServers.insert({ identifier: 'https://theirs.example.test/', name: 'Theirs' });
    for (const id of [theirs.id, encodeURIComponent(theirs.identifier)]) {
      expect((await api(`/resource-servers/${id}`)).status).toBe(404);
      expect((await api(`/resource-servers/${id}`, { method: 'PATCH', body: JSON.stringify({ name: 'Stolen' }) })).status).toBe(404);
      expect((await api(`/resource-servers/${id}`, { method: 'DELETE' })).status).toBe(404);
    }
    expect((await tenantStores(t.database.db, other.id, systemRuntime).resourceServers.findById(theirs.id))?.name).toBe('Theirs');
    expect((await sdk.resourceServers.list({ per_page: 100 })).data.some((rs) => rs.id === theirs.id)).toBe(false);
  });

  it('publishes the APIs, roles and client grants routes in the OpenAPI document', async () => {
    const doc = (await (await fetch(`${issuer}api/v2/openapi.json`)).json()) as { paths: Record<string, Record<string, { security: unknown }>> };
    expect(Object.keys(doc.paths['/resource-servers/{id}']!).sort()).toEqual(['delete', 'get', 'patch']);
    expect(Object.keys(doc.paths['/roles/{id}/permissions']!).sort()).toEqual(['delete', 'get', 'post']);
    expect(Object.keys(doc.paths['/roles/{id}/users']!).sort()).toEqual(['get', 'post']);
    expect(Object.keys(doc.paths['/client-grants/{id}']!).sort()).toEqual(['delete', 'get', 'patch']);
    expect(doc.paths['/resource-servers']!.post!.security).toEqual([{ bearerAuth: ['create:resource_servers'] }]);
    expect(doc.paths['/client-grants']!.get!.security).toEqual([{ bearerAuth: ['read:client_grants'] }]);
  });

  it('audits each change as sapi, and a refused one as fapi', async () => {
    const logs = logsStore(t.database.db, tenantId, systemRuntime);
    const before = (await logs.list({ offset: 0, limit: 1000 })).length;
    const created = await sdk.resourceServers.create({ identifier: 'https://audited.example.test/', name: 'Audited' });
    await failure(sdk.resourceServers.update(created.id!, { token_lifetime: -1 }));
    await sdk.resourceServers.delete(created.id!);
    const all = await logs.list({ offset: 0, limit: 1000 });
    const events = all.slice(0, all.length - before).reverse();
    expect(events.map((e) => [e.type, e.description, (e.details as { response: { statusCode: number } }).response.statusCode])).toEqual([
      ['sapi', 'Create resource server', 201],
      ['fapi', 'Update resource server', 400],
      ['sapi', 'Delete resource server', 204],
    ]);
  });
});
