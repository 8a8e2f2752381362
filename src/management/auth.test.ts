import type { FastifyRequest } from 'fastify';
import { createLocalJWKSet, exportJWK, generateKeyPair, SignJWT, type JWK, type JWTVerifyGetKey } from 'jose';
import { beforeAll, describe, expect, it } from 'vitest';
import { HttpError } from '../http/errors.js';
import type { RequestTenant } from '../tenants/routes.js';
import { managementAuthenticator } from './auth.js';
import { managementAudience } from './scopes.js';

const ISSUER = 'https://acme.example.test/';

describe('Management API authentication: remembered verifications', () => {
  let key: Awaited<ReturnType<typeof generateKeyPair>>['privateKey'];
  let jwk: JWK;
  let otherJwk: JWK;
  beforeAll(async () => {
    const pair = await generateKeyPair('ES256');
    key = pair.privateKey;
    jwk = { ...(await exportJWK(pair.publicKey)), kid: 'k1', alg: 'ES256' };
    otherJwk = { ...(await exportJWK((await generateKeyPair('ES256')).publicKey)), kid: 'k2', alg: 'ES256' };
  });

  /** A key set that counts how often jose asks it for a key (once per real verification). */
  function countingKeys(keys: JWK[]): { getKey: JWTVerifyGetKey; lookups: () => number } {
    const local = createLocalJWKSet({ keys });
    let lookups = 0;
    return { getKey: (header, token) => (lookups++, local(header, token)), lookups: () => lookups };
  }

  const token = (nowSeconds: number, lifetime = 600, scope = 'read:users') =>
    new SignJWT({ scope, azp: 'cli_1' })
      .setProtectedHeader({ alg: 'ES256', kid: 'k1', typ: 'at+jwt' })
      .setIssuer(ISSUER)
      .setAudience(managementAudience(ISSUER))
      .setSubject('cli_1@clients')
      .setIssuedAt(nowSeconds)
      .setExpirationTime(nowSeconds + lifetime)
      .sign(key);

  const request = (bearer: string) =>
    ({ headers: { authorization: `Bearer ${bearer}` }, tenantContext: { tenant: { id: 'ten_1' }, issuer: ISSUER } as unknown as RequestTenant }) as unknown as FastifyRequest;

  async function status(promise: Promise<unknown>): Promise<number> {
    try {
      await promise;
      return 200;
    } catch (error) {
      if (error instanceof HttpError) return error.statusCode;
      throw error;
    }
  }

  it('verifies a token once, then answers from memory while it is valid', async () => {
    let now = Date.UTC(2030, 0, 1);
    const keys = countingKeys([jwk]);
    const authenticate = managementAuthenticator(async () => keys.getKey, () => now);
    const bearer = await token(now / 1000);
    expect((await authenticate(request(bearer), ['read:users'])).clientId).toBe('cli_1');
    expect(keys.lookups()).toBe(1);
    now += 30_000;
    expect((await authenticate(request(bearer), ['read:users'])).clientId).toBe('cli_1');
    expect(keys.lookups()).toBe(1);
    // Scopes are still checked on a remembered token.
    expect(await status(authenticate(request(bearer), ['delete:users']))).toBe(403);
  });

  it('refuses a remembered token once it has expired', async () => {
    let now = Date.UTC(2030, 0, 1);
    const keys = countingKeys([jwk]);
    const authenticate = managementAuthenticator(async () => keys.getKey, () => now);
    const bearer = await token(now / 1000, 20);
    expect(await status(authenticate(request(bearer), []))).toBe(200);
    now += 21_000;
    expect(await status(authenticate(request(bearer), []))).toBe(401);
  });

  it('verifies again after at most a minute, even for a long-lived token', async () => {
    let now = Date.UTC(2030, 0, 1);
    const keys = countingKeys([jwk]);
    const authenticate = managementAuthenticator(async () => keys.getKey, () => now);
    const bearer = await token(now / 1000, 86_400);
    await authenticate(request(bearer), []);
    now += 61_000;
    await authenticate(request(bearer), []);
    expect(keys.lookups()).toBe(2);
  });

  it('verifies again against a new key set: a token of a revoked key is refused at once', async () => {
    const now = Date.UTC(2030, 0, 1);
    let keys = countingKeys([jwk, otherJwk]);
    const authenticate = managementAuthenticator(async () => keys.getKey, () => now);
    const bearer = await token(now / 1000);
    expect(await status(authenticate(request(bearer), []))).toBe(200);
    // The tenant's engine was rebuilt without k1 (revoked): a new key set object.
    keys = countingKeys([otherJwk]);
    expect(await status(authenticate(request(bearer), []))).toBe(401);
  });

  it('never remembers a refused token', async () => {
    const now = Date.UTC(2030, 0, 1);
    const keys = countingKeys([jwk]);
    const authenticate = managementAuthenticator(async () => keys.getKey, () => now);
    const bearer = await token(now / 1000);
    const tampered = `${bearer.slice(0, -4)}${bearer.endsWith('AAAA') ? 'BBBB' : 'AAAA'}`;
    expect(await status(authenticate(request(tampered), []))).toBe(401);
    expect(await status(authenticate(request(tampered), []))).toBe(401);
    expect(keys.lookups()).toBe(2);
  });
});
