import { createPublicKey } from 'node:crypto';
import { calculateJwkThumbprint, type JWK } from 'jose';
import { z } from 'zod';
import { HttpError } from '../http/errors.js';
import { KeyError } from '../keys/service.js';
import type { StoredSigningKey } from '../keys/store.js';
import type { ManagementDeps } from './plugin.js';
import type { ManagementRouter } from './route.js';

/**
 * The public members of the JWKs Portcullis generates (RSA, EC, OKP). A key's
 * answer is built from these alone, so a private member (`d`, `p`, `q`, …)
 * could not reach a caller even if one were ever stored in the public JWK.
 */
const PUBLIC_MEMBERS = ['kty', 'crv', 'x', 'y', 'n', 'e'] as const;

function publicPart(jwk: JWK): JWK {
  const out: Record<string, string> = {};
  for (const member of PUBLIC_MEMBERS) {
    const value = jwk[member];
    if (typeof value === 'string') out[member] = value;
  }
  return out as JWK;
}

/**
 * An application signing key in Auth0's shape, with what Portcullis truly
 * has: no X.509 certificate (keys are bare; `cert`/`pkcs7` are absent), the
 * public key as a PEM SPKI (`pem`), `thumbprint` = its RFC 7638 JWK
 * thumbprint (SHA-256, base64url — also its kid) and `fingerprint` = the
 * same digest as colon-separated hex (decision 010).
 */
export const signingKeySchema = z.object({
  kid: z.string(),
  alg: z.string(),
  pem: z.string(),
  fingerprint: z.string(),
  thumbprint: z.string(),
  current: z.boolean(),
  next: z.boolean(),
  previous: z.boolean(),
  revoked: z.boolean(),
  current_since: z.string().optional(),
  current_until: z.string().optional(),
  revoked_at: z.string().optional(),
});
type SigningKeyBody = z.infer<typeof signingKeySchema>;

async function toSigningKeyBody(key: StoredSigningKey): Promise<SigningKeyBody> {
  const jwk = publicPart(key.publicJwk);
  const pem = createPublicKey({ key: jwk as Record<string, string>, format: 'jwk' }).export({ type: 'spki', format: 'pem' }).toString();
  const thumbprint = await calculateJwkThumbprint(jwk, 'sha256');
  const digest = Buffer.from(thumbprint, 'base64url').toString('hex').toUpperCase();
  return {
    kid: key.kid,
    alg: key.alg,
    pem,
    fingerprint: digest.match(/../g)?.join(':') ?? digest,
    thumbprint,
    current: key.state === 'current',
    next: key.state === 'next',
    previous: key.state === 'previous',
    revoked: key.state === 'revoked',
    ...(key.activatedAt ? { current_since: key.activatedAt } : {}),
    ...(key.retiredAt ? { current_until: key.retiredAt } : {}),
    ...(key.revokedAt ? { revoked_at: key.revokedAt } : {}),
  };
}

/** Rotate and revoke answer `{ kid }` and the key's public PEM (Auth0 answers `{ kid, cert }`). */
const keyReference = z.object({ kid: z.string(), pem: z.string() });

const notFound = () => new HttpError(404, 'The signing key does not exist', 'inexistent_signing_key');
const kidParams = z.strictObject({ kid: z.string().min(1).max(128).regex(/^[A-Za-z0-9_-]+$/, 'Invalid kid') });

/**
 * `/api/v2/keys/signing`: the tenant's application signing keys. Rotation and
 * revocation bump the tenant's config_version in their transaction (keys
 * service), so every node's engine signs with the new current key and
 * publishes the new JWKS within TENANT_CACHE_TTL_MS. No answer ever holds a
 * private key: the sealed private JWK is never read here.
 */
export function registerSigningKeyRoutes(router: ManagementRouter, deps: ManagementDeps): void {
  const keys = deps.services.keys;
  const find = async (tenantId: string, kid: string) => (await keys.list(tenantId)).find((k) => k.kid === kid);

  router.add({
    method: 'GET',
    path: '/keys/signing',
    summary: 'Get all application signing keys',
    scopes: ['read:signing_keys'],
    response: z.array(signingKeySchema),
    async handler({ tenant }) {
      return Promise.all((await keys.list(tenant.id)).map(toSigningKeyBody));
    },
  });

  router.add({
    method: 'GET',
    path: '/keys/signing/:kid',
    summary: 'Get an application signing key by its key id',
    scopes: ['read:signing_keys'],
    params: kidParams,
    response: signingKeySchema,
    async handler({ params: { kid }, tenant }) {
      const key = await find(tenant.id, kid);
      if (!key) throw notFound();
      return toSigningKeyBody(key);
    },
  });

  router.add({
    method: 'POST',
    path: '/keys/signing/rotate',
    summary: 'Rotate the application signing key',
    scopes: ['create:signing_keys', 'update:signing_keys'],
    status: 201,
    audit: 'Rotate signing key',
    response: keyReference,
    async handler({ tenant }) {
      // next → current (it has been published in JWKS since the last rotation), current → previous, a new next.
      const { current } = await keys.rotate(tenant.id);
      const key = await find(tenant.id, current);
      if (!key) throw new Error('current signing key vanished after rotation');
      const body = await toSigningKeyBody(key);
      return { kid: body.kid, pem: body.pem };
    },
  });

  router.add({
    method: 'PUT',
    path: '/keys/signing/:kid/revoke',
    summary: 'Revoke an application signing key by its key id',
    scopes: ['update:signing_keys'],
    params: kidParams,
    audit: 'Revoke signing key',
    response: keyReference,
    async handler({ params: { kid }, tenant }) {
      try {
        await keys.revoke(tenant.id, kid);
      } catch (error) {
        if (error instanceof KeyError && error.code === 'KEY_NOT_FOUND') throw notFound();
        // Auth0's rule: only a previously used key can be revoked (never the current or next one).
        if (error instanceof KeyError && error.code === 'KEY_NOT_REVOCABLE') throw new HttpError(400, 'Only a previously used signing key can be revoked; rotate first', 'invalid_key_state');
        throw error;
      }
      const key = await find(tenant.id, kid);
      if (!key) throw notFound();
      const body = await toSigningKeyBody(key);
      return { kid: body.kid, pem: body.pem };
    },
  });
}
