import { decodeJson, encodeJson } from '../storage/codec.js';
import { isoNow, type Runtime } from '../storage/runtime.js';
import type { Executor } from '../storage/transaction.js';

/**
 * Storage for the OIDC engine's artifacts (sessions, interactions, codes,
 * tokens, grants…), shaped after oidc-provider's adapter contract: each
 * artifact has a kind (the model name), an id, a JSON payload and a TTL, and
 * may be looked up by uid (sessions), user code (device flow) or grant id
 * (revocation of everything issued under one grant), and revoked by account
 * (everything of one end user: password change, user deleted).
 */
export interface ArtifactPayload {
  readonly grantId?: string;
  /** The end user (sessions, grants, codes and tokens carry it); kept in `account_id`. */
  readonly accountId?: string;
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

/** An artifact with its id, as listed. */
export interface ListedArtifact extends StoredArtifact {
  readonly id: string;
}

/** The lookup columns an artifact's payload fills. */
function lookupColumns(payload: ArtifactPayload) {
  return {
    grant_id: payload.grantId ?? null,
    uid: payload.uid ?? null,
    user_code: payload.userCode ?? null,
    account_id: typeof payload.accountId === 'string' ? payload.accountId : null,
  };
}

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
      const values = { payload: encodeJson(payload), ...lookupColumns(payload), expires_at: expiresAt };
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
        ...lookupColumns(payload),
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

    /**
     * Deletes the account's artifacts — of the given kinds, or of every kind
     * (sessions, grants, codes, tokens) — live or expired; returns how many.
     * An interaction in progress keeps the account only inside its payload and
     * is not matched: it expires within the hour, and its login can no longer
     * complete once the user or the session is gone.
     */
    async revokeByAccount(accountId: string, kinds?: readonly string[]): Promise<number> {
      if (kinds !== undefined && kinds.length === 0) return 0;
      let query = db.deleteFrom('oidc_artifacts').where('tenant_id', '=', tenantId).where('account_id', '=', accountId);
      if (kinds !== undefined) query = query.where('kind', 'in', kinds);
      const result = await query.executeTakeFirst();
      return Number(result.numDeletedRows);
    },

    /**
     * Live artifacts of one kind, optionally of one account, oldest id first
     * (a stable order for paging). Without an account the whole tenant's are
     * read: callers filter on payload fields the table does not index.
     */
    async listLive(kind: string, filter: { accountId?: string }, page: { offset: number; limit: number }): Promise<ListedArtifact[]> {
      let query = live(kind).select('id');
      if (filter.accountId !== undefined) query = query.where('account_id', '=', filter.accountId);
      const rows = await query.orderBy('id').offset(page.offset).limit(page.limit).execute();
      return rows.map((row) => ({ id: row.id, ...(toArtifact(row) as StoredArtifact) }));
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
