import { ManagementClient, ManagementError } from 'auth0';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../../test/support/app.js';
import { describeEachBackend } from '../../test/support/backends.js';
import { freePort } from '../../test/support/cli.js';
import { selfSignedCertificate, type TestCertificate } from '../../test/support/tls.js';

const REALM = 'Username-Password-Authentication';
const PASSWORD = 'correct horse battery staple';

/**
 * The official auth0 SDK exactly as an Auth0 customer configures it — a
 * domain, a client id and a client secret — against Portcullis served over
 * HTTPS with a certificate made for this run. The SDK gets its own token
 * (client_credentials at https://<domain>/oauth/token, audience
 * https://<domain>/api/v2/) and speaks TLS; the one non-default option is its
 * documented `fetch`, bound to an undici agent that trusts this certificate
 * (certificate checks stay on; nothing process-wide is changed).
 */
describeEachBackend('the official auth0 SDK over HTTPS, configured only with a domain and client credentials', (backend) => {
  let cert: TestCertificate;
  let t: TestApp;
  let management: ManagementClient;
  let domain: string;
  let admin: { clientId: string; clientSecret: string };

  beforeAll(async () => {
    cert = selfSignedCertificate();
    const port = await freePort();
    domain = `localhost:${port}`;
    t = await startTestApp(backend, { PUBLIC_URL: `https://${domain}`, TLS_CERT_FILE: cert.certFile, TLS_KEY_FILE: cert.keyFile, TENANT_CACHE_TTL_MS: '200' });
    await t.app.listen({ port, host: '127.0.0.1' });
    const tenantId = (await t.services.tenants.resolve(undefined)).id;
    admin = await t.services.clients.ensureAdminClient(tenantId);
    management = new ManagementClient({ domain, clientId: admin.clientId, clientSecret: admin.clientSecret, fetch: cert.fetch });
  });
  afterAll(async () => {
    await t?.cleanup();
    cert?.remove();
  });

  it('really checks the certificate: the same SDK without the trusted fetch cannot even get a token', async () => {
    const untrusting = new ManagementClient({ domain, clientId: admin.clientId, clientSecret: admin.clientSecret });
    const error = (await untrusting.clients.list().catch((e: unknown) => e)) as Error & { cause?: { code?: string } };
    expect(error).toBeInstanceOf(Error);
    expect(error.cause?.code ?? error.message).toMatch(/SELF_SIGNED|self.signed|fetch failed/i);
  });

  it('creates, reads, updates, searches and deletes a user', async () => {
    const created = await management.users.create({ connection: REALM, email: 'sdk.user@example.test', password: PASSWORD, name: 'Sdk User', app_metadata: { plan: 'gold' } });
    expect(created.user_id).toMatch(/^auth0\|/);
    expect((await management.users.get(created.user_id!)).email).toBe('sdk.user@example.test');
    const updated = await management.users.update(created.user_id!, { app_metadata: { region: 'eu' } });
    expect(updated.app_metadata).toEqual({ plan: 'gold', region: 'eu' });
    const found = await management.users.list({ q: 'app_metadata.plan:"gold" AND name:sdk*', search_engine: 'v3' });
    expect(found.data.map((u) => u.user_id)).toEqual([created.user_id]);
    await management.users.delete(created.user_id!);
    const gone = await management.users.get(created.user_id!).catch((e: unknown) => e);
    expect(gone).toBeInstanceOf(ManagementError);
    expect((gone as ManagementError).statusCode).toBe(404);
  });

  it('creates, reads, updates and deletes a client', async () => {
    const created = await management.clients.create({ name: 'Over TLS', app_type: 'regular_web', callbacks: ['https://app.example.test/callback'] });
    expect(created.client_secret).toBeDefined();
    expect((await management.clients.get(created.client_id!)).name).toBe('Over TLS');
    expect((await management.clients.update(created.client_id!, { name: 'Renamed' })).name).toBe('Renamed');
    await management.clients.delete(created.client_id!);
    expect(((await management.clients.get(created.client_id!).catch((e: unknown) => e)) as ManagementError).statusCode).toBe(404);
  });

  it('creates, reads, updates and deletes a resource server', async () => {
    const created = await management.resourceServers.create({ identifier: 'https://tls-api.example.test/', name: 'TLS API', scopes: [{ value: 'read:things', description: 'Read things' }] });
    expect((await management.resourceServers.get(created.id!)).identifier).toBe('https://tls-api.example.test/');
    const updated = await management.resourceServers.update(created.id!, { scopes: [{ value: 'read:things' }, { value: 'write:things' }] });
    expect(updated.scopes?.map((s) => s.value)).toEqual(['read:things', 'write:things']);
    await management.resourceServers.delete(created.id!);
  });

  it('creates a role with permissions and assigns it to a user', async () => {
    const api = await management.resourceServers.create({ identifier: 'https://roles-api.example.test/', name: 'Roles API', scopes: [{ value: 'read:stock' }] });
    const role = await management.roles.create({ name: 'stock-reader', description: 'Reads stock' });
    await management.roles.permissions.add(role.id!, { permissions: [{ resource_server_identifier: api.identifier!, permission_name: 'read:stock' }] });
    const user = await management.users.create({ connection: REALM, email: 'role.holder@example.test', password: PASSWORD });
    await management.roles.users.assign(role.id!, { users: [user.user_id!] });
    const roles = await management.users.roles.list(user.user_id!);
    expect(roles.data.map((r) => r.name)).toEqual(['stock-reader']);
    const permissions = await management.roles.permissions.list(role.id!);
    expect(permissions.data.map((p) => p.permission_name)).toEqual(['read:stock']);
  });

  it('reads the audit log of what it did', async () => {
    const page = await management.logs.list({ per_page: 100 });
    const types = new Set(page.data.map((e) => e.type));
    expect(types.has('sapi')).toBe(true);
    expect(page.data.some((e) => e.description === 'Create client')).toBe(true);
  });
});
