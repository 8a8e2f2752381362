import type { JWK } from 'jose';
import { decodeJson, encodeJson } from '../storage/codec.js';
import { isoNow, type Runtime } from '../storage/runtime.js';
import type { Executor } from '../storage/transaction.js';

/**
 * Key life cycle (as Auth0's signing keys):
 *   next → current → previous → revoked
 * `next` is published in JWKS before it signs anything, `previous` stays
 * published after it stops signing, so relying parties that cache JWKS never
 * see a token signed by a key they do not know.
 */
export const KEY_STATES = ['next', 'current', 'previous', 'revoked'] as const;
export type KeyState = (typeof KEY_STATES)[number];

export interface StoredSigningKey {
  readonly kid: string;
  readonly alg: string;
  readonly state: KeyState;
  readonly publicJwk: JWK;
  readonly privateJwe: string;
  readonly createdAt: string;
  readonly activatedAt: string | null;
  readonly retiredAt: string | null;
  readonly revokedAt: string | null;
}

const COLUMNS = ['kid', 'alg', 'state', 'public_jwk', 'private_jwe', 'created_at', 'activated_at', 'retired_at', 'revoked_at'] as const;

type Row = { kid: string; alg: string; state: string; public_jwk: unknown; private_jwe: string; created_at: string; activated_at: string | null; retired_at: string | null; revoked_at: string | null };

function toKey(row: Row): StoredSigningKey {
  return {
    kid: row.kid,
    alg: row.alg,
    state: row.state as KeyState,
    publicJwk: decodeJson<JWK>(row.public_jwk, {}),
    privateJwe: row.private_jwe,
    createdAt: row.created_at,
    activatedAt: row.activated_at,
    retiredAt: row.retired_at,
    revokedAt: row.revoked_at,
  };
}

export function signingKeysStore(db: Executor, tenantId: string, runtime: Runtime) {
  return {
    async insert(key: { kid: string; alg: string; state: KeyState; publicJwk: JWK; privateJwe: string }): Promise<void> {
      const now = isoNow(runtime);
      await db
        .insertInto('signing_keys')
        .values({
          tenant_id: tenantId,
          kid: key.kid,
          alg: key.alg,
          state: key.state,
          public_jwk: encodeJson(key.publicJwk),
          private_jwe: key.privateJwe,
          created_at: now,
          activated_at: key.state === 'current' ? now : null,
          retired_at: null,
          revoked_at: null,
        })
        .execute();
    },

    /** All keys, newest first. */
    async list(): Promise<StoredSigningKey[]> {
      const rows = await db.selectFrom('signing_keys').select(COLUMNS).where('tenant_id', '=', tenantId).orderBy('created_at', 'desc').orderBy('kid').execute();
      return rows.map(toKey);
    },

    async listByState(states: readonly KeyState[]): Promise<StoredSigningKey[]> {
      const rows = await db
        .selectFrom('signing_keys')
        .select(COLUMNS)
        .where('tenant_id', '=', tenantId)
        .where('state', 'in', states)
        .orderBy('created_at', 'desc')
        .orderBy('kid')
        .execute();
      return rows.map(toKey);
    },

    async find(kid: string): Promise<StoredSigningKey | undefined> {
      const row = await db.selectFrom('signing_keys').select(COLUMNS).where('tenant_id', '=', tenantId).where('kid', '=', kid).executeTakeFirst();
      return row && toKey(row);
    },

    /** Moves every key in state `from` to state `to`, stamping the transition time. */
    async transition(from: KeyState, to: KeyState): Promise<number> {
      const now = isoNow(runtime);
      const stamp = to === 'current' ? { activated_at: now } : to === 'previous' ? { retired_at: now } : to === 'revoked' ? { revoked_at: now } : {};
      const result = await db
        .updateTable('signing_keys')
        .set({ state: to, ...stamp })
        .where('tenant_id', '=', tenantId)
        .where('state', '=', from)
        .executeTakeFirst();
      return Number(result.numUpdatedRows);
    },

    /** Revokes one key if it is in state `previous`; returns whether it did. */
    async revokePrevious(kid: string): Promise<boolean> {
      const result = await db
        .updateTable('signing_keys')
        .set({ state: 'revoked', revoked_at: isoNow(runtime) })
        .where('tenant_id', '=', tenantId)
        .where('kid', '=', kid)
        .where('state', '=', 'previous')
        .executeTakeFirst();
      return Number(result.numUpdatedRows) === 1;
    },
  };
}

export type SigningKeysStore = ReturnType<typeof signingKeysStore>;
