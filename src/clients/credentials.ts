import { createPublicKey, type JsonWebKey, type KeyObject } from 'node:crypto';
import { calculateJwkThumbprint } from 'jose';
import type { Runtime } from '../storage/runtime.js';

/**
 * Algorithms a client may sign its private_key_jwt assertions with. RS256 and
 * PS256 take RSA keys of at least 2048 bits (RFC 7518 §3.3), ES256 a P-256
 * key. The engine is configured with the same list (provider-factory.ts).
 */
export const CREDENTIAL_ALGS = ['RS256', 'PS256', 'ES256'] as const;
export type CredentialAlg = (typeof CREDENTIAL_ALGS)[number];

/**
 * A public key a client signs its private_key_jwt assertions with, in the
 * shape of Auth0's client credential (`/api/v2/clients/{id}/credentials`).
 * Kept in the client's `config.client_authentication_methods.private_key_jwt
 * .credentials`; where Auth0 lists only `{ id }` there and keeps the
 * credential as its own resource, we keep the whole credential, which the
 * Management API can project either way. `pem` is the SPKI public key.
 */
export interface PublicKeyCredential {
  readonly id: string;
  readonly name?: string;
  readonly credential_type: 'public_key';
  /** RFC 7638 thumbprint of the key. */
  readonly kid: string;
  readonly alg: CredentialAlg;
  readonly pem: string;
  readonly created_at: string;
  /** ISO 8601; the key is not accepted from then on. Absent: never expires. */
  readonly expires_at?: string;
}

export type CredentialErrorCode = 'invalid_pem' | 'private_key' | 'unsupported_key' | 'invalid_alg' | 'invalid_expiry';

/** A refusal of a public key; `code` is stable, `message` fit to show. */
export class CredentialError extends Error {
  constructor(
    message: string,
    readonly code: CredentialErrorCode,
  ) {
    super(message);
    this.name = 'CredentialError';
  }
}

const isCredentialAlg = (value: unknown): value is CredentialAlg => (CREDENTIAL_ALGS as readonly unknown[]).includes(value);

/** The algorithm the key can sign with: `requested`, else RS256 for RSA and ES256 for P-256. */
function algFor(key: KeyObject, requested: string | undefined): CredentialAlg {
  if (requested !== undefined && !isCredentialAlg(requested)) throw new CredentialError(`alg must be one of ${CREDENTIAL_ALGS.join(', ')}`, 'invalid_alg');
  const details = key.asymmetricKeyDetails ?? {};
  if (key.asymmetricKeyType === 'rsa') {
    if ((details.modulusLength ?? 0) < 2048) throw new CredentialError('RSA keys must have at least 2048 bits', 'unsupported_key');
    if (requested === 'ES256') throw new CredentialError('ES256 needs a P-256 key; this is an RSA key', 'invalid_alg');
    return requested ?? 'RS256';
  }
  if (key.asymmetricKeyType === 'ec' && details.namedCurve === 'prime256v1') {
    if (requested !== undefined && requested !== 'ES256') throw new CredentialError(`${requested} needs an RSA key; this is a P-256 key`, 'invalid_alg');
    return 'ES256';
  }
  throw new CredentialError('only RSA (2048 bits or more) and P-256 public keys are supported', 'unsupported_key');
}

/**
 * Checks a PEM public key (SPKI, PKCS#1 or an X.509 certificate) and makes a
 * credential of it. A private key is refused rather than reduced to its
 * public half: it must never be handed to us.
 */
export async function publicKeyCredential(
  input: { pem: string; alg?: string; name?: string; expiresAt?: string },
  runtime: Runtime,
): Promise<PublicKeyCredential> {
  if (/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(input.pem)) throw new CredentialError('this is a private key: give the public key only', 'private_key');
  let key: KeyObject;
  try {
    key = createPublicKey({ key: input.pem, format: 'pem' });
  } catch {
    throw new CredentialError('not a PEM public key or certificate', 'invalid_pem');
  }
  const alg = algFor(key, input.alg);
  if (input.expiresAt !== undefined && !(Date.parse(input.expiresAt) > runtime.now().getTime())) {
    throw new CredentialError('expires_at must be a date in the future', 'invalid_expiry');
  }
  const jwk = key.export({ format: 'jwk' });
  return {
    id: runtime.randomId('cred_', 22, 'alnum'),
    ...(input.name !== undefined ? { name: input.name } : {}),
    credential_type: 'public_key',
    kid: await calculateJwkThumbprint(jwk as Parameters<typeof calculateJwkThumbprint>[0]),
    alg,
    pem: key.export({ format: 'pem', type: 'spki' }).toString(),
    created_at: runtime.now().toISOString(),
    ...(input.expiresAt !== undefined ? { expires_at: new Date(input.expiresAt).toISOString() } : {}),
  };
}

/** The credentials stored on a client (Auth0's `client_authentication_methods`). */
export function storedCredentials(config: Record<string, unknown>): unknown[] {
  const methods = config.client_authentication_methods as { private_key_jwt?: { credentials?: unknown } } | undefined;
  const credentials = methods?.private_key_jwt?.credentials;
  return Array.isArray(credentials) ? credentials : [];
}

/**
 * The client's usable public keys as JWKs for the engine (RFC 7591 `jwks`):
 * each pinned to its credential's `kid` and `alg`, expired ones left out.
 * An entry that is not a valid credential is skipped, so one bad entry cannot
 * lock the client out of its other key.
 */
export function credentialJwks(config: Record<string, unknown>, now: Date): JsonWebKey[] {
  const keys: JsonWebKey[] = [];
  for (const entry of storedCredentials(config)) {
    const credential = entry as Partial<PublicKeyCredential> | null;
    if (credential?.credential_type !== 'public_key' || typeof credential.pem !== 'string' || typeof credential.kid !== 'string' || !isCredentialAlg(credential.alg)) continue;
    if (credential.expires_at !== undefined && !(Date.parse(credential.expires_at) > now.getTime())) continue;
    try {
      const jwk = createPublicKey({ key: credential.pem, format: 'pem' }).export({ format: 'jwk' });
      keys.push({ ...jwk, kid: credential.kid, alg: credential.alg, use: 'sig' });
    } catch {
      continue;
    }
  }
  return keys;
}
