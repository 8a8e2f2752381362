import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SignJWT, createRemoteJWKSet, importPKCS8, jwtVerify, type CryptoKey } from 'jose';
import * as oidc from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startListeningTestApp, type TestApp } from '../../test/support/app.js';
import { describeEachBackend, silentLogger } from '../../test/support/backends.js';
import { testRuntime } from '../../test/support/clock.js';
import { codeFlow } from '../../test/support/code-flow.js';
import { testConfig } from '../../test/support/config.js';
import { HttpBrowser } from '../../test/support/http-browser.js';
import { clientCreateCommand } from '../cli/commands.js';
import { UsageError } from '../cli/errors.js';
import { CredentialError, credentialJwks, publicKeyCredential, type CredentialAlg, type PublicKeyCredential } from '../clients/credentials.js';
import { encodeJson } from '../storage/codec.js';
import { systemRuntime } from '../storage/runtime.js';
import { tenantStores } from '../tenants/tenant-stores.js';
import { artifactsStore } from './artifact-store.js';
import { toClientMetadata } from './client-metadata.js';

/**
 * Client authentication with private_key_jwt (RFC 7523 §2.2, OIDC Core §9),
 * token introspection (RFC 7662) and revocation (RFC 7009), over real HTTP
 * with openid-client as the client. Raw requests only where a request has to
 * be wrong on purpose.
 */

const CALLBACK = 'https://app.example.test/callback';
const PASSWORD = 'correct horse battery staple';
const ORDERS_API = 'https://orders.example.test/';
const JWT_BEARER = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';
const INVALID_CLIENT = { error: 'invalid_client', error_description: 'client authentication failed' };

interface KeyPair {
  readonly publicPem: string;
  readonly privatePem: string;
}

function rsaKeyPair(modulusLength = 2048): KeyPair {
  const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength, publicKeyEncoding: { type: 'spki', format: 'pem' }, privateKeyEncoding: { type: 'pkcs8', format: 'pem' } });
  return { publicPem: publicKey, privatePem: privateKey };
}

function p256KeyPair(): KeyPair {
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256', publicKeyEncoding: { type: 'spki', format: 'pem' }, privateKeyEncoding: { type: 'pkcs8', format: 'pem' } });
  return { publicPem: publicKey, privatePem: privateKey };
}

const signingKey = (pair: KeyPair, alg: CredentialAlg): Promise<CryptoKey> => importPKCS8(pair.privatePem, alg);

describe('public key credentials (the stored shape of a private_key_jwt key)', () => {
  it('makes an Auth0-shaped credential of an RSA or P-256 public key, with the RFC 7638 thumbprint as kid', async () => {
    const rsa = await publicKeyCredential({ pem: rsaKeyPair().publicPem, name: 'ci' }, systemRuntime);
    expect(rsa).toMatchObject({ id: expect.stringMatching(/^cred_[A-Za-z0-9]{22}$/), name: 'ci', credential_type: 'public_key', alg: 'RS256', kid: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/) });
    expect(rsa.pem).toMatch(/^-----BEGIN PUBLIC KEY-----/);
    expect((await publicKeyCredential({ pem: rsaKeyPair().publicPem, alg: 'PS256' }, systemRuntime)).alg).toBe('PS256');
    expect((await publicKeyCredential({ pem: p256KeyPair().publicPem }, systemRuntime)).alg).toBe('ES256');
    // PKCS#1 input is stored as SPKI, with the same kid.
    const pair = rsaKeyPair();
    const { createPublicKey } = await import('node:crypto');
    const pkcs1 = createPublicKey(pair.publicPem).export({ type: 'pkcs1', format: 'pem' }).toString();
    const fromPkcs1 = await publicKeyCredential({ pem: pkcs1 }, systemRuntime);
    expect(fromPkcs1.pem).toMatch(/^-----BEGIN PUBLIC KEY-----/);
    expect(fromPkcs1.kid).toBe((await publicKeyCredential({ pem: pair.publicPem }, systemRuntime)).kid);
  });

  it('refuses private keys, short RSA keys, other curves, algorithms that do not fit the key, and past expiry dates', async () => {
    const refused = (input: Parameters<typeof publicKeyCredential>[0]) => publicKeyCredential(input, systemRuntime).catch((error: unknown) => error);
    const codeOf = async (input: Parameters<typeof publicKeyCredential>[0]) => {
      const error = await refused(input);
      expect(error).toBeInstanceOf(CredentialError);
      return (error as CredentialError).code;
    };
    expect(await codeOf({ pem: rsaKeyPair().privatePem })).toBe('private_key');
    expect(await codeOf({ pem: 'not a key' })).toBe('invalid_pem');
    expect(await codeOf({ pem: rsaKeyPair(1024).publicPem })).toBe('unsupported_key');
    const ed25519 = generateKeyPairSync('ed25519', { publicKeyEncoding: { type: 'spki', format: 'pem' }, privateKeyEncoding: { type: 'pkcs8', format: 'pem' } });
    expect(await codeOf({ pem: ed25519.publicKey })).toBe('unsupported_key');
    expect(await codeOf({ pem: rsaKeyPair().publicPem, alg: 'ES256' })).toBe('invalid_alg');
    expect(await codeOf({ pem: p256KeyPair().publicPem, alg: 'RS256' })).toBe('invalid_alg');
    expect(await codeOf({ pem: rsaKeyPair().publicPem, alg: 'HS256' })).toBe('invalid_alg');
    expect(await codeOf({ pem: rsaKeyPair().publicPem, expiresAt: '2001-01-01T00:00:00Z' })).toBe('invalid_expiry');
  });

  it('gives the engine each usable key pinned to its kid and alg, leaving out expired and malformed entries', async () => {
    const good = await publicKeyCredential({ pem: rsaKeyPair().publicPem }, systemRuntime);
    const expired: PublicKeyCredential = { ...(await publicKeyCredential({ pem: p256KeyPair().publicPem }, systemRuntime)), expires_at: '2001-01-01T00:00:00.000Z' };
    const config = { client_authentication_methods: { private_key_jwt: { credentials: [good, expired, { ...good, pem: 'garbage' }, { id: 'cred_x' }, null] } } };
    const keys = credentialJwks(config, new Date());
    expect(keys).toHaveLength(1);
    expect(keys[0]).toMatchObject({ kty: 'RSA', kid: good.kid, alg: 'RS256', use: 'sig' });
    expect(keys[0]).not.toHaveProperty('d');
    // Before its expiry date, the expired one was usable.
    expect(credentialJwks(config, new Date('2000-12-31T00:00:00Z')).map((k) => k.kid)).toEqual([good.kid, expired.kid]);
  });

  it('gives a private_key_jwt client no client_secret in the engine metadata, even when one is stored', async () => {
    const credential = await publicKeyCredential({ pem: rsaKeyPair().publicPem }, systemRuntime);
    const client = {
      clientId: 'c1',
      name: 'M2M',
      appType: 'non_interactive',
      isFirstParty: true,
      isSystem: false,
      tokenEndpointAuthMethod: 'private_key_jwt',
      secretSealed: 'sealed',
      config: { client_authentication_methods: { private_key_jwt: { credentials: [credential] } } },
      createdAt: '',
      updatedAt: '',
    };
    const metadata = toClientMetadata(client, 'the-old-secret');
    expect(metadata).not.toHaveProperty('client_secret');
    expect(metadata.jwks).toEqual({ keys: [expect.objectContaining({ kid: credential.kid })] });
    // Control: the same client with a secret method keeps its secret and gets no keys.
    const withSecret = toClientMetadata({ ...client, tokenEndpointAuthMethod: 'client_secret_post' }, 'the-old-secret');
    expect(withSecret).toMatchObject({ client_secret: 'the-old-secret' });
    expect(withSecret).not.toHaveProperty('jwks');
  });
});

describeEachBackend('client authentication, introspection and revocation over HTTP (openid-client as the client)', (backend) => {
  let t: TestApp;
  let issuer: string;
  let tenantId: string;
  let flow: ReturnType<typeof codeFlow>;
  let sequence = 0;
  const unique = (prefix: string) => `${prefix}-${backend}-${++sequence}-${randomBytes(3).toString('hex')}`;
  const discover = (clientId: string, auth: oidc.ClientAuth) => oidc.discovery(new URL(issuer), clientId, undefined, auth, { execute: [oidc.allowInsecureRequests] });
  const stores = () => tenantStores(t.database.db, tenantId, systemRuntime);

  beforeAll(async () => {
    ({ t, issuer, tenantId } = await startListeningTestApp(backend));
    await stores().resourceServers.insert({ identifier: ORDERS_API, name: 'Orders', scopes: [{ value: 'read:orders', description: null }] });
    flow = codeFlow({ issuer, redirectUri: CALLBACK, password: PASSWORD });
  });
  afterAll(async () => t?.cleanup());

  /** A machine-to-machine client authenticating with private_key_jwt, granted read:orders. */
  async function keyClient(pair: KeyPair, alg: CredentialAlg, credentialOverrides: Partial<PublicKeyCredential> = {}) {
    const credential = { ...(await publicKeyCredential({ pem: pair.publicPem, alg }, systemRuntime)), ...credentialOverrides };
    const created = await t.services.clients.create(tenantId, {
      name: unique('M2M'),
      appType: 'non_interactive',
      tokenEndpointAuthMethod: 'private_key_jwt',
      config: { grant_types: ['client_credentials'], client_authentication_methods: { private_key_jwt: { credentials: [credential] } } },
    });
    expect(created.clientSecret).toBeUndefined();
    await stores().clientGrants.insert({ clientId: created.clientId, audience: ORDERS_API, scope: ['read:orders'] });
    return { clientId: created.clientId, credential, key: await signingKey(pair, alg) };
  }

  /** A confidential web application for the code flow, with a secret or with a key. */
  async function webClient(auth: { secret: true } | { pair: KeyPair }) {
    const created = await t.services.clients.create(tenantId, {
      name: unique('Web App'),
      appType: 'regular_web',
      tokenEndpointAuthMethod: 'secret' in auth ? 'client_secret_basic' : 'private_key_jwt',
      config: {
        callbacks: [CALLBACK],
        grant_types: ['authorization_code', 'refresh_token'],
        ...('pair' in auth ? { client_authentication_methods: { private_key_jwt: { credentials: [await publicKeyCredential({ pem: auth.pair.publicPem }, systemRuntime)] } } } : {}),
      },
    });
    const clientAuth = 'pair' in auth ? oidc.PrivateKeyJwt(await signingKey(auth.pair, 'RS256')) : oidc.ClientSecretBasic(created.clientSecret!);
    return { clientId: created.clientId, clientSecret: created.clientSecret, rp: await discover(created.clientId, clientAuth) };
  }

  /** A public single-page application (token_endpoint_auth_method none). */
  async function publicClient() {
    const created = await t.services.clients.create(tenantId, { name: unique('SPA'), appType: 'spa', tokenEndpointAuthMethod: 'none', config: { callbacks: [CALLBACK], grant_types: ['authorization_code', 'refresh_token'] } });
    return { clientId: created.clientId, rp: await discover(created.clientId, oidc.None()) };
  }

  /** Signs a new user in with `rp` and redeems the code: an opaque access token and a refresh token. */
  async function userTokens(rp: oidc.Configuration) {
    const email = `${unique('user')}@example.test`;
    const user = await t.services.users.signup({ tenantId, connectionName: 'Username-Password-Authentication', email, password: PASSWORD });
    // OIDC Core §11: offline_access is honoured with prompt=consent (first-party clients are not asked).
    const tokens = await flow.redeem(rp, await flow.signIn(new HttpBrowser(), rp, email, { scope: 'openid offline_access', prompt: 'consent' }));
    expect(tokens.access_token.split('.')).toHaveLength(1); // opaque: no audience was asked
    expect(tokens.refresh_token).toBeTruthy();
    return { userId: user.user_id, accessToken: tokens.access_token, refreshToken: tokens.refresh_token! };
  }

  async function post(path: string, body: Record<string, string>, headers: Record<string, string> = {}) {
    const res = await fetch(`${issuer}${path}`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers }, body: new URLSearchParams(body).toString() });
    const text = await res.text();
    return { status: res.status, body: (text ? JSON.parse(text) : {}) as Record<string, unknown> };
  }

  /** A client assertion as RFC 7523 §3 describes it; `claims` override the defaults. */
  const assertion = (key: CryptoKey, alg: CredentialAlg, clientId: string, claims: Record<string, unknown> = {}) =>
    new SignJWT({ jti: randomBytes(16).toString('hex'), ...claims })
      .setProtectedHeader({ alg })
      .setIssuer(clientId)
      .setSubject(clientId)
      .setAudience((claims.aud as string | undefined) ?? issuer)
      .setIssuedAt()
      .setExpirationTime('60s')
      .sign(key);

  const clientCredentials = (clientId: string, clientAssertion: string) =>
    post('oauth/token', { grant_type: 'client_credentials', audience: ORDERS_API, client_id: clientId, client_assertion_type: JWT_BEARER, client_assertion: clientAssertion });

  describe('private_key_jwt at /oauth/token (RFC 7523 §2.2, OIDC Core §9)', () => {
    it.each([
      ['RS256', rsaKeyPair],
      ['PS256', rsaKeyPair],
      ['ES256', p256KeyPair],
    ] as const)('issues a client_credentials token to a client that signs its assertion with %s', async (alg, makePair) => {
      const client = await keyClient(makePair(), alg);
      const rp = await discover(client.clientId, oidc.PrivateKeyJwt(client.key));
      const tokens = await oidc.clientCredentialsGrant(rp, { audience: ORDERS_API });
      const { payload } = await jwtVerify(tokens.access_token, createRemoteJWKSet(new URL(`${issuer}.well-known/jwks.json`)), { issuer, audience: ORDERS_API });
      expect(payload).toMatchObject({ sub: `${client.clientId}@clients`, azp: client.clientId, gty: 'client-credentials', scope: 'read:orders' });
    });

    it('announces the accepted methods and assertion algorithms in discovery', async () => {
      const meta = (await discover('anyone', oidc.None())).serverMetadata();
      expect(meta.token_endpoint_auth_methods_supported).toContain('private_key_jwt');
      expect(meta.token_endpoint_auth_signing_alg_values_supported).toEqual(['HS256', 'RS256', 'PS256', 'ES256']);
    });

    it('accepts the token endpoint URL as the audience too (RFC 7523 §3)', async () => {
      const client = await keyClient(rsaKeyPair(), 'RS256');
      expect((await clientCredentials(client.clientId, await assertion(client.key, 'RS256', client.clientId, { aud: `${issuer}oauth/token` }))).status).toBe(200);
    });

    it('refuses an assertion signed by another key with 401 invalid_client', async () => {
      const client = await keyClient(rsaKeyPair(), 'RS256');
      const rp = await discover(client.clientId, oidc.PrivateKeyJwt(await signingKey(rsaKeyPair(), 'RS256')));
      await expect(oidc.clientCredentialsGrant(rp, { audience: ORDERS_API })).rejects.toMatchObject({ status: 401, ...INVALID_CLIENT });
      // Control: the registered key works.
      expect((await oidc.clientCredentialsGrant(await discover(client.clientId, oidc.PrivateKeyJwt(client.key)), { audience: ORDERS_API })).access_token).toBeTruthy();
    });

    it('refuses a replayed assertion (the same jti) with 401 invalid_client', async () => {
      const client = await keyClient(p256KeyPair(), 'ES256');
      const jti = randomBytes(16).toString('hex');
      const fixedJti = oidc.PrivateKeyJwt(client.key, {
        [oidc.modifyAssertion]: (_header, payload) => {
          payload.jti = jti;
        },
      });
      const rp = await discover(client.clientId, fixedJti);
      expect((await oidc.clientCredentialsGrant(rp, { audience: ORDERS_API })).access_token).toBeTruthy();
      await expect(oidc.clientCredentialsGrant(rp, { audience: ORDERS_API })).rejects.toMatchObject({ status: 401, ...INVALID_CLIENT });
      // The very same assertion, byte for byte.
      const signed = await assertion(client.key, 'ES256', client.clientId);
      expect((await clientCredentials(client.clientId, signed)).status).toBe(200);
      expect(await clientCredentials(client.clientId, signed)).toEqual({ status: 401, body: INVALID_CLIENT });
    });

    it('accepts an assertion once when it is replayed concurrently', async () => {
      const client = await keyClient(rsaKeyPair(), 'RS256');
      const signed = await assertion(client.key, 'RS256', client.clientId);
      const results = await Promise.all(Array.from({ length: 8 }, () => clientCredentials(client.clientId, signed)));
      expect(results.map((r) => r.status).sort()).toEqual([200, 401, 401, 401, 401, 401, 401, 401]);
    });

    it('refuses an assertion for another audience with 401 invalid_client', async () => {
      const client = await keyClient(rsaKeyPair(), 'PS256');
      for (const aud of ['https://elsewhere.example/', `${issuer}oauth/introspect-not`, `${issuer}userinfo`]) {
        const rp = await discover(
          client.clientId,
          oidc.PrivateKeyJwt(client.key, {
            [oidc.modifyAssertion]: (_header, payload) => {
              payload.aud = aud;
            },
          }),
        );
        await expect(oidc.clientCredentialsGrant(rp, { audience: ORDERS_API }), aud).rejects.toMatchObject({ status: 401, ...INVALID_CLIENT });
      }
    });

    it('refuses an assertion with another issuer, without an expiry, or by an algorithm other than the key’s', async () => {
      const pair = rsaKeyPair();
      const client = await keyClient(pair, 'RS256');
      const other = await keyClient(rsaKeyPair(), 'RS256');
      // iss/sub must be the client_id the request names (RFC 7523 §3 items 1 and 2).
      expect(await clientCredentials(client.clientId, await assertion(client.key, 'RS256', other.clientId))).toMatchObject({ status: 400, body: { error: 'invalid_request' } });
      const foreignIss = await new SignJWT({ jti: randomBytes(8).toString('hex') }).setProtectedHeader({ alg: 'RS256' }).setIssuer(other.clientId).setSubject(client.clientId).setAudience(issuer).setExpirationTime('60s').sign(client.key);
      expect(await clientCredentials(client.clientId, foreignIss)).toEqual({ status: 401, body: INVALID_CLIENT });
      const noExp = await new SignJWT({ jti: randomBytes(8).toString('hex') }).setProtectedHeader({ alg: 'RS256' }).setIssuer(client.clientId).setSubject(client.clientId).setAudience(issuer).sign(client.key);
      expect(await clientCredentials(client.clientId, noExp)).toEqual({ status: 401, body: INVALID_CLIENT });
      // The credential is pinned to RS256: a PS256 signature by the same key is refused.
      expect(await clientCredentials(client.clientId, await assertion(await signingKey(pair, 'PS256'), 'PS256', client.clientId))).toEqual({ status: 401, body: INVALID_CLIENT });
      // Control: the same request, properly signed.
      expect((await clientCredentials(client.clientId, await assertion(client.key, 'RS256', client.clientId))).status).toBe(200);
    });

    it('refuses a key whose credential has expired', async () => {
      const pair = rsaKeyPair();
      const client = await keyClient(pair, 'RS256', { expires_at: '2001-01-01T00:00:00.000Z' });
      expect(await clientCredentials(client.clientId, await assertion(client.key, 'RS256', client.clientId))).toEqual({ status: 401, body: INVALID_CLIENT });
    });

    it('refuses a client_secret from a private_key_jwt client, even one it had before switching to keys', async () => {
      // A client that had a secret, then switched to private_key_jwt (as the Management API will allow).
      const created = await t.services.clients.create(tenantId, { name: unique('Switched'), appType: 'non_interactive', tokenEndpointAuthMethod: 'client_secret_post', config: { grant_types: ['client_credentials'] } });
      await stores().clientGrants.insert({ clientId: created.clientId, audience: ORDERS_API, scope: ['read:orders'] });
      const pair = rsaKeyPair();
      const credential = await publicKeyCredential({ pem: pair.publicPem }, systemRuntime);
      // Control first: the secret works while the method is client_secret_post.
      const grant = { grant_type: 'client_credentials', audience: ORDERS_API, client_id: created.clientId };
      expect((await post('oauth/token', { ...grant, client_secret: created.clientSecret! })).status).toBe(200);
      await t.database.db
        .updateTable('clients')
        .set({ token_endpoint_auth_method: 'private_key_jwt', config: encodeJson({ grant_types: ['client_credentials'], client_authentication_methods: { private_key_jwt: { credentials: [credential] } } }) })
        .where('client_id', '=', created.clientId)
        .execute();
      const key = await signingKey(pair, 'RS256');
      // The change is in force within TENANT_CACHE_TTL_MS (1 s).
      let status = 0;
      for (const started = Date.now(); status !== 200 && Date.now() - started < 3000; ) {
        status = (await clientCredentials(created.clientId, await assertion(key, 'RS256', created.clientId))).status;
        if (status !== 200) await new Promise((resolve) => setTimeout(resolve, 100));
      }
      expect(status).toBe(200);
      expect(await post('oauth/token', { ...grant, client_secret: created.clientSecret! })).toEqual({ status: 401, body: INVALID_CLIENT });
      const basic = `Basic ${Buffer.from(`${created.clientId}:${created.clientSecret!}`).toString('base64')}`;
      expect(await post('oauth/token', { grant_type: 'client_credentials', audience: ORDERS_API }, { authorization: basic })).toMatchObject({ status: 401, body: INVALID_CLIENT });
      // A secret and an assertion together: one mechanism only (RFC 6749 §2.3).
      const both = await post('oauth/token', { ...grant, client_secret: created.clientSecret!, client_assertion_type: JWT_BEARER, client_assertion: await assertion(key, 'RS256', created.clientId) });
      expect(both).toMatchObject({ status: 400, body: { error: 'invalid_request', error_description: 'client authentication must only be provided using one mechanism' } });
    });

    it('reports failed assertions to the event bus without the assertion', async () => {
      const failures: Array<Record<string, unknown>> = [];
      t.events.observe((e) => void (e.type === 'feccft' && failures.push({ ...e, error: e.details?.error })));
      const client = await keyClient(rsaKeyPair(), 'RS256');
      const forged = await assertion(await signingKey(rsaKeyPair(), 'RS256'), 'RS256', client.clientId);
      expect((await clientCredentials(client.clientId, forged)).status).toBe(401);
      expect(failures).toContainEqual(expect.objectContaining({ error: 'invalid_client', clientId: client.clientId }));
      expect(JSON.stringify(failures)).not.toContain(forged.split('.')[2]);
    });
  });

  describe('introspection at /oauth/introspect (RFC 7662)', () => {
    it("answers active with the token's fields for the client's own access and refresh tokens", async () => {
      const client = await webClient({ secret: true });
      const tokens = await userTokens(client.rp);
      const access = await oidc.tokenIntrospection(client.rp, tokens.accessToken);
      expect(access).toMatchObject({ active: true, client_id: client.clientId, sub: tokens.userId, iss: issuer, token_type: 'Bearer', scope: expect.stringContaining('openid') });
      expect(access.exp! - access.iat!).toBe(86_400);
      const refresh = await oidc.tokenIntrospection(client.rp, tokens.refreshToken, { token_type_hint: 'refresh_token' });
      expect(refresh).toMatchObject({ active: true, client_id: client.clientId, sub: tokens.userId, iss: issuer, scope: expect.stringContaining('offline_access') });
      expect(refresh.token_type).toBeUndefined();
      expect(refresh.exp! - refresh.iat!).toBe(30 * 86_400);
    });

    it('works for a client authenticating with private_key_jwt', async () => {
      const client = await webClient({ pair: rsaKeyPair() });
      const tokens = await userTokens(client.rp);
      expect(await oidc.tokenIntrospection(client.rp, tokens.refreshToken)).toMatchObject({ active: true, client_id: client.clientId });
    });

    it('answers only { active: false } for unknown, expired and revoked tokens', async () => {
      const client = await webClient({ secret: true });
      expect(await oidc.tokenIntrospection(client.rp, 'no-such-token')).toEqual({ active: false });

      // Expired: the engine's own expiry (payload exp) is moved into the past.
      const expired = await userTokens(client.rp);
      expect((await oidc.tokenIntrospection(client.rp, expired.accessToken)).active).toBe(true);
      const row = await t.database.db.selectFrom('oidc_artifacts').select('payload').where('kind', '=', 'AccessToken').where('id', '=', expired.accessToken).executeTakeFirstOrThrow();
      const payload = (typeof row.payload === 'string' ? JSON.parse(row.payload) : row.payload) as Record<string, number>;
      await t.database.db
        .updateTable('oidc_artifacts')
        .set({ payload: encodeJson({ ...payload, iat: payload.iat! - 90_000, exp: payload.iat! - 3_600 }) })
        .where('kind', '=', 'AccessToken')
        .where('id', '=', expired.accessToken)
        .execute();
      expect(await oidc.tokenIntrospection(client.rp, expired.accessToken)).toEqual({ active: false });

      const revoked = await userTokens(client.rp);
      await oidc.tokenRevocation(client.rp, revoked.accessToken);
      expect(await oidc.tokenIntrospection(client.rp, revoked.accessToken)).toEqual({ active: false });
    });

    it("answers { active: false } to a client asking about another client's tokens", async () => {
      const owner = await webClient({ secret: true });
      const other = await webClient({ secret: true });
      const tokens = await userTokens(owner.rp);
      expect(await oidc.tokenIntrospection(other.rp, tokens.accessToken)).toEqual({ active: false });
      expect(await oidc.tokenIntrospection(other.rp, tokens.refreshToken)).toEqual({ active: false });
      // Control: the owner still sees them active.
      expect((await oidc.tokenIntrospection(owner.rp, tokens.accessToken)).active).toBe(true);
    });

    it('refuses a public client with 401 invalid_client, whatever the token', async () => {
      const spa = await publicClient();
      const tokens = await userTokens(spa.rp);
      for (const token of [tokens.accessToken, tokens.refreshToken, 'no-such-token']) {
        await expect(oidc.tokenIntrospection(spa.rp, token)).rejects.toMatchObject({ status: 401, error: 'invalid_client' });
      }
      // The tokens are valid: the same refresh token still refreshes.
      expect((await oidc.refreshTokenGrant(spa.rp, tokens.refreshToken)).access_token).toBeTruthy();
    });

    it('refuses a confidential client with wrong credentials with 401 invalid_client', async () => {
      const client = await webClient({ secret: true });
      const tokens = await userTokens(client.rp);
      const wrong = await discover(client.clientId, oidc.ClientSecretPost('wrong-secret'));
      await expect(oidc.tokenIntrospection(wrong, tokens.accessToken)).rejects.toMatchObject({ status: 401, ...INVALID_CLIENT });
      const keyClientRp = await webClient({ pair: rsaKeyPair() });
      const wrongKey = await discover(keyClientRp.clientId, oidc.PrivateKeyJwt(await signingKey(rsaKeyPair(), 'RS256')));
      await expect(oidc.tokenIntrospection(wrongKey, tokens.accessToken)).rejects.toMatchObject({ status: 401, ...INVALID_CLIENT });
    });

    it('does not introspect JWT access tokens (API audience): the engine answers 400 unsupported_token_type', async () => {
      const client = await keyClient(rsaKeyPair(), 'RS256');
      const rp = await discover(client.clientId, oidc.PrivateKeyJwt(client.key));
      const { access_token: jwt } = await oidc.clientCredentialsGrant(rp, { audience: ORDERS_API });
      expect(jwt.split('.')).toHaveLength(3);
      await expect(oidc.tokenIntrospection(rp, jwt)).rejects.toMatchObject({
        status: 400,
        error: 'unsupported_token_type',
        error_description: 'Structured JWT Tokens cannot be introspected via the introspection_endpoint',
      });
    });
  });

  describe('revocation at /oauth/revoke (RFC 7009)', () => {
    it('kills a revoked refresh token, and the access token of the same grant', async () => {
      const client = await webClient({ secret: true });
      const tokens = await userTokens(client.rp);
      await expect(oidc.tokenRevocation(client.rp, tokens.refreshToken, { token_type_hint: 'refresh_token' })).resolves.toBeUndefined();
      await expect(oidc.refreshTokenGrant(client.rp, tokens.refreshToken)).rejects.toMatchObject({ status: 400, error: 'invalid_grant' });
      expect(await oidc.tokenIntrospection(client.rp, tokens.accessToken)).toEqual({ active: false });
    });

    it('revokes for a client authenticating with private_key_jwt', async () => {
      const client = await webClient({ pair: rsaKeyPair() });
      const tokens = await userTokens(client.rp);
      await oidc.tokenRevocation(client.rp, tokens.refreshToken);
      await expect(oidc.refreshTokenGrant(client.rp, tokens.refreshToken)).rejects.toMatchObject({ status: 400, error: 'invalid_grant' });
    });

    it('answers 200 for an unknown token', async () => {
      const client = await webClient({ secret: true });
      await expect(oidc.tokenRevocation(client.rp, 'no-such-token')).resolves.toBeUndefined();
      const raw = await post('oauth/revoke', { token: 'no-such-token' }, { authorization: `Basic ${Buffer.from(`${client.clientId}:${client.clientSecret!}`).toString('base64')}` });
      expect(raw.status).toBe(200);
    });

    it("does not revoke another client's token (the engine refuses with invalid_request)", async () => {
      const owner = await webClient({ secret: true });
      const other = await webClient({ secret: true });
      const tokens = await userTokens(owner.rp);
      await expect(oidc.tokenRevocation(other.rp, tokens.refreshToken)).rejects.toMatchObject({ status: 400, error: 'invalid_request', error_description: 'client is not authorized to revoke the presented token' });
      expect((await oidc.tokenIntrospection(owner.rp, tokens.accessToken)).active).toBe(true);
      expect((await oidc.refreshTokenGrant(owner.rp, tokens.refreshToken)).access_token).toBeTruthy();
    });
  });

  describe('replay detection storage (the artifact store claims an id once)', () => {
    it('inserts an id for exactly one of many concurrent callers, and leaves the winner untouched', async () => {
      const store = artifactsStore(t.database.db, tenantId, systemRuntime);
      const id = randomBytes(16).toString('base64url');
      const won = await Promise.all(Array.from({ length: 8 }, (_, i) => store.insertIfAbsent('ReplayDetection', id, { attempt: i }, 60)));
      expect(won.filter(Boolean)).toHaveLength(1);
      expect((await store.find('ReplayDetection', id))?.payload).toEqual({ attempt: won.indexOf(true) });
    });

    it('replaces an expired entry, never a live one', async () => {
      const clock = testRuntime(new Date());
      const store = artifactsStore(t.database.db, tenantId, clock);
      const id = randomBytes(16).toString('base64url');
      expect(await store.insertIfAbsent('ReplayDetection', id, { n: 1 }, 60)).toBe(true);
      clock.advance(59_000);
      expect(await store.insertIfAbsent('ReplayDetection', id, { n: 2 }, 60)).toBe(false);
      expect((await store.find('ReplayDetection', id))?.payload).toEqual({ n: 1 });
      clock.advance(2_000);
      expect(await store.insertIfAbsent('ReplayDetection', id, { n: 3 }, 60)).toBe(true);
      expect((await store.find('ReplayDetection', id))?.payload).toEqual({ n: 3 });
    });
  });

  describe('portcullis client create --public-key-file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'portcullis-keys-'));
    afterAll(() => rmSync(dir, { recursive: true, force: true }));
    const cliConfig = () => testConfig({ DATABASE_URL: t.testDb.url, PUBLIC_URL: issuer.replace(/\/$/, '') });
    const file = (name: string, content: string) => {
      const path = join(dir, name);
      writeFileSync(path, content);
      return path;
    };
    const create = async (args: Partial<Parameters<typeof clientCreateCommand>[3]>) => {
      const lines: string[] = [];
      await clientCreateCommand(cliConfig(), silentLogger, { out: (line) => void lines.push(line) }, { name: unique('CLI'), appType: 'non_interactive', callbacks: [], logoutUrls: [], json: true, ...args });
      return JSON.parse(lines[0]!) as Record<string, string>;
    };

    it('creates a client without a secret that authenticates with the matching private key', async () => {
      const pair = p256KeyPair();
      const result = await create({ publicKeyFile: file(unique('ec.pem'), pair.publicPem) });
      expect(result).toEqual({ issuer, client_id: expect.stringMatching(/^[A-Za-z0-9]{32}$/), token_endpoint_auth_method: 'private_key_jwt', kid: expect.any(String), alg: 'ES256' });
      await stores().clientGrants.insert({ clientId: result.client_id!, audience: ORDERS_API, scope: ['read:orders'] });
      const rp = await discover(result.client_id!, oidc.PrivateKeyJwt({ key: await signingKey(pair, 'ES256'), kid: result.kid! }));
      expect((await oidc.clientCredentialsGrant(rp, { audience: ORDERS_API })).scope).toBe('read:orders');
    });

    it('refuses a private key, an unreadable file and a public application type as usage errors', async () => {
      const pair = rsaKeyPair();
      const refusal = (args: Partial<Parameters<typeof clientCreateCommand>[3]>) => create(args).catch((error: unknown) => error);
      const privateKey = await refusal({ publicKeyFile: file(unique('private.pem'), pair.privatePem) });
      expect(privateKey).toBeInstanceOf(UsageError);
      expect((privateKey as Error).message).toMatch(/--public-key-file .*: this is a private key: give the public key only$/);
      expect(await refusal({ publicKeyFile: join(dir, 'missing.pem') })).toMatchObject({ message: expect.stringMatching(/^cannot read --public-key-file .*missing\.pem: ENOENT$/) });
      expect(await refusal({ appType: 'spa', callbacks: [CALLBACK], publicKeyFile: file(unique('rsa.pem'), pair.publicPem) })).toBeInstanceOf(UsageError);
    });
  });
});
