import { type ManagementClient } from 'auth0';
import * as oidc from 'openid-client';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startListeningTestApp, type TestApp } from '../../test/support/app.js';
import { describeEachBackend } from '../../test/support/backends.js';
import { codeFlow } from '../../test/support/code-flow.js';
import { createTenant } from '../../test/support/fixtures.js';
import { HttpBrowser } from '../../test/support/http-browser.js';
import { adminSdk, managementFetch, managementToken, sdkFailure, sdkFor } from '../../test/support/management.js';
import { DEFAULT_DATABASE_CONNECTION } from '../connections/store.js';
import { logsStore } from '../logs/store.js';
import { PASSWORD_REALM_GRANT } from '../oauth/password-grant.js';
import { systemRuntime } from '../storage/runtime.js';
import { tenantStores, type TenantStores } from '../tenants/tenant-stores.js';

const PASSWORD = 'correct horse battery staple';
const NEW_PASSWORD = 'a completely different passphrase';
const REALM = DEFAULT_DATABASE_CONNECTION;
const CALLBACK = 'https://app.example.test/callback';
const ORDERS = 'https://orders.example.test/';

describeEachBackend('Management API /api/v2/users with the official auth0 SDK', (backend) => {
  let t: TestApp;
  let issuer: string;
  let tenantId: string;
  let sdk: ManagementClient;
  let token: string;
  let stores: TenantStores;
  let legacy: { clientId: string; clientSecret: string };
  let web: { clientId: string; clientSecret: string };
  let emailCounter = 0;
  const email = (label: string) => `${label}-${++emailCounter}@example.test`;

  beforeAll(async () => {
    ({ t, issuer, tenantId } = await startListeningTestApp(backend, { TENANT_CACHE_TTL_MS: '200' }));
    ({ sdk, token } = await adminSdk(t, issuer, tenantId));
    stores = tenantStores(t.database.db, tenantId, systemRuntime);
    await stores.resourceServers.insert({ identifier: ORDERS, name: 'Orders', scopes: [{ value: 'read:orders', description: 'Read orders' }] });
    const created = await t.services.clients.create(tenantId, { name: 'Legacy', appType: 'regular_web', tokenEndpointAuthMethod: 'client_secret_post', config: { grant_types: [PASSWORD_REALM_GRANT, 'refresh_token'] } });
    legacy = { clientId: created.clientId, clientSecret: created.clientSecret as string };
    const webApp = await t.services.clients.create(tenantId, { name: 'Web', appType: 'regular_web', tokenEndpointAuthMethod: 'client_secret_basic', config: { callbacks: [CALLBACK], grant_types: ['authorization_code', 'refresh_token'] } });
    web = { clientId: webApp.clientId, clientSecret: webApp.clientSecret as string };
  });
  afterAll(async () => t?.cleanup());

  const api = managementFetch(() => issuer, () => token);
  const failure = sdkFailure;
  const newUser = (extra: Partial<Parameters<ManagementClient['users']['create']>[0]> = {}) => sdk.users.create({ connection: REALM, email: email('user'), password: PASSWORD, ...extra });
  const realmToken = (username: string, password: string, scope = 'openid offline_access') =>
    fetch(`${issuer}oauth/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: PASSWORD_REALM_GRANT, client_id: legacy.clientId, client_secret: legacy.clientSecret, username, password, realm: REALM, scope }).toString(),
    });
  const refresh = (refreshToken: string) =>
    fetch(`${issuer}oauth/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'refresh_token', client_id: legacy.clientId, client_secret: legacy.clientSecret, refresh_token: refreshToken }).toString(),
    });
  /** A Management API token for a new client holding only `scopes`. */
  async function tokenWith(scopes: string[]): Promise<string> {
    const client = await t.services.clients.create(tenantId, { name: `Scoped ${scopes.join(' ')}`, appType: 'non_interactive', config: { grant_types: ['client_credentials'] } });
    await stores.clientGrants.insert({ clientId: client.clientId, audience: `${issuer}api/v2/`, scope: scopes });
    return managementToken(issuer, { clientId: client.clientId, clientSecret: client.clientSecret! });
  }

  it('creates a user in Auth0’s shape, then gets, lists and finds it by email', async () => {
    const address = email('Jane.Doe');
    const created = await sdk.users.create({
      connection: REALM,
      email: address,
      password: PASSWORD,
      email_verified: true,
      given_name: 'Jane',
      family_name: 'Doe',
      name: 'Jane Doe',
      user_metadata: { theme: 'dark' },
      app_metadata: { plan: 'gold' },
    });
    expect(created.user_id).toMatch(/^auth0\|[A-Za-z0-9_-]+$/);
    expect(created).toMatchObject({
      email: address,
      email_verified: true,
      name: 'Jane Doe',
      given_name: 'Jane',
      family_name: 'Doe',
      nickname: address.split('@')[0],
      user_metadata: { theme: 'dark' },
      app_metadata: { plan: 'gold' },
      logins_count: 0,
      blocked: false,
      identities: [{ connection: REALM, provider: 'auth0', user_id: created.user_id!.slice('auth0|'.length), isSocial: false }],
    });
    expect(created).not.toHaveProperty('username');
    expect(created).not.toHaveProperty('last_login');

    expect(await sdk.users.get(created.user_id!)).toEqual(created);
    const page = await sdk.users.list({ q: `email:"${address}"`, search_engine: 'v3' });
    expect(page.data.map((u) => u.user_id)).toEqual([created.user_id]);
    expect(page.response).toMatchObject({ start: 0, limit: 50, total: 1 });
    const byEmail = await sdk.users.listUsersByEmail({ email: address.toUpperCase() });
    expect(byEmail.map((u) => u.user_id)).toEqual([created.user_id]);
    // The password works at the token endpoint: the users service hashed it under the connection's policy.
    expect((await realmToken(address, PASSWORD, 'openid')).status).toBe(200);
  });

  it('refuses duplicates, weak passwords, unknown connections and unknown properties in Auth0’s shape', async () => {
    const existing = await newUser();
    const duplicate = await failure(sdk.users.create({ connection: REALM, email: existing.email!.toUpperCase(), password: PASSWORD }));
    expect(duplicate.statusCode).toBe(409);
    expect(duplicate.body).toEqual({ statusCode: 409, error: 'Conflict', message: 'The user already exists.', errorCode: 'auth0_idp_error' });
    const weak = await failure(sdk.users.create({ connection: REALM, email: email('weak'), password: 'tiny' }));
    expect(weak.body).toMatchObject({ statusCode: 400, errorCode: 'invalid_body' });
    expect((weak.body as { message: string }).message).toMatch(/^PasswordStrengthError: /);
    const unknown = await api('/users', { method: 'POST', body: JSON.stringify({ connection: 'Nope', email: email('x'), password: PASSWORD }) });
    expect(await unknown.json()).toEqual({ statusCode: 400, error: 'Bad Request', message: 'The connection does not exist.', errorCode: 'inexistent_connection' });
    const extra = await api('/users', { method: 'POST', body: JSON.stringify({ connection: REALM, email: email('x'), password: PASSWORD, password_hash: 'x' }) });
    expect(await extra.json()).toEqual({ statusCode: 400, error: 'Bad Request', message: "Payload validation error: 'Additional properties not allowed: password_hash'.", errorCode: 'invalid_body' });
    // Metadata over 16 KiB and over-long strings: 400 naming the field, nothing written.
    const big = await api('/users', { method: 'POST', body: JSON.stringify({ connection: REALM, email: email('big'), password: PASSWORD, app_metadata: { blob: 'x'.repeat(16_400) } }) });
    expect(await big.json()).toEqual({ statusCode: 400, error: 'Bad Request', message: "Payload validation error: 'metadata must be at most 16 KiB as JSON' on property app_metadata.", errorCode: 'invalid_body' });
    expect((await sdk.users.list({ q: `email:"${email('big')}"`, search_engine: 'v3' })).data).toEqual([]);
    const longName = await api('/users', { method: 'POST', body: JSON.stringify({ connection: REALM, email: email('long'), password: PASSWORD, name: 'n'.repeat(400) }) });
    expect(longName.status).toBe(400);
    expect(((await longName.json()) as { message: string }).message).toMatch(/on property name\.$/);
    const noPassword = await api('/users', { method: 'POST', body: JSON.stringify({ connection: REALM, email: email('x') }) });
    expect(noPassword.status).toBe(400);
    const dotted = await failure(sdk.users.create({ connection: REALM, email: email('x'), password: PASSWORD, user_metadata: { 'a.b': 1 } }));
    expect(dotted.statusCode).toBe(400);
    await stores.connections.insert({ name: 'Usernames', strategy: 'auth0', options: { requires_username: true } });
    const noUsername = await failure(sdk.users.create({ connection: 'Usernames', email: email('x'), password: PASSWORD }));
    expect(noUsername.body).toMatchObject({ statusCode: 400, message: 'A username is required.' });
    const withUsername = await sdk.users.create({ connection: 'Usernames', email: email('x'), password: PASSWORD, username: 'jdoe' });
    expect(withUsername).toMatchObject({ username: 'jdoe', identities: [{ connection: 'Usernames' }] });
  });

  it('lists users page by page with totals, sorted, filtered by connection, selecting fields', async () => {
    await stores.connections.insert({ name: 'Listing', strategy: 'auth0' });
    const ids: string[] = [];
    for (const name of ['Carol', 'alice', 'Bob']) ids.push((await sdk.users.create({ connection: 'Listing', email: email(name), password: PASSWORD, name })).user_id!);
    const res = await api('/users?connection=Listing&include_totals=true&per_page=2&page=0&sort=name:1');
    const body = (await res.json()) as { start: number; limit: number; length: number; total: number; users: { name: string }[] };
    expect(body).toMatchObject({ start: 0, limit: 2, length: 2, total: 3 });
    expect(body.users.map((u) => u.name)).toEqual(['alice', 'Bob']);
    const second = await sdk.users.list({ connection: 'Listing', per_page: 2, page: 1, sort: 'name:1' });
    expect(second.data.map((u) => u.name)).toEqual(['Carol']);
    const newest = (await sdk.users.list({ connection: 'Listing', sort: 'created_at:-1' })).data.map((u) => u.user_id);
    expect(newest).toEqual([...ids].reverse());
    const plain = (await (await api('/users?connection=Listing&fields=user_id,email')).json()) as Record<string, unknown>[];
    expect(plain).toHaveLength(3);
    expect(Object.keys(plain[0]!).sort()).toEqual(['email', 'user_id']);
    const searched = (await sdk.users.list({ connection: 'Listing', q: 'name:b*', search_engine: 'v3' })).data.map((u) => u.name);
    expect(searched).toEqual(['Bob']);
    // Auth0's limits and query errors: 400s in Auth0 shape.
    const broken = await api('/users?q=name:(&search_engine=v3');
    expect(broken.status).toBe(400);
    expect(await broken.json()).toMatchObject({ errorCode: 'invalid_query_string' });
    expect(await (await api('/users?page=10&per_page=100')).json()).toMatchObject({ statusCode: 400, errorCode: 'invalid_paging' });
    expect(await (await api('/users?sort=password:1')).json()).toMatchObject({ statusCode: 400, errorCode: 'invalid_query_string' });
  });

  it('patches with Auth0 semantics: first-level metadata merge, null removes, {} clears, nulls clear profile fields', async () => {
    const user = await newUser({ name: 'Before', user_metadata: { color: 'red', size: 'm', address: { city: 'Paris', zip: '75001' } }, app_metadata: { plan: 'gold', roles: ['a'] } });
    const patched = await sdk.users.update(user.user_id!, { user_metadata: { color: null, address: { city: 'Lyon' }, added: true }, app_metadata: { roles: ['b'] }, name: 'After', blocked: true, family_name: 'Doe' });
    expect(patched).toMatchObject({ name: 'After', blocked: true, family_name: 'Doe', app_metadata: { plan: 'gold', roles: ['b'] } });
    expect(patched.user_metadata).toEqual({ size: 'm', address: { city: 'Lyon' }, added: true });
    const cleared = await sdk.users.update(user.user_id!, { user_metadata: {}, family_name: null });
    expect(cleared.user_metadata).toEqual({});
    expect(cleared.app_metadata).toEqual({ plan: 'gold', roles: ['b'] });
    expect(cleared).not.toHaveProperty('family_name');
    expect((await sdk.users.get(user.user_id!)).user_metadata).toEqual({});

    const other = await newUser();
    const taken = await failure(sdk.users.update(user.user_id!, { email: other.email!.toUpperCase() }));
    expect(taken.body).toEqual({ statusCode: 400, error: 'Bad Request', message: 'The specified new email already exists', errorCode: 'auth0_idp_error' });
    const moved = await failure(sdk.users.update(user.user_id!, { password: NEW_PASSWORD, connection: 'Listing' }));
    expect(moved.statusCode).toBe(400);
  });

  it('revokes the user’s refresh tokens when PATCH sets a password, and only then', async () => {
    const user = await newUser();
    const issued = (await (await realmToken(user.email!, PASSWORD)).json()) as { refresh_token: string };
    expect(issued.refresh_token).toEqual(expect.any(String));
    // Another change leaves the refresh token working (it rotates).
    await sdk.users.update(user.user_id!, { nickname: 'still-in' });
    const rotated = await refresh(issued.refresh_token);
    expect(rotated.status).toBe(200);
    const { refresh_token: current } = (await rotated.json()) as { refresh_token: string };

    await sdk.users.update(user.user_id!, { password: NEW_PASSWORD, connection: REALM });
    const refused = await refresh(current);
    expect(refused.status).toBe(400);
    expect(await refused.json()).toMatchObject({ error: 'invalid_grant' });
    expect((await realmToken(user.email!, PASSWORD, 'openid')).status).toBe(403);
    expect((await realmToken(user.email!, NEW_PASSWORD, 'openid')).status).toBe(200);
    // A weak password is refused by the connection's policy, changing nothing.
    const weak = await failure(sdk.users.update(user.user_id!, { password: 'tiny' }));
    expect(weak.body).toMatchObject({ statusCode: 400, errorCode: 'invalid_body' });
    expect((await realmToken(user.email!, NEW_PASSWORD, 'openid')).status).toBe(200);
  });

  it('deletes a user with its SSO session: prompt=none gives no code afterwards, and nothing of the account is left', async () => {
    const user = await newUser();
    const rp = await oidc.discovery(new URL(issuer), web.clientId, web.clientSecret, undefined, { execute: [oidc.allowInsecureRequests] });
    const flow = codeFlow({ issuer, redirectUri: CALLBACK, password: PASSWORD });
    const browser = new HttpBrowser();
    await flow.signIn(browser, rp, user.email!);
    const silently = async () => {
      const params = new URL((await flow.authorize(browser, rp, { prompt: 'none' })).url).searchParams;
      return params.get('code') ? 'code' : (params.get('error') ?? 'nothing');
    };
    expect(await silently()).toBe('code');
    await realmToken(user.email!, PASSWORD);
    const artifactsOf = () => t.database.db.selectFrom('oidc_artifacts').select('kind').where('tenant_id', '=', tenantId).where('account_id', '=', user.user_id!).execute();
    expect((await artifactsOf()).map((a) => a.kind)).toEqual(expect.arrayContaining(['Session', 'Grant', 'RefreshToken']));

    await sdk.users.delete(user.user_id!);
    expect(await silently()).toBe('login_required');
    expect(await artifactsOf()).toEqual([]);
    const missing = await failure(sdk.users.get(user.user_id!));
    expect(missing.body).toEqual({ statusCode: 404, error: 'Not Found', message: 'The user does not exist.', errorCode: 'inexistent_user' });
    expect((await failure(sdk.users.delete(user.user_id!))).statusCode).toBe(404);
  });

  it('assigns, lists and removes roles and direct permissions; lists the user’s log events', async () => {
    const user = await newUser();
    const id = user.user_id!;
    const [reader, writer] = [await stores.roles.insert({ name: 'reader', description: 'Reads' }), await stores.roles.insert({ name: 'writer' })];
    await sdk.users.roles.assign(id, { roles: [writer.id, reader.id] });
    const roles = await sdk.users.roles.list(id, { per_page: 1 });
    expect(roles.data).toEqual([{ id: reader.id, name: 'reader', description: 'Reads' }]);
    expect(roles.response).toMatchObject({ start: 0, limit: 1, total: 2 });
    await sdk.users.roles.delete(id, { roles: [reader.id] });
    expect((await sdk.users.roles.list(id)).data.map((r) => r.name)).toEqual(['writer']);
    const unknownRole = await api(`/users/${encodeURIComponent(id)}/roles`, { method: 'POST', body: JSON.stringify({ roles: ['rol_nope'] }) });
    expect(await unknownRole.json()).toMatchObject({ statusCode: 404, errorCode: 'inexistent_role' });

    await sdk.users.permissions.create(id, { permissions: [{ resource_server_identifier: ORDERS, permission_name: 'read:orders' }] });
    expect((await sdk.users.permissions.list(id)).data).toEqual([{ resource_server_identifier: ORDERS, permission_name: 'read:orders', resource_server_name: 'Orders', description: 'Read orders' }]);
    await sdk.users.permissions.delete(id, { permissions: [{ resource_server_identifier: ORDERS, permission_name: 'read:orders' }] });
    expect((await sdk.users.permissions.list(id)).data).toEqual([]);
    const unknownApi = await api(`/users/${encodeURIComponent(id)}/permissions`, { method: 'POST', body: JSON.stringify({ permissions: [{ resource_server_identifier: 'https://nope.example/', permission_name: 'x' }] }) });
    expect(await unknownApi.json()).toEqual({ statusCode: 400, error: 'Bad Request', message: 'The resource server "https://nope.example/" does not exist', errorCode: 'invalid_body' });
    const undefinedScope = await failure(sdk.users.permissions.create(id, { permissions: [{ resource_server_identifier: ORDERS, permission_name: 'write:orders' }] }));
    expect(undefinedScope.statusCode).toBe(400);

    const logs = logsStore(t.database.db, tenantId, systemRuntime);
    await logs.append({ type: 's', user_id: id, description: 'first' });
    await logs.append({ type: 'fp', user_id: 'auth0|someone-else' });
    await logs.append({ type: 'sepft', user_id: id, description: 'second' });
    const events = await sdk.users.logs.list(id, { per_page: 1 });
    expect(events.data.map((e) => e.type)).toEqual(['sepft']);
    expect(events.response).toMatchObject({ total: 2 });
    expect((await sdk.users.logs.list(id, { sort: 'date:1' })).data.map((e) => e.description)).toEqual(['first', 'second']);
  });

  it('never answers a password hash: no users route, nor the audit trail, holds it or "argon2"', async () => {
    const user = await newUser();
    const id = encodeURIComponent(user.user_id!);
    const hash = await stores.users.passwordHash(user.user_id!);
    expect(hash).toMatch(/^\$argon2id\$/);
    const bodies: string[] = [JSON.stringify(user)];
    const read = async (path: string, init: RequestInit = {}) => {
      const res = await api(path, init);
      expect(res.status, path).toBeLessThan(300);
      bodies.push(await res.text());
    };
    await read('/users?include_totals=true&per_page=100');
    await read(`/users?q=${encodeURIComponent(`user_id:"${user.user_id}"`)}`);
    await read(`/users/${id}`);
    await read(`/users-by-email?email=${encodeURIComponent(user.email!)}`);
    await read(`/users/${id}`, { method: 'PATCH', body: JSON.stringify({ name: 'Hash Free', password: NEW_PASSWORD }) });
    await read(`/users/${id}/roles?include_totals=true`);
    await read(`/users/${id}/permissions?include_totals=true`);
    await read(`/users/${id}/logs?include_totals=true`);
    const newHash = (await stores.users.passwordHash(user.user_id!))!;
    expect(newHash).not.toBe(hash);
    const audit = JSON.stringify(await logsStore(t.database.db, tenantId, systemRuntime).list({ offset: 0, limit: 1000 }));
    for (const text of [...bodies, audit]) {
      expect(text).not.toContain(hash!);
      expect(text).not.toContain(newHash);
      expect(text.toLowerCase()).not.toContain('argon2');
      expect(text).not.toContain(NEW_PASSWORD);
    }
    expect(audit).toContain('Update user');
  });

  it('keeps tenants apart: another tenant’s user is a 404 everywhere', async () => {
    const other = await createTenant(t.database, 'other-users');
    const foreign = await t.services.users.signup({ tenantId: other.id, connectionName: REALM, email: 'foreign@example.test', password: PASSWORD });
    const id = encodeURIComponent(foreign.user_id);
    for (const [method, path, body] of [
      ['GET', `/users/${id}`, undefined],
      ['PATCH', `/users/${id}`, { name: 'Mine' }],
      ['DELETE', `/users/${id}`, undefined],
      ['GET', `/users/${id}/roles`, undefined],
      ['POST', `/users/${id}/roles`, { roles: ['rol_x'] }],
      ['GET', `/users/${id}/permissions`, undefined],
      ['GET', `/users/${id}/logs`, undefined],
    ] as const) {
      const res = await api(path, { method, ...(body ? { body: JSON.stringify(body) } : {}) });
      expect(res.status, `${method} ${path}`).toBe(404);
      expect(await res.json()).toMatchObject({ errorCode: 'inexistent_user' });
    }
    expect(await (await api('/users-by-email?email=foreign@example.test')).json()).toEqual([]);
    expect((await t.services.users.authenticate({ tenantId: other.id, connectionName: REALM, identifier: 'foreign@example.test', password: PASSWORD, ip: null })).ok).toBe(true);
  });

  it('requires the route’s scopes; update:users_app_metadata may change metadata only', async () => {
    const user = await newUser();
    const id = encodeURIComponent(user.user_id!);
    const reader = await tokenWith(['read:users']);
    expect((await api(`/users/${id}`, { token: reader })).status).toBe(200);
    expect(await (await api('/users', { token: reader, method: 'POST', body: JSON.stringify({ connection: REALM, email: email('x'), password: PASSWORD }) })).json()).toEqual({
      statusCode: 403,
      error: 'Forbidden',
      message: 'Insufficient scope, expected any of: create:users',
      errorCode: 'insufficient_scope',
    });
    const metadataOnly = sdkFor(issuer, await tokenWith(['update:users_app_metadata']));
    expect((await metadataOnly.users.update(user.user_id!, { app_metadata: { tier: 1 } })).app_metadata).toEqual({ tier: 1 });
    const refused = await failure(metadataOnly.users.update(user.user_id!, { blocked: true }));
    expect(refused.body).toMatchObject({ statusCode: 403, errorCode: 'insufficient_scope' });
    expect((await sdk.users.get(user.user_id!)).blocked).toBe(false);
  });

  it('publishes the users and grants routes in the OpenAPI document, with no credential in the user shape', async () => {
    const doc = (await (await fetch(`${issuer}api/v2/openapi.json`)).json()) as { paths: Record<string, Record<string, { responses: Record<string, { content?: Record<string, { schema: { properties?: Record<string, unknown> } }> }> }>> };
    expect(Object.keys(doc.paths['/users/{id}']!).sort()).toEqual(['delete', 'get', 'patch']);
    for (const path of ['/users', '/users-by-email', '/users/{id}/roles', '/users/{id}/permissions', '/users/{id}/logs', '/grants', '/grants/{id}']) expect(doc.paths).toHaveProperty([path]);
    const userProps = doc.paths['/users/{id}']!.get!.responses['200']!.content!['application/json']!.schema.properties!;
    expect(Object.keys(userProps)).toEqual(expect.arrayContaining(['user_id', 'identities', 'app_metadata']));
    for (const secret of ['password', 'hash', 'password_hash', 'connection_id']) expect(userProps).not.toHaveProperty(secret);
  });
});
