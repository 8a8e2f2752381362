import { CompactEncrypt, compactDecrypt, errors } from 'jose';
import { deriveKey } from './master-key.js';

export class SecretBoxError extends Error {
  constructor(
    message: string,
    readonly code: 'WRONG_MASTER_KEY' | 'CONTEXT_MISMATCH' | 'MALFORMED',
  ) {
    super(message);
    this.name = 'SecretBoxError';
  }
}

/**
 * Encrypts secrets at rest (signing keys, client secrets) as compact JWE
 * (`dir` + `A256GCM`, RFC 7516/7518) under a subkey of MASTER_KEY.
 *
 * The protected header carries `kid` (which master key sealed it) and `ctx`
 * (what the secret belongs to, e.g. `signing-key:<tenant>:<kid>`). The header
 * is authenticated by GCM, so a sealed value copied to another row fails to
 * open instead of silently becoming that row's secret.
 */
export class SecretBox {
  readonly #key: Uint8Array;
  readonly #master: Buffer;
  /** Identifies the master key without revealing it; stored to detect a wrong key at start. */
  readonly fingerprint: string;

  constructor(masterKey: Buffer) {
    this.#master = Buffer.from(masterKey);
    this.#key = new Uint8Array(deriveKey(masterKey, 'secret-box'));
    this.fingerprint = deriveKey(masterKey, 'fingerprint', 12).toString('base64url');
  }

  /**
   * A stable secret for another purpose (e.g. a tenant's cookie-signing key),
   * derived from the master key with HKDF so every node computes the same one.
   */
  deriveSecret(purpose: string): string {
    return deriveKey(this.#master, `derived:${purpose}`).toString('base64url');
  }

  async seal(plaintext: string, context: string): Promise<string> {
    return new CompactEncrypt(new TextEncoder().encode(plaintext))
      .setProtectedHeader({ alg: 'dir', enc: 'A256GCM', kid: this.fingerprint, ctx: context })
      .encrypt(this.#key);
  }

  async open(sealed: string, context: string): Promise<string> {
    let result;
    try {
      result = await compactDecrypt(sealed, this.#key);
    } catch (error) {
      if (error instanceof errors.JWEDecryptionFailed) {
        throw new SecretBoxError('MASTER_KEY cannot decrypt data stored with another master key', 'WRONG_MASTER_KEY');
      }
      throw new SecretBoxError(`sealed secret is malformed: ${(error as Error).message}`, 'MALFORMED');
    }
    if (result.protectedHeader['ctx'] !== context) {
      throw new SecretBoxError(`sealed secret belongs to "${String(result.protectedHeader['ctx'])}", not "${context}"`, 'CONTEXT_MISMATCH');
    }
    return new TextDecoder().decode(result.plaintext);
  }
}
