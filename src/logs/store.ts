import { decodeJson, encodeJson } from '../storage/codec.js';
import { isoNow, type Runtime } from '../storage/runtime.js';
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

function toEvent(r: Row): LogEvent {
  const { details, ...rest } = r;
  return { ...(rest as Omit<LogEvent, 'details'>), details: decodeJson<Record<string, unknown>>(details, {}) };
}

export function logsStore(db: Executor, tenantId: string, runtime: Runtime) {
  const base = () => db.selectFrom('log_events').select(COLUMNS).where('tenant_id', '=', tenantId);
  return {
    /**
     * Appends an event. log_id is time-ordered then random, unique across
     * tenants and stable, so a receiver can drop duplicates.
     */
    async append(event: NewLogEvent): Promise<LogEvent> {
      const now = runtime.now();
      const logId = `90${String(now.getTime()).padStart(15, '0')}${runtime.randomId('', 16)}`;
      const row: LogEvent = {
        log_id: logId,
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
      await db.insertInto('log_events').values({ ...row, tenant_id: tenantId, details: encodeJson(row.details) }).execute();
      return row;
    },

    async get(logId: string): Promise<LogEvent | undefined> {
      const row = await base().where('log_id', '=', logId).executeTakeFirst();
      return row && toEvent(row);
    },

    /** Newest first, page by page. */
    async list(page: { offset: number; limit: number }): Promise<LogEvent[]> {
      const rows = await base().orderBy('seq', 'desc').offset(page.offset).limit(page.limit).execute();
      return rows.map(toEvent);
    },

    async listForUser(userId: string, page: { offset: number; limit: number }): Promise<LogEvent[]> {
      const rows = await base().where('user_id', '=', userId).orderBy('seq', 'desc').offset(page.offset).limit(page.limit).execute();
      return rows.map(toEvent);
    },

    /** Checkpoint paging: up to `take` events after `fromLogId` (oldest first); from the start when undefined. */
    async listFrom(fromLogId: string | undefined, take: number): Promise<LogEvent[]> {
      let query = base();
      if (fromLogId !== undefined) {
        const anchor = db.selectFrom('log_events').select('seq').where('tenant_id', '=', tenantId).where('log_id', '=', fromLogId);
        query = query.where('seq', '>', anchor);
      }
      const rows = await query.orderBy('seq', 'asc').limit(take).execute();
      return rows.map(toEvent);
    },
  };
}

export type LogsStore = ReturnType<typeof logsStore>;

/** Deletes events older than `beforeIso` in every tenant (worker role, retention). */
export async function purgeLogsBefore(db: Executor, beforeIso: string): Promise<number> {
  const result = await db.deleteFrom('log_events').where('date', '<', beforeIso).executeTakeFirst();
  return Number(result.numDeletedRows);
}
