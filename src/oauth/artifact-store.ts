import { decodeJson, encodeJson } from '../storage/codec.js';
import { isoNow, type Runtime } from '../storage/runtime.js';
import type { Executor } from '../storage/transaction.js';

/**
 * Storage for the OIDC engine's artifacts (sessions, interactions, codes,
 * tokens, grants…), shaped after oidc-provider's adapter contract: each
 * artifact has a kind (the model name), an id, a JSON payload and a TTL, and
 * may be looked up by uid (sessions), user code (device flow) or grant id
 * (revocation of everything issued under one grant).
 */
export interface ArtifactPayload {
  readonly grantId?: string;
  readonly uid?: string;
  readonly userCode?: string;
  readonly [key: string]: unknown;
}

export interface StoredArtifact {
  readonly payload: ArtifactPayload;
  /** When it was consumed (ISO), or undefined when it was not. */
  readonly consumedAt: string | undefined;
}

type Row = { payload: unknown; consumed_at: string | null };

function toArtifact(row: Row | undefined): StoredArtifact | undefined {
  if (!row) return undefined;
  return { payload: decodeJson<ArtifactPayload>(row.payload, {}), consumedAt: row.consumed_at ?? undefined };
}

export function artifactsStore(db: Executor, tenantId: string, runtime: Runtime) {
  const now = () => isoNow(runtime);
  const live = (kind: string) =>
    db
      .selectFrom('oidc_artifacts')
      .select(['payload', 'consumed_at'])
      .where('tenant_id', '=', tenantId)
      .where('kind', '=', kind)
      .where((eb) => eb.or([eb('expires_at', 'is', null), eb('expires_at', '>', now())]));

  return {
    /** Inserts or replaces an artifact; `expiresInSeconds` undefined means no expiry. */
    async upsert(kind: string, id: string, payload: ArtifactPayload, expiresInSeconds: number | undefined): Promise<void> {
      const expiresAt = expiresInSeconds === undefined ? null : new Date(runtime.now().getTime() + expiresInSeconds * 1000).toISOString();
      const values = {
        payload: encodeJson(payload),
        grant_id: payload.grantId ?? null,
        uid: payload.uid ?? null,
        user_code: payload.userCode ?? null,
        expires_at: expiresAt,
      };
      await db
        .insertInto('oidc_artifacts')
        .values({ tenant_id: tenantId, kind, id, consumed_at: null, ...values })
        .onConflict((oc) => oc.columns(['tenant_id', 'kind', 'id']).doUpdateSet(values))
        .execute();
    },

    /**
     * Inserts an artifact unless a live one of that kind and id exists (an
     * expired one the sweep has not removed yet is replaced). Race semantics: of
     * concurrent callers for the same kind and id exactly one gets `true`;
     * the others get `false` and change nothing. The primary key decides, so
     * this holds across nodes.
     */
    async insertIfAbsent(kind: string, id: string, payload: ArtifactPayload, expiresInSeconds: number): Promise<boolean> {
      const nowIso = now();
      const values = {
        payload: encodeJson(payload),
        grant_id: payload.grantId ?? null,
        uid: payload.uid ?? null,
        user_code: payload.userCode ?? null,
        expires_at: new Date(runtime.now().getTime() + expiresInSeconds * 1000).toISOString(),
        consumed_at: null,
      };
      const result = await db
        .insertInto('oidc_artifacts')
        .values({ tenant_id: tenantId, kind, id, ...values })
        .onConflict((oc) => oc.columns(['tenant_id', 'kind', 'id']).doUpdateSet(values).where('oidc_artifacts.expires_at', '<=', nowIso))
        .executeTakeFirst();
      return Number(result.numInsertedOrUpdatedRows ?? 0) === 1;
    },

    /** The artifact if it exists and has not expired. */
    async find(kind: string, id: string): Promise<StoredArtifact | undefined> {
      return toArtifact(await live(kind).where('id', '=', id).executeTakeFirst());
    },

    async findByUid(kind: string, uid: string): Promise<StoredArtifact | undefined> {
      return toArtifact(await live(kind).where('uid', '=', uid).executeTakeFirst());
    },

    async findByUserCode(kind: string, userCode: string): Promise<StoredArtifact | undefined> {
      return toArtifact(await live(kind).where('user_code', '=', userCode).executeTakeFirst());
    },

    /**
     * Marks the artifact consumed. Race semantics: of concurrent callers for
     * the same artifact exactly one gets `true`; the others see it already
     * consumed and get `false` (the basis of code / refresh-token reuse detection).
     */
    async consume(kind: string, id: string): Promise<boolean> {
      const result = await db
        .updateTable('oidc_artifacts')
        .set({ consumed_at: now() })
        .where('tenant_id', '=', tenantId)
        .where('kind', '=', kind)
        .where('id', '=', id)
        .where('consumed_at', 'is', null)
        .executeTakeFirst();
      return Number(result.numUpdatedRows) === 1;
    },

    async destroy(kind: string, id: string): Promise<void> {
      await db.deleteFrom('oidc_artifacts').where('tenant_id', '=', tenantId).where('kind', '=', kind).where('id', '=', id).execute();
    },

    /** Deletes every artifact (of any kind) issued under the grant; returns how many. */
    async revokeByGrantId(grantId: string): Promise<number> {
      const result = await db.deleteFrom('oidc_artifacts').where('tenant_id', '=', tenantId).where('grant_id', '=', grantId).executeTakeFirst();
      return Number(result.numDeletedRows);
    },
  };
}

export type ArtifactsStore = ReturnType<typeof artifactsStore>;

/**
 * Deletes up to `limit` expired artifacts of every tenant (worker role).
 * Batched so one sweep never holds a long lock; returns how many were deleted.
 */
export async function sweepExpiredArtifacts(db: Executor, nowIso: string, limit: number): Promise<number> {
  const result = await db
    .deleteFrom('oidc_artifacts')
    .where(({ eb, refTuple, selectFrom }) =>
      eb(
        refTuple('tenant_id', 'kind', 'id'),
        'in',
        selectFrom('oidc_artifacts').select(['tenant_id', 'kind', 'id']).where('expires_at', 'is not', null).where('expires_at', '<=', nowIso).limit(limit).$asTuple('tenant_id', 'kind', 'id'),
      ),
    )
    .executeTakeFirst();
  return Number(result.numDeletedRows);
}
