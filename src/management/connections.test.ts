import { type ManagementClient } from 'auth0';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startListeningTestApp, type TestApp } from '../../test/support/app.js';
import { describeEachBackend } from '../../test/support/backends.js';
import { createTenant } from '../../test/support/fixtures.js';
import { HttpBrowser, loginForm } from '../../test/support/http-browser.js';
import { adminSdk, managementFetch, managementToken, sdkFailure, sdkFor } from '../../test/support/management.js';
import { DEFAULT_DATABASE_CONNECTION } from '../connections/store.js';
import { systemRuntime } from '../storage/runtime.js';
import { tenantStores } from '../tenants/tenant-stores.js';

const PASSWORD = 'a sufficiently long passphrase';

describeEachBackend('Management API /api/v2/connections with the official auth0 SDK', (backend) => {
  let t: TestApp;
  let issuer: string;
  let tenantId: string;
  let sdk: ManagementClient;
  let token: string;
  let appId: string;

  beforeAll(async () => {
    ({ t, issuer, tenantId } = await startListeningTestApp(backend, { TENANT_CACHE_TTL_MS: '200' }));
    ({ sdk, token } = await adminSdk(t, issuer, tenantId));
    appId = (await t.services.clients.create(tenantId, { name: 'Signup app', appType: 'spa', config: { callbacks: ['http://localhost:3000/cb'] } })).clientId;
  });
  afterAll(async () => t?.cleanup());

  const api = managementFetch(() => issuer, () => token);
  const failure = sdkFailure;
  const signup = (connection: string, email: string, password = PASSWORD) =>
    fetch(`${issuer}dbconnections/signup`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ client_id: appId, connection, email, password }) });

  it('creates a database connection; passwordPolicy is kept as its minimum length, enabled clients are stored', async () => {
    const created = await sdk.connections.create({ name: 'staff-db', strategy: 'auth0', options: { passwordPolicy: 'excellent', disable_signup: true, requires_username: true }, enabled_clients: [appId] });
    expect(created).toEqual({
      id: expect.stringMatching(/^con_[A-Za-z0-9]{16}$/),
      name: 'staff-db',
      strategy: 'auth0',
      // One representation: Auth0's "excellent" level is 10 characters (no composition rules here).
      options: { password_complexity_options: { min_length: 10 }, disable_signup: true, brute_force_protection: true, requires_username: true },
      enabled_clients: [appId],
      realms: ['staff-db'],
      is_domain_connection: false,
    });
    expect(await sdk.connections.get(created.id!)).toEqual(created);
    const stored = await tenantStores(t.database.db, tenantId, systemRuntime).connections.findById(created.id!);
    expect(stored?.options).toEqual({ password_complexity_options: { min_length: 10 }, disable_signup: true, brute_force_protection: true, requires_username: true });

    // An explicit min_length wins over the level; without options, Portcullis's defaults.
    const explicit = await sdk.connections.create({ name: 'explicit-db', strategy: 'auth0', options: { passwordPolicy: 'low', password_complexity_options: { min_length: 16 } } });
    expect(explicit.options).toMatchObject({ password_complexity_options: { min_length: 16 } });
    const plain = await sdk.connections.create({ name: 'plain-db', strategy: 'auth0' });
    expect(plain.options).toEqual({ password_complexity_options: { min_length: 12 }, disable_signup: false, brute_force_protection: true, requires_username: false });
    expect(plain.enabled_clients).toEqual([]);
  });

  it('refuses other strategies, bad names, duplicates, unknown clients and unknown options in Auth0 shape', async () => {
    const social = await api('/connections', { method: 'POST', body: JSON.stringify({ name: 'google', strategy: 'google-oauth2', options: { client_id: 'x' } }) });
    expect(social.status).toBe(400);
    expect(await social.json()).toEqual({
      statusCode: 400,
      error: 'Bad Request',
      message: `Payload validation error: 'strategy "google-oauth2" is not supported: Portcullis has database connections only (strategy "auth0")' on property strategy.`,
      errorCode: 'invalid_body',
    });
    for (const name of ['-lead', 'trail-', 'under_score', 'has space', 'x'.repeat(129), '']) {
      const refused = await failure(sdk.connections.create({ name, strategy: 'auth0' }));
      expect(refused.statusCode).toBe(400);
      expect((refused.body as { message: string }).message).toMatch(/on property name\.$/);
    }
    expect((await sdk.connections.create({ name: 'a'.repeat(128), strategy: 'auth0' })).name).toHaveLength(128);

    const duplicate = await api('/connections', { method: 'POST', body: JSON.stringify({ name: DEFAULT_DATABASE_CONNECTION, strategy: 'auth0' }) });
    expect(duplicate.status).toBe(409);
    expect(await duplicate.json()).toEqual({ statusCode: 409, error: 'Conflict', message: 'A connection with the same name already exists', errorCode: 'connection_conflict' });

    const ghost = await api('/connections', { method: 'POST', body: JSON.stringify({ name: 'ghost-clients', strategy: 'auth0', enabled_clients: [appId, 'no-such-client'] }) });
    expect(ghost.status).toBe(400);
    expect(await ghost.json()).toMatchObject({ errorCode: 'invalid_body', message: `Payload validation error: 'The client "no-such-client" does not exist' on property enabled_clients.` });
    // Nothing half-made: the connection was not created either.
    expect((await sdk.connections.list({ name: 'ghost-clients' })).data).toEqual([]);

    const unknownOption = await api('/connections', { method: 'POST', body: JSON.stringify({ name: 'history', strategy: 'auth0', options: { password_history: { enable: true } } }) });
    expect(await unknownOption.json()).toMatchObject({ statusCode: 400, message: "Payload validation error: 'Additional properties not allowed: password_history' on property options." });
  });

  it('lists with checkpoint paging through the SDK, offset paging with totals, filters and field selection', async () => {
    for (const name of ['list-c', 'list-a', 'list-b']) await sdk.connections.create({ name, strategy: 'auth0' });

    // The SDK pages by checkpoint (take + from → next) until the last page.
    const names: string[] = [];
    for await (const connection of await sdk.connections.list({ take: 2 })) names.push(connection.name!);
    expect(names.filter((n) => n.startsWith('list-'))).toEqual(['list-a', 'list-b', 'list-c']);
    expect(new Set(names).size).toBe(names.length);
    expect(names).toContain(DEFAULT_DATABASE_CONNECTION);
    const first = (await (await api('/connections?take=1')).json()) as { connections: unknown[]; next?: string };
    expect(first.connections).toHaveLength(1);
    expect(first.next).toEqual(expect.any(String));

    const totals = (await (await api('/connections?include_totals=true&per_page=2&page=0')).json()) as { start: number; limit: number; length: number; total: number; connections: unknown[] };
    expect(totals).toMatchObject({ start: 0, limit: 2, length: 2, total: names.length });
    expect(Array.isArray(await (await api('/connections?per_page=1')).json())).toBe(true);

    const byName = (await (await api('/connections?name=list-b')).json()) as { name: string }[];
    expect(byName.map((c) => c.name)).toEqual(['list-b']);
    expect(await (await api('/connections?strategy=google-oauth2')).json()).toEqual([]);
    expect(((await (await api('/connections?strategy=auth0&name=list-a')).json()) as unknown[]).length).toBe(1);

    const picked = (await (await api('/connections?name=list-a&fields=id,name')).json()) as Record<string, unknown>[];
    expect(Object.keys(picked[0]!).sort()).toEqual(['id', 'name']);
    const dropped = (await (await api('/connections?take=5&fields=options&include_fields=false')).json()) as { connections: Record<string, unknown>[] };
    expect(dropped.connections[0]).not.toHaveProperty('options');
    expect(dropped.connections[0]).toHaveProperty('name');
    expect((await api('/connections?from=***')).status).toBe(400);
  });

  it('replaces options as a whole on PATCH, and the users service applies them at once', async () => {
    const created = await sdk.connections.create({ name: 'policy-db', strategy: 'auth0', options: { disable_signup: true, password_complexity_options: { min_length: 8 } } });
    expect((await (await signup('policy-db', 'first@example.test')).json()) as { code: string }).toMatchObject({ code: 'signup_disabled' });

    // Only min_length given: disable_signup returns to its default (Auth0 replaces `options`).
    const updated = await sdk.connections.update(created.id!, { options: { password_complexity_options: { min_length: 40 } } });
    expect(updated.options).toEqual({ password_complexity_options: { min_length: 40 }, disable_signup: false, brute_force_protection: true, requires_username: false });
    const tooShort = await signup('policy-db', 'second@example.test');
    expect(tooShort.status).toBe(400);
    expect(await tooShort.json()).toMatchObject({ code: 'password_too_short', description: 'Password is too short: use at least 40 characters.' });

    await sdk.connections.update(created.id!, { options: { password_complexity_options: { min_length: 20 } } });
    expect((await signup('policy-db', 'third@example.test')).status).toBe(200);

    // Not updatable: name and strategy (Auth0's update body has neither).
    const rename = await api(`/connections/${created.id}`, { method: 'PATCH', body: JSON.stringify({ name: 'renamed' }) });
    expect(await rename.json()).toMatchObject({ statusCode: 400, message: "Payload validation error: 'Additional properties not allowed: name'." });
  });

  it('reads and changes enabled clients through /connections/{id}/clients and PATCH enabled_clients', async () => {
    const connection = await sdk.connections.create({ name: 'apps-db', strategy: 'auth0' });
    const ids = [];
    for (const n of [1, 2, 3]) ids.push((await t.services.clients.create(tenantId, { name: `App ${n}`, appType: 'spa', config: {} })).clientId);
    await sdk.connections.clients.update(connection.id!, ids.map((client_id) => ({ client_id, status: true })));
    const paged: string[] = [];
    for await (const client of await sdk.connections.clients.get(connection.id!, { take: 2 })) paged.push(client.client_id);
    expect(paged).toEqual([...ids].sort());

    await sdk.connections.clients.update(connection.id!, [{ client_id: ids[0]!, status: false }]);
    expect((await sdk.connections.get(connection.id!)).enabled_clients).toEqual([ids[1]!, ids[2]!].sort());
    const unknown = await api(`/connections/${connection.id}/clients`, { method: 'PATCH', body: JSON.stringify([{ client_id: 'nope', status: true }]) });
    expect(unknown.status).toBe(400);

    // PATCH enabled_clients replaces the whole set; an unknown id changes nothing.
    expect((await sdk.connections.update(connection.id!, { enabled_clients: [ids[0]!] })).enabled_clients).toEqual([ids[0]]);
    expect((await failure(sdk.connections.update(connection.id!, { enabled_clients: ['nope'] }))).statusCode).toBe(400);
    expect((await sdk.connections.get(connection.id!)).enabled_clients).toEqual([ids[0]]);
    // A deleted client drops out of every connection (foreign key).
    await sdk.clients.delete(ids[0]!);
    expect((await sdk.connections.get(connection.id!)).enabled_clients).toEqual([]);
  });

  it('deletes a connection with its users (as Auth0), then answers 404 in Auth0 shape', async () => {
    const connection = await sdk.connections.create({ name: 'doomed-db', strategy: 'auth0' });
    const user = await t.services.users.signup({ tenantId, connectionName: 'doomed-db', email: 'doomed@example.test', password: PASSWORD });
    await sdk.connections.delete(connection.id!);
    expect(await tenantStores(t.database.db, tenantId, systemRuntime).users.findById(user.user_id)).toBeUndefined();
    const missing = await failure(sdk.connections.get(connection.id!));
    expect(missing.statusCode).toBe(404);
    expect(missing.body).toEqual({ statusCode: 404, error: 'Not Found', message: 'The connection does not exist', errorCode: 'inexistent_connection' });
    expect((await failure(sdk.connections.delete(connection.id!))).statusCode).toBe(404);
    expect((await failure(sdk.connections.update(connection.id!, { options: {} }))).statusCode).toBe(404);
  });

  it('refuses to delete the connection the login pages use; the login page keeps working', async () => {
    const defaultConnection = (await sdk.connections.list({ name: DEFAULT_DATABASE_CONNECTION })).data[0]!;
    const refused = await api(`/connections/${defaultConnection.id}`, { method: 'DELETE' });
    expect(refused.status).toBe(400);
    expect(await refused.json()).toEqual({
      statusCode: 400,
      error: 'Bad Request',
      message: `The ${DEFAULT_DATABASE_CONNECTION} connection is the one the login pages use and cannot be deleted`,
      errorCode: 'operation_not_supported',
    });
    expect((await sdk.connections.get(defaultConnection.id!)).name).toBe(DEFAULT_DATABASE_CONNECTION);

    // The login page still renders, refuses a wrong password cleanly and lets a user in.
    await t.services.users.signup({ tenantId, connectionName: DEFAULT_DATABASE_CONNECTION, email: 'still@example.test', password: PASSWORD });
    const web = await t.services.clients.create(tenantId, { name: 'Login web', appType: 'regular_web', config: { callbacks: ['https://login.example.test/cb'], grant_types: ['authorization_code'] } });
    const browser = new HttpBrowser();
    const authorize = `${issuer}authorize?${new URLSearchParams({ client_id: web.clientId, response_type: 'code', redirect_uri: 'https://login.example.test/cb', scope: 'openid', code_challenge: 'x'.repeat(43), code_challenge_method: 'S256' })}`;
    const page = await browser.follow(authorize, 'https://login.example.test/cb');
    expect(new URL(page.url).pathname).toBe('/u/login');
    const form = loginForm(await page.response!.text(), issuer);
    expect((await browser.submit(form.action, { csrf: form.csrf, username: 'still@example.test', password: 'wrong password here' })).status).toBe(400);
    expect((await browser.submit(form.action, { csrf: form.csrf, username: 'still@example.test', password: PASSWORD })).status).toBe(303);
  });

  it("keeps tenants apart: another tenant's connection is a 404 here", async () => {
    const other = await createTenant(t.database, 'other-connections');
    const foreign = await tenantStores(t.database.db, other.id, systemRuntime).connections.insert({ name: 'foreign-db', strategy: 'auth0' });
    expect((await failure(sdk.connections.get(foreign.id))).statusCode).toBe(404);
    expect((await failure(sdk.connections.update(foreign.id, { options: {} }))).statusCode).toBe(404);
    expect((await failure(sdk.connections.delete(foreign.id))).statusCode).toBe(404);
    expect((await api(`/connections/${foreign.id}/clients`)).status).toBe(404);
    expect((await sdk.connections.list({ name: 'foreign-db' })).data).toEqual([]);
    expect(await tenantStores(t.database.db, other.id, systemRuntime).connections.findById(foreign.id)).toBeDefined();
  });

  it('needs the connections scopes, and audits changes', async () => {
    const stores = tenantStores(t.database.db, tenantId, systemRuntime);
    const reader = await t.services.clients.create(tenantId, { name: 'Conn reader', appType: 'non_interactive', config: { grant_types: ['client_credentials'] } });
    await stores.clientGrants.insert({ clientId: reader.clientId, audience: `${issuer}api/v2/`, scope: ['read:connections'] });
    await new Promise((resolve) => setTimeout(resolve, 450));
    const readerSdk = sdkFor(issuer, await managementToken(issuer, { clientId: reader.clientId, clientSecret: reader.clientSecret! }));
    expect((await readerSdk.connections.list({ name: DEFAULT_DATABASE_CONNECTION })).data).toHaveLength(1);
    const forbidden = await failure(readerSdk.connections.create({ name: 'nope', strategy: 'auth0' }));
    expect(forbidden.body).toEqual({ statusCode: 403, error: 'Forbidden', message: 'Insufficient scope, expected any of: create:connections', errorCode: 'insufficient_scope' });

    const before = (await stores.logs.list({ offset: 0, limit: 1 }))[0]?.log_id;
    const audited = await sdk.connections.create({ name: 'audited-db', strategy: 'auth0' });
    await sdk.connections.delete(audited.id!);
    const events = await stores.logs.listFrom(before, 10);
    // (A request refused for its token or scope never reaches the route, so it is not audited here.)
    expect(events.map((e) => [e.type, e.description, e.client_id])).toEqual([
      ['sapi', 'Create connection', expect.any(String)],
      ['sapi', 'Delete connection', expect.any(String)],
    ]);
    expect(events[0]!.client_id).not.toBe(reader.clientId);
  });
});
