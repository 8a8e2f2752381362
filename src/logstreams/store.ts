import type { Selectable } from 'kysely';
import { decodeJson, encodeJson } from '../storage/codec.js';
import { isoNow, type Runtime } from '../storage/runtime.js';
import type { LogStreamsTable } from '../storage/schema.js';
import type { Executor } from '../storage/transaction.js';
import type { StreamFilter } from './categories.js';

export const STREAM_TYPES = ['http', 'nats'] as const;
export type StreamType = (typeof STREAM_TYPES)[number];
export const STREAM_STATUSES = ['active', 'paused', 'suspended'] as const;
export type StreamStatus = (typeof STREAM_STATUSES)[number];

/** A stored log stream: configuration and delivery state. `sinkSecrets` is sealed (SecretBox). */
export interface StoredStream {
  readonly id: string;
  readonly tenantId: string;
  readonly name: string;
  readonly type: StreamType;
  readonly status: StreamStatus;
  readonly sink: Record<string, unknown>;
  readonly sinkSecrets: string | null;
  readonly filters: readonly StreamFilter[];
  /** The last log_events.tenant_seq delivered (or skipped by the filters). */
  readonly cursorSeq: number;
  readonly leaseOwner: string | null;
  readonly leaseUntil: string | null;
  readonly retryAt: string | null;
  readonly attempts: number;
  readonly failingSince: string | null;
  readonly lastError: string | null;
  readonly createdAt: string;
  readonly updatedAt: string;
}

function toStream(r: Selectable<LogStreamsTable>): StoredStream {
  return {
    id: r.id,
    tenantId: r.tenant_id,
    name: r.name,
    type: r.type as StreamType,
    status: r.status as StreamStatus,
    sink: decodeJson<Record<string, unknown>>(r.sink, {}),
    sinkSecrets: r.sink_secrets,
    filters: decodeJson<StreamFilter[]>(r.filters, []),
    cursorSeq: Number(r.cursor_seq),
    leaseOwner: r.lease_owner,
    leaseUntil: r.lease_until,
    retryAt: r.retry_at,
    attempts: Number(r.attempts),
    failingSince: r.failing_since,
    lastError: r.last_error,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  };
}

export interface NewStream {
  readonly id: string;
  readonly name: string;
  readonly type: StreamType;
  readonly status: StreamStatus;
  readonly sink: Record<string, unknown>;
  readonly sinkSecrets: string | null;
  readonly filters: readonly StreamFilter[];
  readonly cursorSeq: number;
}

export interface StreamChanges {
  readonly name?: string;
  readonly status?: StreamStatus;
  readonly sink?: Record<string, unknown>;
  readonly sinkSecrets?: string | null;
  readonly filters?: readonly StreamFilter[];
}

/** The configuration side: one tenant's streams (tenant scoping is added here, never by a caller). */
export function logStreamsStore(db: Executor, tenantId: string, runtime: Runtime) {
  const base = () => db.selectFrom('log_streams').selectAll().where('tenant_id', '=', tenantId);
  return {
    async insert(stream: NewStream): Promise<StoredStream> {
      const now = isoNow(runtime);
      await db
        .insertInto('log_streams')
        .values({
          id: stream.id,
          tenant_id: tenantId,
          name: stream.name,
          type: stream.type,
          status: stream.status,
          sink: encodeJson(stream.sink),
          sink_secrets: stream.sinkSecrets,
          filters: encodeJson(stream.filters),
          cursor_seq: stream.cursorSeq,
          created_at: now,
          updated_at: now,
        })
        .execute();
      return (await this.get(stream.id)) as StoredStream;
    },

    async get(id: string): Promise<StoredStream | undefined> {
      const row = await base().where('id', '=', id).executeTakeFirst();
      return row && toStream(row);
    },

    /** Oldest first (creation order, then id). */
    async list(): Promise<StoredStream[]> {
      const rows = await base().orderBy('created_at', 'asc').orderBy('id', 'asc').execute();
      return rows.map(toStream);
    },

    /**
     * Applies a PATCH. Any change of status or sink clears the failure state
     * and the retry delay, so a re-activated or re-configured stream is
     * tried at once and resumes from its cursor. Returns false when the
     * stream does not exist.
     */
    async update(id: string, changes: StreamChanges): Promise<boolean> {
      const resetFailures = changes.status !== undefined || changes.sink !== undefined || changes.sinkSecrets !== undefined;
      const result = await db
        .updateTable('log_streams')
        .set({
          ...(changes.name !== undefined ? { name: changes.name } : {}),
          ...(changes.status !== undefined ? { status: changes.status } : {}),
          ...(changes.sink !== undefined ? { sink: encodeJson(changes.sink) } : {}),
          ...(changes.sinkSecrets !== undefined ? { sink_secrets: changes.sinkSecrets } : {}),
          ...(changes.filters !== undefined ? { filters: encodeJson(changes.filters) } : {}),
          ...(resetFailures ? { retry_at: null, attempts: 0, failing_since: null, last_error: null } : {}),
          updated_at: isoNow(runtime),
        })
        .where('tenant_id', '=', tenantId)
        .where('id', '=', id)
        .executeTakeFirst();
      return Number(result.numUpdatedRows) === 1;
    },

    async delete(id: string): Promise<boolean> {
      const result = await db.deleteFrom('log_streams').where('tenant_id', '=', tenantId).where('id', '=', id).executeTakeFirst();
      return Number(result.numDeletedRows) === 1;
    },

    /**
     * The tenant_seq before the first event dated at or after `fromIso`
     * (Auth0's `startFrom`), or undefined when no such event exists.
     */
    async seqBefore(fromIso: string): Promise<number | undefined> {
      const row = await db
        .selectFrom('log_events')
        .select((eb) => eb.fn.min('tenant_seq').as('first'))
        .where('tenant_id', '=', tenantId)
        .where('date', '>=', fromIso)
        .executeTakeFirst();
      return row?.first === null || row?.first === undefined ? undefined : Number(row.first) - 1;
    },
  };
}

/**
 * The delivery side, across tenants (the worker role). Every write that a
 * delivering worker makes is conditioned on `lease_owner` being that worker,
 * so a worker whose lease expired (and was taken over) changes nothing.
 */
export function deliveryStore(db: Executor, runtime: Runtime) {
  const now = () => isoNow(runtime);
  const later = (ms: number) => new Date(runtime.now().getTime() + ms).toISOString();
  return {
    /** Every stream (the scheduler's view; a tenant has a handful). */
    async all(): Promise<StoredStream[]> {
      const rows = await db.selectFrom('log_streams').selectAll().orderBy('id').execute();
      return rows.map(toStream);
    },

    async get(id: string): Promise<StoredStream | undefined> {
      const row = await db.selectFrom('log_streams').selectAll().where('id', '=', id).executeTakeFirst();
      return row && toStream(row);
    },

    /**
     * Claims an active stream whose lease is free, expired or already
     * `owner`'s, and whose retry delay has passed. One UPDATE: of several
     * workers racing, exactly one sees its row updated (PostgreSQL re-checks
     * the WHERE on the locked row; SQLite has one writer). Returns the
     * claimed stream, or undefined.
     */
    async claim(id: string, owner: string, leaseMs: number): Promise<StoredStream | undefined> {
      const at = now();
      const result = await db
        .updateTable('log_streams')
        .set({ lease_owner: owner, lease_until: later(leaseMs) })
        .where('id', '=', id)
        .where('status', '=', 'active')
        .where((eb) => eb.or([eb('lease_owner', 'is', null), eb('lease_until', '<', at), eb('lease_owner', '=', owner)]))
        .where((eb) => eb.or([eb('retry_at', 'is', null), eb('retry_at', '<=', at)]))
        .executeTakeFirst();
      return Number(result.numUpdatedRows) === 1 ? this.get(id) : undefined;
    },

    /**
     * Extends `owner`'s lease while the stream is active; returns the
     * stream's updated_at (a change means its configuration was PATCHed), or
     * undefined when the lease is lost or the stream paused or deleted.
     */
    async renew(id: string, owner: string, leaseMs: number): Promise<string | undefined> {
      const row = await db
        .updateTable('log_streams')
        .set({ lease_until: later(leaseMs) })
        .where('id', '=', id)
        .where('lease_owner', '=', owner)
        .where('status', '=', 'active')
        .returning('updated_at')
        .executeTakeFirst();
      return row?.updated_at;
    },

    /**
     * Records a delivered batch: the cursor moves to `seq` and the failure
     * state clears. Conditioned on the lease only (not on status): a batch a
     * receiver accepted counts even if the stream was paused meanwhile.
     */
    async commit(id: string, owner: string, seq: number): Promise<boolean> {
      const result = await db
        .updateTable('log_streams')
        .set({ cursor_seq: seq, attempts: 0, failing_since: null, last_error: null, retry_at: null })
        .where('id', '=', id)
        .where('lease_owner', '=', owner)
        .executeTakeFirst();
      return Number(result.numUpdatedRows) === 1;
    },

    /**
     * Records a failed delivery and gives the stream up until `retryAt`
     * (any worker may take it then); or, when `suspend`, suspends it.
     */
    async fail(id: string, owner: string, failure: { error: string; attempts: number; failingSince: string; retryAt: string; suspend: boolean }): Promise<boolean> {
      const result = await db
        .updateTable('log_streams')
        .set({
          attempts: failure.attempts,
          failing_since: failure.failingSince,
          last_error: failure.error.slice(0, 500),
          retry_at: failure.suspend ? null : failure.retryAt,
          lease_owner: null,
          lease_until: null,
          ...(failure.suspend ? { status: 'suspended', updated_at: now() } : {}),
        })
        .where('id', '=', id)
        .where('lease_owner', '=', owner)
        .where('status', '=', 'active')
        .executeTakeFirst();
      return Number(result.numUpdatedRows) === 1;
    },

    /** Gives the lease up (a worker stopping, or a stream it no longer delivers). */
    async release(id: string, owner: string): Promise<void> {
      await db.updateTable('log_streams').set({ lease_owner: null, lease_until: null }).where('id', '=', id).where('lease_owner', '=', owner).execute();
    },
  };
}

export type DeliveryStore = ReturnType<typeof deliveryStore>;
