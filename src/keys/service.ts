import type { JWK } from 'jose';
import type { SecretBox } from '../crypto/secret-box.js';
import type { Database } from '../storage/database.js';
import type { Runtime } from '../storage/runtime.js';
import { lockTenant, writeTransaction, type Executor } from '../storage/transaction.js';
import { tenantsStore } from '../tenants/store.js';
import { generateSigningKey, type GeneratedKey, type SigningAlg } from './generate.js';
import { signingKeysStore, type KeyState, type StoredSigningKey } from './store.js';

export class KeyError extends Error {
  constructor(
    message: string,
    readonly code: 'NO_CURRENT_KEY' | 'KEY_NOT_FOUND' | 'KEY_NOT_REVOCABLE',
  ) {
    super(message);
    this.name = 'KeyError';
  }
}

/** What a tenant signs with and what it publishes. */
export interface KeySet {
  /** The private key that signs now (state `current`). */
  readonly signing: { readonly kid: string; readonly alg: string; readonly privateJwk: JWK };
  /** Public keys of next, current and previous, for /.well-known/jwks.json. */
  readonly jwks: readonly JWK[];
}

const PUBLISHED: readonly KeyState[] = ['next', 'current', 'previous'];

/** A key generated and sealed ahead of the transaction that stores it. */
export interface SealedKey {
  readonly kid: string;
  readonly alg: string;
  readonly state: KeyState;
  readonly publicJwk: JWK;
  readonly privateJwe: string;
}

const context = (tenantId: string, kid: string) => `signing-key:${tenantId}:${kid}`;

export function keysService(database: Database, box: SecretBox, runtime: Runtime) {
  async function seal(tenantId: string, key: GeneratedKey) {
    return { kid: key.kid, alg: key.alg, publicJwk: key.publicJwk, privateJwe: await box.seal(JSON.stringify(key.privateJwk), context(tenantId, key.kid)) };
  }

  return {
    /**
     * Generates and seals the first `current` and `next` keys for a tenant
     * being created; `insertInitial` writes them inside the tenant's transaction.
     */
    async prepareInitial(tenantId: string, alg: SigningAlg): Promise<SealedKey[]> {
      const [current, next] = await Promise.all([generateSigningKey(alg), generateSigningKey(alg)]);
      return [
        { ...(await seal(tenantId, current)), state: 'current' as const },
        { ...(await seal(tenantId, next)), state: 'next' as const },
      ];
    },

    async insertInitial(trx: Executor, tenantId: string, keys: readonly SealedKey[]): Promise<void> {
      const store = signingKeysStore(trx, tenantId, runtime);
      for (const key of keys) await store.insert(key);
    },

    /**
     * Rotates: previous keys stay previous, current → previous, next → current,
     * and a fresh key becomes next. Serialised per tenant, so two nodes
     * rotating at once still leave exactly one current and one next.
     */
    async rotate(tenantId: string, alg?: SigningAlg): Promise<{ current: string; next: string }> {
      const existing = await signingKeysStore(database.db, tenantId, runtime).listByState(['current']);
      const fresh = await generateSigningKey(alg ?? ((existing[0]?.alg as SigningAlg | undefined) ?? 'RS256'));
      const sealed = await seal(tenantId, fresh);
      return writeTransaction(database, async (trx) => {
        await lockTenant(database, trx, tenantId);
        const store = signingKeysStore(trx, tenantId, runtime);
        await store.transition('current', 'previous');
        await store.transition('next', 'current');
        await store.insert({ ...sealed, state: 'next' });
        await tenantsStore(trx, runtime).bumpConfigVersion(tenantId);
        const [current] = await store.listByState(['current']);
        if (!current) {
          // No next key existed (should not happen): promote the fresh key.
          await store.transition('next', 'current');
          return { current: fresh.kid, next: fresh.kid };
        }
        return { current: current.kid, next: fresh.kid };
      });
    },

    async list(tenantId: string): Promise<StoredSigningKey[]> {
      return signingKeysStore(database.db, tenantId, runtime).list();
    },

    /** Revokes a previous key: it leaves JWKS and can no longer verify anything. */
    async revoke(tenantId: string, kid: string): Promise<void> {
      await writeTransaction(database, async (trx) => {
        const store = signingKeysStore(trx, tenantId, runtime);
        const key = await store.find(kid);
        if (!key) throw new KeyError(`signing key ${kid} not found`, 'KEY_NOT_FOUND');
        if (!(await store.revokePrevious(kid))) throw new KeyError(`signing key ${kid} is ${key.state}; only previous keys can be revoked`, 'KEY_NOT_REVOCABLE');
        await tenantsStore(trx, runtime).bumpConfigVersion(tenantId);
      });
    },

    /**
     * Loads the tenant's key set, decrypting the current private key. Fails with
     * SecretBoxError(WRONG_MASTER_KEY) when MASTER_KEY is not the one the key
     * was sealed with.
     */
    async load(tenantId: string): Promise<KeySet> {
      const keys = await signingKeysStore(database.db, tenantId, runtime).listByState(PUBLISHED);
      const current = keys.find((k) => k.state === 'current');
      if (!current) throw new KeyError(`tenant ${tenantId} has no current signing key`, 'NO_CURRENT_KEY');
      const privateJwk = JSON.parse(await box.open(current.privateJwe, context(tenantId, current.kid))) as JWK;
      return { signing: { kid: current.kid, alg: current.alg, privateJwk }, jwks: keys.map((k) => k.publicJwk) };
    },
  };
}

export type KeysService = ReturnType<typeof keysService>;
