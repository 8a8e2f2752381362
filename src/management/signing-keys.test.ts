import { createPublicKey } from 'node:crypto';
import { type ManagementClient } from 'auth0';
import { decodeProtectedHeader, type JWK } from 'jose';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startListeningTestApp, type TestApp } from '../../test/support/app.js';
import { describeEachBackend } from '../../test/support/backends.js';
import { createTenant } from '../../test/support/fixtures.js';
import { managementToken, sdkFailure, sdkFor } from '../../test/support/management.js';
import { systemRuntime } from '../storage/runtime.js';
import { tenantStores } from '../tenants/tenant-stores.js';

/** The SDK's signing key, with what Portcullis answers instead of a certificate. */
type SigningKey = Awaited<ReturnType<ManagementClient['keys']['signing']['list']>>[number] & { pem: string; alg: string };

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `probe` every 100 ms for up to a second; returns its last value. */
async function withinASecond<T>(probe: () => Promise<T>, done: (value: T) => boolean): Promise<T> {
  const started = Date.now();
  let value = await probe();
  while (!done(value) && Date.now() - started < 1000) {
    await sleep(100);
    value = await probe();
  }
  return value;
}

/** Nothing private: no JWK private member, no PEM private key. */
function expectNoPrivateKey(answer: unknown): void {
  const text = JSON.stringify(answer);
  expect(text).not.toContain('PRIVATE KEY');
  for (const member of ['d', 'p', 'q', 'dp', 'dq', 'qi']) expect(text).not.toContain(`"${member}":`);
}

describeEachBackend('Management API /api/v2/keys/signing with the official auth0 SDK', (backend) => {
  let t: TestApp;
  let issuer: string;
  let tenantId: string;
  let sdk: ManagementClient;
  let token: string;
  /** The admin client's credentials, read once: asking for them again would rotate its secret. */
  let admin: { clientId: string; clientSecret: string };
  /** A new Management API token and an SDK on it (signed by the engine's current key). */
  const freshAdmin = async () => {
    const fresh = await managementToken(issuer, admin);
    return { sdk: sdkFor(issuer, fresh), token: fresh };
  };

  beforeAll(async () => {
    ({ t, issuer, tenantId } = await startListeningTestApp(backend, { TENANT_CACHE_TTL_MS: '200' }));
    admin = await t.services.clients.ensureAdminClient(tenantId);
    ({ sdk, token } = await freshAdmin());
  });
  afterAll(async () => t?.cleanup());

  const api = (path: string, init: RequestInit = {}, bearer = token) => fetch(`${issuer}api/v2${path}`, { ...init, headers: { authorization: `Bearer ${bearer}` } });
  const jwks = async () => ((await (await fetch(`${issuer}.well-known/jwks.json`)).json()) as { keys: JWK[] }).keys;
  const failure = sdkFailure;

  it('lists the current and next keys truthfully: public PEM, RFC 7638 thumbprint, state flags; never a private key', async () => {
    const keys = (await sdk.keys.signing.list()) as SigningKey[];
    expect(keys).toHaveLength(2);
    expectNoPrivateKey(keys);
    expectNoPrivateKey(await (await api('/keys/signing')).json());
    const current = keys.find((k) => k.current)!;
    const next = keys.find((k) => k.next)!;
    expect(current).toMatchObject({ alg: 'RS256', current: true, next: false, previous: false, revoked: false, current_since: expect.any(String) });
    expect(next).toMatchObject({ current: false, next: true, previous: false, revoked: false });
    expect(next).not.toHaveProperty('current_since');
    expect(current).not.toHaveProperty('cert');
    for (const key of [current, next]) {
      expect(key.pem).toMatch(/^-----BEGIN PUBLIC KEY-----\n[\s\S]+\n-----END PUBLIC KEY-----\n$/);
      // The kid is the RFC 7638 thumbprint; the fingerprint is the same SHA-256 digest in hex.
      expect(key.thumbprint).toBe(key.kid);
      expect(key.fingerprint).toBe(Buffer.from(key.kid, 'base64url').toString('hex').toUpperCase().match(/../g)!.join(':'));
    }
    // The PEM is the very key the tenant publishes under that kid.
    const published = (await jwks()).find((k) => k.kid === current.kid)!;
    expect(createPublicKey({ key: current.pem, format: 'pem' }).export({ format: 'jwk' })).toMatchObject({ n: published.n, e: published.e });

    expect(await sdk.keys.signing.get(current.kid)).toEqual(current);
    const missing = await failure(sdk.keys.signing.get('no-such-kid'));
    expect(missing.body).toEqual({ statusCode: 404, error: 'Not Found', message: 'The signing key does not exist', errorCode: 'inexistent_signing_key' });
  });

  it("keeps tenants apart: another tenant's key is a 404 here", async () => {
    const other = await createTenant(t.database, 'other-keys');
    const [foreign] = await tenantStores(t.database.db, other.id, systemRuntime).signingKeys.list();
    expect((await api(`/keys/signing/${foreign!.kid}`)).status).toBe(404);
    expect((await api(`/keys/signing/${foreign!.kid}/revoke`, { method: 'PUT' })).status).toBe(404);
    expect((await sdk.keys.signing.list()).map((k) => k.kid)).not.toContain(foreign!.kid);
  });

  it('rotates: the next key becomes current, JWKS changes within a second and new tokens are signed with the new current key', async () => {
    const before = await sdk.keys.signing.list();
    const oldCurrent = before.find((k) => k.current)!.kid;
    const oldNext = before.find((k) => k.next)!.kid;

    const rotated = await sdk.keys.signing.rotate();
    expect(rotated.kid).toBe(oldNext);
    expectNoPrivateKey(rotated);

    const after = await sdk.keys.signing.list();
    expect(after.find((k) => k.current)!.kid).toBe(oldNext);
    expect(after.find((k) => k.previous)).toMatchObject({ kid: oldCurrent, current_until: expect.any(String) });
    const freshNext = after.find((k) => k.next)!.kid;
    expect([oldCurrent, oldNext]).not.toContain(freshNext);

    const published = await withinASecond(jwks, (keys) => keys.some((k) => k.kid === freshNext));
    expect(published.map((k) => k.kid).sort()).toEqual([oldCurrent, oldNext, freshNext].sort());
    expectNoPrivateKey(published);

    const fresh = await withinASecond(
      async () => (await freshAdmin()).token,
      (value) => decodeProtectedHeader(value).kid === oldNext,
    );
    expect(decodeProtectedHeader(fresh).kid).toBe(oldNext);
  });

  it('revokes only a previous key: it leaves JWKS and tokens it signed stop working', async () => {
    const keys = await sdk.keys.signing.list();
    const current = keys.find((k) => k.current)!.kid;
    const next = keys.find((k) => k.next)!.kid;
    const previous = keys.find((k) => k.previous)!.kid;
    // Our admin token was signed before the rotation, by the key that is now previous.
    expect(decodeProtectedHeader(token).kid).toBe(previous);

    for (const kid of [current, next]) {
      const refused = await api(`/keys/signing/${kid}/revoke`, { method: 'PUT' });
      expect(refused.status).toBe(400);
      expect(await refused.json()).toEqual({ statusCode: 400, error: 'Bad Request', message: 'Only a previously used signing key can be revoked; rotate first', errorCode: 'invalid_key_state' });
    }

    const { sdk: freshSdk, token: freshToken } = await freshAdmin();
    expect(decodeProtectedHeader(freshToken).kid).toBe(current);
    const revoked = await freshSdk.keys.signing.revoke(previous);
    expect(revoked.kid).toBe(previous);
    expectNoPrivateKey(revoked);
    expect(await freshSdk.keys.signing.get(previous)).toMatchObject({ revoked: true, previous: false, revoked_at: expect.any(String) });

    const published = await withinASecond(jwks, (list) => !list.some((k) => k.kid === previous));
    expect(published.map((k) => k.kid).sort()).toEqual([current, next].sort());
    const oldTokenAnswer = await withinASecond(
      async () => (await api('/keys/signing')).status,
      (status) => status === 401,
    );
    expect(oldTokenAnswer).toBe(401);
    expect((await api('/keys/signing', {}, freshToken)).status).toBe(200);
    // Revoked is final.
    expect((await api(`/keys/signing/${previous}/revoke`, { method: 'PUT' }, freshToken)).status).toBe(400);
  });

  it('audits rotation and revocation', async () => {
    const logs = tenantStores(t.database.db, tenantId, systemRuntime).logs;
    const events = (await logs.list({ offset: 0, limit: 50 })).filter((e) => e.details.request && (e.details.request as { path?: string }).path?.startsWith('/api/v2/keys/signing'));
    const outcomes = events.map((e) => `${e.type} ${e.description} ${(e.details.response as { statusCode: number }).statusCode}`);
    expect(outcomes).toContain('sapi Rotate signing key 201');
    expect(outcomes).toContain('sapi Revoke signing key 200');
    expect(outcomes).toContain('fapi Revoke signing key 400');
    expect(outcomes).toContain('fapi Revoke signing key 404');
  });
});
