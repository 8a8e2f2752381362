import { randomBytes } from 'node:crypto';
import { compactVerify, importJWK, SignJWT, type JWK } from 'jose';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeEachBackend, migratedDatabase, openTestDatabase } from '../../test/support/backends.js';
import { createTenant } from '../../test/support/fixtures.js';
import { SecretBox, SecretBoxError } from '../crypto/secret-box.js';
import { systemRuntime } from '../storage/runtime.js';
import type { Tenant } from '../tenants/store.js';
import { generateSigningKey } from './generate.js';
import { KeyError, keysService } from './service.js';

async function signWith(privateJwk: JWK, alg: string): Promise<string> {
  return new SignJWT({ sub: 'u1' }).setProtectedHeader({ alg, kid: privateJwk.kid! }).sign(await importJWK(privateJwk, alg));
}

async function verifiesWithJwks(token: string, jwks: readonly JWK[]): Promise<boolean> {
  const kid = JSON.parse(Buffer.from(token.split('.')[0]!, 'base64url').toString()).kid as string;
  const jwk = jwks.find((k) => k.kid === kid);
  if (!jwk) return false;
  await compactVerify(token, await importJWK(jwk, jwk.alg));
  return true;
}

describeEachBackend('signing keys', (backend) => {
  let ctx: Awaited<ReturnType<typeof migratedDatabase>>;
  const masterKey = randomBytes(32);
  const box = new SecretBox(masterKey);
  let keys: ReturnType<typeof keysService>;
  let tenant: Tenant;

  beforeAll(async () => {
    ctx = await migratedDatabase(backend);
    keys = keysService(ctx.database, box, systemRuntime);
    tenant = await createTenant(ctx.database, 'keys', 'keys.example.test', box);
  });
  afterAll(async () => ctx?.cleanup());

  it.each(['RS256', 'ES256', 'EdDSA'] as const)('generates %s keys whose kid is the JWK thumbprint, with no private part in the public JWK', async (alg) => {
    const key = await generateSigningKey(alg);
    expect(key.publicJwk).toMatchObject({ kid: key.kid, alg, use: 'sig' });
    expect(key.publicJwk).not.toHaveProperty('d');
    expect(key.privateJwk).toHaveProperty('d');
    expect(await verifiesWithJwks(await signWith(key.privateJwk, alg), [key.publicJwk])).toBe(true);
  });

  it('stores private keys sealed, never as plain JWK', async () => {
    const stored = await keys.list(tenant.id);
    for (const key of stored) {
      expect(key.privateJwe.split('.')).toHaveLength(5);
      expect(key.privateJwe).not.toContain('"d"');
    }
  });

  it('rotation never breaks verification of tokens signed before it', async () => {
    const before = await keys.load(tenant.id);
    expect(before.jwks).toHaveLength(2);
    const oldToken = await signWith(before.signing.privateJwk, before.signing.alg);
    const nextKid = before.jwks.find((k) => k.kid !== before.signing.kid)!.kid;

    const rotated = await keys.rotate(tenant.id);
    expect(rotated.current).toBe(nextKid); // the published next key becomes current
    const after = await keys.load(tenant.id);
    expect(after.signing.kid).toBe(nextKid);
    expect(after.jwks.map((k) => k.kid)).toContain(before.signing.kid); // previous still published
    expect(await verifiesWithJwks(oldToken, after.jwks)).toBe(true);
    const states = (await keys.list(tenant.id)).map((k) => k.state).sort();
    expect(states).toEqual(['current', 'next', 'previous']);
  });

  it('concurrent rotations leave exactly one current and one next key', async () => {
    // A second pool on PostgreSQL; SQLite's nodes are processes (one
    // synchronous connection each), which Kysely's connection mutex models here.
    const other = backend === 'postgres' ? openTestDatabase(ctx.testDb.config) : undefined;
    try {
      await Promise.all([keys.rotate(tenant.id), keysService(other ?? ctx.database, box, systemRuntime).rotate(tenant.id), keys.rotate(tenant.id)]);
    } finally {
      await other?.close();
    }
    const all = await keys.list(tenant.id);
    expect(all.filter((k) => k.state === 'current')).toHaveLength(1);
    expect(all.filter((k) => k.state === 'next')).toHaveLength(1);
    expect(all.filter((k) => k.state === 'previous')).toHaveLength(all.length - 2);
  });

  it('can change algorithm on rotation', async () => {
    await keys.rotate(tenant.id, 'EdDSA');
    await keys.rotate(tenant.id, 'EdDSA');
    const set = await keys.load(tenant.id);
    expect(set.signing.alg).toBe('EdDSA');
    expect(await verifiesWithJwks(await signWith(set.signing.privateJwk, 'EdDSA'), set.jwks)).toBe(true);
  });

  it('revokes only previous keys, which then leave the JWKS', async () => {
    const all = await keys.list(tenant.id);
    const previous = all.find((k) => k.state === 'previous')!;
    const current = all.find((k) => k.state === 'current')!;
    await expect(keys.revoke(tenant.id, current.kid)).rejects.toMatchObject({ code: 'KEY_NOT_REVOCABLE' });
    await expect(keys.revoke(tenant.id, 'nope')).rejects.toBeInstanceOf(KeyError);
    await keys.revoke(tenant.id, previous.kid);
    expect((await keys.load(tenant.id)).jwks.map((k) => k.kid)).not.toContain(previous.kid);
  });

  it('refuses to load keys with the wrong master key', async () => {
    const wrong = keysService(ctx.database, new SecretBox(randomBytes(32)), systemRuntime);
    const error = await wrong.load(tenant.id).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SecretBoxError);
    expect((error as SecretBoxError).code).toBe('WRONG_MASTER_KEY');
  });
});
