import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import * as oidc from 'openid-client';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../../test/support/app.js';
import { describeEachBackend, openTestDatabase } from '../../test/support/backends.js';
import { freePort } from '../../test/support/cli.js';
import { createApp } from '../http/app.js';
import { systemRuntime } from '../storage/runtime.js';
import { tenantStores } from '../tenants/tenant-stores.js';
import pino from 'pino';

describeEachBackend('client_credentials at /oauth/token (openid-client as the client)', (backend) => {
  let t: TestApp;
  let issuer: string;
  let admin: { clientId: string; clientSecret: string; audience: string };
  let rp: oidc.Configuration;
  const ordersApi = 'https://orders.example.test/';

  beforeAll(async () => {
    const port = await freePort();
    issuer = `http://127.0.0.1:${port}/`;
    t = await startTestApp(backend, { PUBLIC_URL: `http://127.0.0.1:${port}`, TENANT_CACHE_TTL_MS: '200' });
    await t.app.listen({ port, host: '127.0.0.1' });
    const tenant = await t.services.tenants.resolve(undefined);
    admin = await t.services.clients.ensureAdminClient(tenant.id);
    const stores = tenantStores(t.database.db, tenant.id, systemRuntime);
    await stores.resourceServers.insert({ identifier: ordersApi, name: 'Orders', scopes: [{ value: 'read:orders', description: null }] });
    rp = await oidc.discovery(new URL(issuer), admin.clientId, admin.clientSecret, oidc.ClientSecretPost(admin.clientSecret), { execute: [oidc.allowInsecureRequests] });
  });
  afterAll(async () => t?.cleanup());

  const jwks = () => createRemoteJWKSet(new URL(`${issuer}.well-known/jwks.json`));

  it('publishes discovery at Auth0 paths with the tenant issuer', () => {
    const meta = rp.serverMetadata();
    expect(meta.issuer).toBe(issuer);
    expect(meta.token_endpoint).toBe(`${issuer}oauth/token`);
    expect(meta.authorization_endpoint).toBe(`${issuer}authorize`);
    expect(meta.jwks_uri).toBe(`${issuer}.well-known/jwks.json`);
    expect(meta.revocation_endpoint).toBe(`${issuer}oauth/revoke`);
    expect(meta.introspection_endpoint).toBe(`${issuer}oauth/introspect`);
    expect(meta.end_session_endpoint).toBe(`${issuer}oidc/logout`);
    expect(meta.code_challenge_methods_supported).toEqual(['S256']);
    expect(meta.response_types_supported).not.toContain('id_token');
  });

  it('issues an Auth0-shaped JWT access token for the audience, with every granted scope when none is asked', async () => {
    const tokens = await oidc.clientCredentialsGrant(rp, { audience: admin.audience });
    expect(tokens.token_type.toLowerCase()).toBe('bearer');
    expect(decodeProtectedHeader(tokens.access_token)).toMatchObject({ typ: 'at+jwt', alg: 'RS256' });
    const { payload } = await jwtVerify(tokens.access_token, jwks(), { issuer, audience: admin.audience, typ: 'at+jwt' });
    expect(payload).toMatchObject({ sub: `${admin.clientId}@clients`, azp: admin.clientId, gty: 'client-credentials' });
    expect((payload.scope as string).split(' ')).toEqual(expect.arrayContaining(['read:users', 'create:clients', 'read:logs']));
    expect(payload.exp! - payload.iat!).toBe(86400);
  });

  it('grants only the requested scopes that the client grant allows', async () => {
    const tokens = await oidc.clientCredentialsGrant(rp, { audience: admin.audience, scope: 'read:users not:a:scope' });
    const { payload } = await jwtVerify(tokens.access_token, jwks(), { issuer, audience: admin.audience });
    expect(payload.scope).toBe('read:users');
  });

  it('accepts Auth0-style JSON token requests', async () => {
    const res = await fetch(`${issuer}oauth/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ grant_type: 'client_credentials', client_id: admin.clientId, client_secret: admin.clientSecret, audience: admin.audience }),
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(((await res.json()) as { access_token: string }).access_token.split('.')).toHaveLength(3);
  });

  const tokenError = async (body: Record<string, string>) => {
    const res = await fetch(`${issuer}oauth/token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(body).toString() });
    return { status: res.status, body: (await res.json()) as Record<string, string> };
  };

  it('answers RFC 6749 errors: wrong secret, unknown audience, API without a client grant, unknown grant type', async () => {
    const base = { grant_type: 'client_credentials', client_id: admin.clientId, client_secret: admin.clientSecret };
    expect(await tokenError({ ...base, client_secret: 'wrong', audience: admin.audience })).toEqual({ status: 401, body: { error: 'invalid_client', error_description: 'client authentication failed' } });
    expect(await tokenError({ ...base, audience: 'https://unknown.example/' })).toEqual({ status: 400, body: { error: 'invalid_target', error_description: 'Service not found: https://unknown.example/' } });
    const denied = await tokenError({ ...base, audience: ordersApi });
    expect(denied.status).toBe(403);
    expect(denied.body.error).toBe('access_denied');
    expect(denied.body.error_description).toContain(`Client is not authorized to access "${ordersApi}"`);
    const unsupported = await tokenError({ ...base, grant_type: 'urn:example:nope' });
    expect(unsupported).toMatchObject({ status: 400, body: { error: 'unsupported_grant_type' } });
    const duplicated = await fetch(`${issuer}oauth/token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: `grant_type=client_credentials&grant_type=client_credentials&client_id=${admin.clientId}&client_secret=${admin.clientSecret}` });
    expect(duplicated.status).toBe(400);
    expect(((await duplicated.json()) as { error: string }).error).toBe('invalid_request');
  });

  it('serves discovery and JWKS with ETags and 304s, publishing the next key before it signs', async () => {
    const first = await fetch(`${issuer}.well-known/jwks.json`);
    const etag = first.headers.get('etag')!;
    expect(first.headers.get('cache-control')).toMatch(/^public, max-age=\d+/);
    const keys = ((await first.json()) as { keys: Array<{ kid: string; d?: string }> }).keys;
    expect(keys).toHaveLength(2); // current and next
    expect(keys.every((k) => k.d === undefined)).toBe(true);
    const again = await fetch(`${issuer}.well-known/jwks.json`, { headers: { 'if-none-match': etag } });
    expect(again.status).toBe(304);
    const discovery = await fetch(`${issuer}.well-known/openid-configuration`);
    const notModified = await fetch(`${issuer}.well-known/openid-configuration`, { headers: { 'if-none-match': discovery.headers.get('etag')! } });
    expect(notModified.status).toBe(304);
  });

  it('after a key rotation by another node, this node signs with the new key within a second, and old tokens still verify', async () => {
    const before = await oidc.clientCredentialsGrant(rp, { audience: admin.audience });
    const oldKid = decodeProtectedHeader(before.access_token).kid;
    const jwksBefore = (await (await fetch(`${issuer}.well-known/jwks.json`)).json()) as { keys: Array<{ kid: string }> };
    const nextKid = jwksBefore.keys.map((k) => k.kid).find((kid) => kid !== oldKid);

    // "Another node": a second app on the same database rotates the keys.
    const other = openTestDatabase(t.testDb.config);
    const otherApp = createApp(t.config, { database: other, logger: pino({ level: 'silent' }), secretBox: t.secretBox });
    try {
      const tenant = await otherApp.services.tenants.resolve(undefined);
      await otherApp.services.keys.rotate(tenant.id);
    } finally {
      await otherApp.app.close();
      await other.close();
    }
    const started = Date.now();
    let kid = oldKid;
    while (kid === oldKid && Date.now() - started < 5000) {
      await new Promise((r) => setTimeout(r, 100));
      kid = decodeProtectedHeader((await oidc.clientCredentialsGrant(rp, { audience: admin.audience })).access_token).kid;
    }
    expect(kid).toBe(nextKid);
    expect(Date.now() - started).toBeLessThan(1500);
    await expect(jwtVerify(before.access_token, createRemoteJWKSet(new URL(`${issuer}.well-known/jwks.json`)), { issuer })).resolves.toBeDefined();
  });

  it('adds a permissions claim for APIs with RBAC and the access_token_authz dialect', async () => {
    const tenant = await t.services.tenants.resolve(undefined);
    const stores = tenantStores(t.database.db, tenant.id, systemRuntime);
    const rbacApi = 'https://rbac.example.test/';
    await stores.resourceServers.insert({ identifier: rbacApi, name: 'RBAC API', enforcePolicies: true, tokenDialect: 'access_token_authz', scopes: [{ value: 'read:a', description: null }, { value: 'write:a', description: null }] });
    await stores.clientGrants.insert({ clientId: admin.clientId, audience: rbacApi, scope: ['read:a'] });
    const tokens = await oidc.clientCredentialsGrant(rp, { audience: rbacApi });
    const { payload } = await jwtVerify(tokens.access_token, jwks(), { issuer, audience: rbacApi });
    expect(payload.scope).toBe('read:a');
    expect(payload.permissions).toEqual(['read:a']);
    // Without RBAC there is no permissions claim.
    const plain = await oidc.clientCredentialsGrant(rp, { audience: admin.audience, scope: 'read:users' });
    expect((await jwtVerify(plain.access_token, jwks(), { issuer })).payload.permissions).toBeUndefined();
  });

  it('feeds token issuance and failures to the event bus, without secrets', async () => {
    const seen: Array<[string, Record<string, unknown>]> = [];
    t.events.observe((e) => void (e.type === 'seccft' || e.type === 'feccft' ? seen.push([e.type, { ...e }]) : undefined));
    await oidc.clientCredentialsGrant(rp, { audience: admin.audience, scope: 'read:users' });
    await tokenError({ grant_type: 'client_credentials', client_id: admin.clientId, client_secret: 'wrong', audience: admin.audience });
    expect(seen[0]).toEqual(['seccft', expect.objectContaining({ clientId: admin.clientId, audience: admin.audience, scope: 'read:users' })]);
    expect(seen[1]).toEqual(['feccft', expect.objectContaining({ details: expect.objectContaining({ error: 'invalid_client' }) })]);
    expect(JSON.stringify(seen)).not.toContain(admin.clientSecret);
  });
});

describeEachBackend('tenants that sign with ES256 or EdDSA', (backend) => {
  // Regression: clients defaulted to RS256 ID tokens, so every token request
  // of a non-RSA tenant failed with invalid_client_metadata.
  it.each(['ES256', 'EdDSA'] as const)('issue %s-signed access tokens verifiable with the tenant JWKS', async (alg) => {
    const t = await startTestApp(backend, { SIGNING_ALG: alg });
    try {
      const tenant = await t.services.tenants.resolve(undefined);
      const admin = await t.services.clients.ensureAdminClient(tenant.id);
      const res = await t.app.inject({ method: 'POST', url: '/oauth/token', payload: { grant_type: 'client_credentials', client_id: admin.clientId, client_secret: admin.clientSecret, audience: admin.audience } });
      expect(res.statusCode).toBe(200);
      const token = (res.json() as { access_token: string }).access_token;
      expect(decodeProtectedHeader(token).alg).toBe(alg);
      const jwksBody = (await t.app.inject({ method: 'GET', url: '/.well-known/jwks.json' })).json() as { keys: Array<{ kid: string; alg: string }> };
      const key = jwksBody.keys.find((k) => k.kid === decodeProtectedHeader(token).kid)!;
      const { importJWK } = await import('jose');
      await expect(jwtVerify(token, await importJWK(key as never, alg))).resolves.toBeDefined();
    } finally {
      await t.cleanup();
    }
  });
});
