import { CompiledQuery, PostgresAdapter, sql, type RawBuilder, type SqlBool } from 'kysely';
import { compileSearch, type SearchDialectName, type SearchSchema } from '../search/compile.js';
import { parseSearchQuery } from '../search/lucene.js';
import { decodeJson, encodeJson } from '../storage/codec.js';
import { isoNow, type Runtime } from '../storage/runtime.js';
import { precompiled } from '../storage/precompiled.js';
import type { Executor } from '../storage/transaction.js';

/** A log event in Auth0's shape (GET /api/v2/logs). */
export interface LogEvent {
  readonly log_id: string;
  readonly date: string;
  readonly type: string;
  readonly description: string | null;
  readonly ip: string | null;
  readonly user_agent: string | null;
  readonly client_id: string | null;
  readonly client_name: string | null;
  readonly user_id: string | null;
  readonly user_name: string | null;
  readonly connection: string | null;
  readonly connection_id: string | null;
  readonly audience: string | null;
  readonly scope: string | null;
  readonly strategy: string | null;
  readonly details: Record<string, unknown>;
}

export type NewLogEvent = Partial<Omit<LogEvent, 'log_id' | 'date' | 'type'>> & { readonly type: string };

const COLUMNS = [
  'log_id', 'date', 'type', 'description', 'ip', 'user_agent', 'client_id', 'client_name', 'user_id', 'user_name',
  'connection', 'connection_id', 'audience', 'scope', 'strategy', 'details',
] as const;

type Row = Record<(typeof COLUMNS)[number], unknown>;

/** Auth0 pages through at most the first 1000 events of a listing; checkpoint paging (`listFrom`) reaches the rest. */
export const LOG_PAGE_CAP = 1000;

/**
 * The fields of Auth0's log search (`GET /api/v2/logs?q=…`), each a column of
 * log_events. Values compare exactly and case-sensitively (there are no
 * lower-cased copies of log columns); `date` takes dates and ranges. A bare
 * term searches client_name, connection and user_name, as Auth0's does.
 */
export const LOG_SEARCH_SCHEMA: SearchSchema = {
  fields: {
    log_id: { type: 'string', column: 'log_events.log_id' },
    date: { type: 'date', column: 'log_events.date' },
    type: { type: 'string', column: 'log_events.type' },
    description: { type: 'string', column: 'log_events.description' },
    ip: { type: 'string', column: 'log_events.ip' },
    user_agent: { type: 'string', column: 'log_events.user_agent' },
    client_id: { type: 'string', column: 'log_events.client_id' },
    client_name: { type: 'string', column: 'log_events.client_name' },
    user_id: { type: 'string', column: 'log_events.user_id' },
    user_name: { type: 'string', column: 'log_events.user_name' },
    connection: { type: 'string', column: 'log_events.connection' },
    connection_id: { type: 'string', column: 'log_events.connection_id' },
    audience: { type: 'string', column: 'log_events.audience' },
    scope: { type: 'string', column: 'log_events.scope' },
    strategy: { type: 'string', column: 'log_events.strategy' },
  },
  defaultFields: ['client_name', 'connection', 'user_name'],
};

export interface LogSearchRequest {
  /** Lucene query (Auth0's log search); absent or blank: every event. */
  readonly q?: string;
  readonly offset: number;
  readonly limit: number;
  /** Oldest first (`sort=date:1`); newest first otherwise. */
  readonly ascending?: boolean;
  readonly includeTotals?: boolean;
}

/** Events of some types counted per UTC day, with the first and last event's date. */
export interface DailyTypeCount {
  /** `YYYY-MM-DD` */
  readonly day: string;
  readonly type: string;
  readonly count: number;
  readonly first: string;
  readonly last: string;
}

function toEvent(r: Row): LogEvent {
  const { details, ...rest } = r;
  return { ...(rest as Omit<LogEvent, 'details'>), details: decodeJson<Record<string, unknown>>(details, {}) };
}

export function logsStore(db: Executor, tenantId: string, runtime: Runtime) {
  const base = () => db.selectFrom('log_events').select(COLUMNS).where('tenant_id', '=', tenantId);
  return {
    /** Appends one event (its own transaction unless `db` is one); see insertLogEvents. */
    async append(event: NewLogEvent): Promise<LogEvent> {
      const [written] = await insertLogEvents(db, runtime, [{ tenantId, event }]);
      return (written as { event: LogEvent }).event;
    },

    async get(logId: string): Promise<LogEvent | undefined> {
      const row = await base().where('log_id', '=', logId).executeTakeFirst();
      return row && toEvent(row);
    },

    /** Newest first, page by page. */
    async list(page: { offset: number; limit: number }): Promise<LogEvent[]> {
      const rows = await base().orderBy('tenant_seq', 'desc').offset(page.offset).limit(page.limit).execute();
      return rows.map(toEvent);
    },

    async listForUser(userId: string, page: { offset: number; limit: number }): Promise<LogEvent[]> {
      const rows = await base().where('user_id', '=', userId).orderBy('tenant_seq', 'desc').offset(page.offset).limit(page.limit).execute();
      return rows.map(toEvent);
    },

    /**
     * A page of events, optionally matching an Auth0 log search query, in
     * insertion order (newest first unless `ascending`). Throws
     * SearchSyntaxError for a query it cannot parse or compile. `total`, when
     * asked, counts at most LOG_PAGE_CAP matches (Auth0's paging window), so
     * a count never scans a tenant's whole history.
     */
    async search(request: LogSearchRequest, dialect: SearchDialectName): Promise<{ events: LogEvent[]; total?: number }> {
      const q = request.q?.trim() ?? '';
      const where: RawBuilder<SqlBool> | null = q === '' ? null : compileSearch(parseSearchQuery(q), LOG_SEARCH_SCHEMA, dialect);
      let query = base();
      if (where) query = query.where(where);
      const rows = await query.orderBy('tenant_seq', request.ascending ? 'asc' : 'desc').offset(request.offset).limit(request.limit).execute();
      const events = rows.map(toEvent);
      if (!request.includeTotals) return { events };
      let matched = db.selectFrom('log_events').select(sql<number>`1`.as('one')).where('log_events.tenant_id', '=', tenantId);
      if (where) matched = matched.where(where);
      const row = await db.selectFrom(matched.limit(LOG_PAGE_CAP).as('matched')).select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
      return { events, total: Number(row.n) };
    },

    /**
     * Events of `types` per UTC day with `fromIso <= date < toIso` (dates are
     * ISO-8601 UTC text, so the day is the first ten characters).
     */
    async dailyCounts(types: readonly string[], fromIso: string, toIso: string): Promise<DailyTypeCount[]> {
      if (types.length === 0) return [];
      const day = sql<string>`substr(log_events.date, 1, 10)`;
      const rows = await db
        .selectFrom('log_events')
        .select((eb) => [day.as('day'), 'type', eb.fn.countAll<number>().as('n'), eb.fn.min('date').as('first'), eb.fn.max('date').as('last')])
        .where('tenant_id', '=', tenantId)
        .where('type', 'in', types)
        .where('date', '>=', fromIso)
        .where('date', '<', toIso)
        .groupBy([day, 'type'])
        .execute();
      return rows
        .map((r) => ({ day: String(r.day), type: r.type, count: Number(r.n), first: String(r.first), last: String(r.last) }))
        .sort((a, b) => (a.day === b.day ? a.type.localeCompare(b.type) : a.day < b.day ? -1 : 1));
    },

    /**
     * Checkpoint paging: up to `take` events after `fromLogId` (oldest first);
     * from the start when undefined. An anchor that retention has purged
     * (its log_id's time is older than every event kept) continues from the
     * oldest event kept — those in between are gone, and a reader must not
     * stall on them. Any other unknown anchor throws LogCheckpointError.
     */
    async listFrom(fromLogId: string | undefined, take: number): Promise<LogEvent[]> {
      let query = base();
      if (fromLogId !== undefined) {
        const anchor = await db.selectFrom('log_events').select('tenant_seq').where('tenant_id', '=', tenantId).where('log_id', '=', fromLogId).executeTakeFirst();
        if (anchor) {
          query = query.where('tenant_seq', '>', anchor.tenant_seq);
        } else {
          const oldest = await base().orderBy('tenant_seq', 'asc').limit(1).executeTakeFirst();
          const at = logIdTime(fromLogId);
          if (at === undefined || (oldest !== undefined && at >= Date.parse(String(oldest.date)))) throw new LogCheckpointError(fromLogId);
        }
      }
      const rows = await query.orderBy('tenant_seq', 'asc').limit(take).execute();
      return rows.map(toEvent);
    },

    /**
     * Up to `take` events with tenant_seq > `afterSeq`, oldest first. Numbers
     * become visible in order (decision 011): a reader that resumes after the
     * last number it saw never skips an event that commits later.
     */
    async listAfterSeq(afterSeq: number, take: number): Promise<Array<{ seq: number; event: LogEvent }>> {
      const rows = await base().select('tenant_seq').where('tenant_seq', '>', afterSeq).orderBy('tenant_seq', 'asc').limit(take).execute();
      return rows.map(({ tenant_seq, ...row }) => ({ seq: Number(tenant_seq), event: toEvent(row) }));
    },

    /** The tenant's last committed tenant_seq (0 before its first event; purges do not lower it). */
    async lastSeq(): Promise<number> {
      const row = await db.selectFrom('log_sequences').select('last_seq').where('tenant_id', '=', tenantId).executeTakeFirst();
      return row ? Number(row.last_seq) : 0;
    },
  };
}

export type LogsStore = ReturnType<typeof logsStore>;

/** Deletes events older than `beforeIso` in every tenant (tests and one-off clean-ups; the worker purges per tenant). */
export async function purgeLogsBefore(db: Executor, beforeIso: string): Promise<number> {
  const result = await db.deleteFrom('log_events').where('date', '<', beforeIso).executeTakeFirst();
  return Number(result.numDeletedRows);
}

/**
 * Deletes at most `batch` of one tenant's events older than `beforeIso`
 * (log_events_tenant_date index); returns how many. Small batches keep each
 * delete's locks and WAL short while logins keep writing.
 */
export async function purgeTenantLogsBefore(db: Executor, tenantId: string, beforeIso: string, batch: number): Promise<number> {
  const victims = db.selectFrom('log_events').select('seq').where('tenant_id', '=', tenantId).where('date', '<', beforeIso).limit(batch);
  const result = await db.deleteFrom('log_events').where('seq', 'in', victims).executeTakeFirst();
  return Number(result.numDeletedRows);
}

/** One event to write, for the tenant it belongs to. */
export interface TenantLogEvent {
  readonly tenantId: string;
  readonly event: NewLogEvent;
}

/** Rows per INSERT statement: 17 parameters each stays far below SQLite's and PostgreSQL's limits. */

/**
 * A log id: "90", the time in ms (15 digits), 16 random bytes in hex. Stable
 * (assigned once, before the write), unique across tenants, sortable by time,
 * so a receiver can drop a duplicate delivery by id.
 */
function newLogId(runtime: Runtime): string {
  return `90${String(runtime.now().getTime()).padStart(15, '0')}${runtime.randomId('', 16)}`;
}

/** The epoch milliseconds a log_id of ours starts with (after `90`); undefined when it is not one. */
function logIdTime(logId: string): number | undefined {
  const match = /^90(\d{15})[A-Za-z0-9]+$/.exec(logId);
  return match?.[1] === undefined ? undefined : Number(match[1]);
}

/** A checkpoint (`from`) that names no event of the tenant, and no purged one either. */
export class LogCheckpointError extends Error {
  constructor(readonly logId: string) {
    super('from is not the log_id of an event of this tenant');
  }
}

function rowOf(event: NewLogEvent, runtime: Runtime): LogEvent {
  return {
    log_id: newLogId(runtime),
    date: isoNow(runtime),
    type: event.type,
    description: event.description ?? null,
    ip: event.ip ?? null,
    user_agent: event.user_agent ?? null,
    client_id: event.client_id ?? null,
    client_name: event.client_name ?? null,
    user_id: event.user_id ?? null,
    user_name: event.user_name ?? null,
    connection: event.connection ?? null,
    connection_id: event.connection_id ?? null,
    audience: event.audience ?? null,
    scope: event.scope ?? null,
    strategy: event.strategy ?? null,
    details: event.details ?? {},
  };
}

/**
 * Writes events of any tenants in one transaction (a new one unless `db` is
 * already a transaction) and returns them with their tenant_seq, in input
 * order. Per tenant, the range of numbers is taken with an upsert on the
 * tenant's log_sequences row: on PostgreSQL that row stays locked until
 * commit, so the tenant's log transactions commit one after another in
 * number order and a reader never sees a number before every smaller one
 * (decision 011); SQLite has a single writer anyway. Tenants are locked in id
 * order, so two batches with the same tenants cannot deadlock.
 */
export async function insertLogEvents(db: Executor, runtime: Runtime, events: readonly TenantLogEvent[]): Promise<Array<{ seq: number; event: LogEvent }>> {
  if (events.length === 0) return [];
  const byTenant = new Map<string, number[]>();
  events.forEach(({ tenantId }, i) => {
    const list = byTenant.get(tenantId);
    if (list) list.push(i);
    else byTenant.set(tenantId, [i]);
  });
  const written: Array<{ seq: number; event: LogEvent }> = new Array(events.length);
  const rowsOf = (indexes: readonly number[]) => indexes.map((i) => rowOf((events[i] as TenantLogEvent).event, runtime));
  const record = (indexes: readonly number[], rows: readonly LogEvent[], lastSeq: number) =>
    indexes.forEach((i, k) => (written[i] = { seq: lastSeq - indexes.length + k + 1, event: rows[k] as LogEvent }));

  if (db.getExecutor().adapter instanceof PostgresAdapter) {
    // One statement per tenant takes the numbers and inserts the rows (one
    // round trip, the sequence row locked only for that statement); one
    // tenant outside a transaction needs no transaction of its own.
    const work = async (executor: Executor) => {
      for (const tenantId of [...byTenant.keys()].sort()) {
        const indexes = byTenant.get(tenantId) as number[];
        const rows = rowsOf(indexes);
        record(indexes, rows, await insertManyPostgres(executor, tenantId, rows));
      }
    };
    if (db.isTransaction || byTenant.size === 1) await work(db);
    else await db.transaction().execute(work);
    return written;
  }
  const work = async (trx: Executor) => {
    for (const tenantId of [...byTenant.keys()].sort()) {
      const indexes = byTenant.get(tenantId) as number[];
      const rows = rowsOf(indexes);
      const [taken] = await takeSequence(trx, tenantId, indexes.length);
      const lastSeq = Number(taken?.last_seq);
      record(indexes, rows, lastSeq);
      await insertManySqlite(trx, tenantId, rows, lastSeq - indexes.length + 1);
    }
  };
  await (db.isTransaction ? work(db) : db.transaction().execute(work));
  return written;
}

// The log writer's statements, compiled once (src/storage/precompiled.ts):
// one insert per event costs less than compiling a multi-row insert per batch.
const takeSequence = precompiled(
  (db, tenantId, count) =>
    db
      .insertInto('log_sequences')
      .values({ tenant_id: tenantId, last_seq: count as unknown as number })
      .onConflict((oc) => oc.column('tenant_id').doUpdateSet({ last_seq: sql`log_sequences.last_seq + excluded.last_seq` }))
      .returning('last_seq'),
  2,
);
/**
 * PostgreSQL: a tenant's numbers and rows in one statement — the sequence
 * upsert and an `insert … select from unnest(arrays)` — whose text never
 * changes (node-postgres sends JavaScript arrays as array parameters), so it
 * is neither rebuilt nor re-planned per batch size. Returns the last number
 * taken.
 */
async function insertManyPostgres(db: Executor, tenantId: string, rows: readonly LogEvent[]): Promise<number> {
  const columns = INSERTED.map((column) => rows.map((event) => event[column]));
  const details = rows.map((event) => encodeJson(event.details));
  const result = await db.executeQuery<{ last_seq: string | number }>(CompiledQuery.raw(INSERT_MANY_POSTGRES, [tenantId, rows.length, ...columns, details]));
  const [taken] = result.rows;
  if (!taken) throw new Error('log write returned no sequence');
  return Number(taken.last_seq);
}


const INSERTED = ['log_id', 'date', 'type', 'description', 'ip', 'user_agent', 'client_id', 'client_name', 'user_id', 'user_name', 'connection', 'connection_id', 'audience', 'scope', 'strategy'] as const;
const INSERT_MANY_POSTGRES = (() => {
  const names = [...INSERTED, 'details'].map((name) => `"${name}"`);
  const arrays = names.map((_, i) => `$${i + 3}::text[]`).join(', ');
  const selected = names.map((name) => (name === '"details"' ? `u.${name}::jsonb` : `u.${name}`)).join(', ');
  // The tenant's range of numbers and its rows in one statement: the
  // sequence row stays locked until this statement's transaction commits.
  return [
    'with "taken" as (',
    '  insert into "log_sequences" ("tenant_id", "last_seq") values ($1, $2)',
    '  on conflict ("tenant_id") do update set "last_seq" = "log_sequences"."last_seq" + excluded."last_seq"',
    '  returning "last_seq"',
    '), "inserted" as (',
    `  insert into "log_events" ("tenant_id", "tenant_seq", ${names.join(', ')})`,
    `  select $1, "taken"."last_seq" - $2 + u."ord", ${selected}`,
    `  from "taken", unnest(${arrays}) with ordinality as u(${names.join(', ')}, "ord")`,
    ')',
    'select "last_seq" from "taken"',
  ].join('\n');
})();
/** SQLite: the rows as one JSON array parameter, unpacked by json_each (the `details` text kept as written). */
async function insertManySqlite(db: Executor, tenantId: string, rows: readonly LogEvent[], firstSeq: number): Promise<void> {
  const json = JSON.stringify(rows.map((event, k) => [firstSeq + k, ...INSERTED.map((column) => event[column]), encodeJson(event.details)]));
  await db.executeQuery(CompiledQuery.raw(INSERT_MANY_SQLITE, [tenantId, json]));
}

const INSERT_MANY_SQLITE = (() => {
  const names = ['tenant_seq', ...INSERTED, 'details'];
  const selected = names.map((_, i) => `j.value ->> ${i}`).join(', ');
  return `insert into "log_events" ("tenant_id", ${names.map((name) => `"${name}"`).join(', ')}) select ?, ${selected} from json_each(?) as j`;
})();
