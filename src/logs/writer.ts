import { LOG_EVENT_TYPES, type SecurityEvent } from '../events/bus.js';
import type { Database } from '../storage/database.js';
import type { Runtime } from '../storage/runtime.js';
import { EventFacts, factKey, type UserFacts } from './event-facts.js';
import { redactSecrets, withoutNul } from './redact.js';
import { insertLogEvents, type NewLogEvent, type TenantLogEvent } from './store.js';

/** At most this many events go into one transaction; the rest wait for the next one. */
const MAX_BATCH = 500;
const MAX_TEXT = 1024;
const MAX_USER_AGENT = 512;

export interface LogWriterOptions {
  readonly database: Database;
  readonly runtime: Runtime;
  /** How long client names and user facts may be served from memory (ms). */
  readonly factsTtlMs: number;
  /** Called after each transaction: how many events it held, and its error if it failed. */
  readonly onBatch?: (size: number, seconds: number, error?: unknown) => void;
}

interface Pending {
  readonly event: SecurityEvent;
  resolve(): void;
  reject(error: unknown): void;
}

const text = (value: string | undefined | null, max = MAX_TEXT) => (value === undefined || value === null ? undefined : withoutNul(value.slice(0, max)));

/**
 * The durable listener of the security event bus: it turns a SecurityEvent
 * into an Auth0 log row and commits it before the publisher's promise
 * resolves (and rejects that promise if the write failed).
 *
 * Group commit: the events published during one turn of the event loop, and
 * all those published while a transaction is in flight, are written together
 * in the next transaction (one sequence allocation per tenant, one multi-row
 * insert), so a login waits for at most one commit in progress plus its own,
 * and the number of transactions does not grow with the number of logins.
 * One transaction is in flight at a time per process (decision 011).
 */
export class LogWriter {
  readonly #queue: Pending[] = [];
  readonly #facts: EventFacts;
  #draining: Promise<void> | undefined;
  #scheduled = false;

  constructor(private readonly options: LogWriterOptions) {
    this.#facts = new EventFacts(options.database.db, { ttlMs: options.factsTtlMs, maxEntries: 1000 });
  }

  /** The bus's durable listener: resolves when `event` is committed. */
  readonly write = (event: SecurityEvent): Promise<void> =>
    new Promise<void>((resolve, reject) => {
      this.#queue.push({ event: withoutNuls(event), resolve, reject });
      this.#schedule();
    });

  /** Resolves when every event written so far has been committed or refused. */
  async flush(): Promise<void> {
    while (this.#draining || this.#scheduled) await (this.#draining ?? new Promise((resolve) => setImmediate(resolve)));
  }

  #schedule(): void {
    if (this.#scheduled || this.#draining) return;
    this.#scheduled = true;
    // setImmediate, not a microtask: everything published in this turn of the loop joins the batch.
    setImmediate(() => {
      this.#scheduled = false;
      this.#draining = this.#drain().finally(() => {
        this.#draining = undefined;
        if (this.#queue.length > 0) this.#schedule();
      });
    });
  }

  async #drain(): Promise<void> {
    while (this.#queue.length > 0) {
      const batch = this.#queue.splice(0, MAX_BATCH);
      const started = process.hrtime.bigint();
      const error = await this.#commit(batch.map((p) => p.event)).then(
        () => undefined,
        (e: unknown) => e ?? new Error('log write failed'),
      );
      this.#report(batch.length, started, error);
      if (error === undefined) for (const p of batch) p.resolve();
      else await this.#retryPerTenant(batch, error);
    }
  }

  /**
   * A failed batch is retried one tenant at a time, so that one tenant's
   * failure (deleted while its events were queued) does not fail the
   * others'. When the database itself is down every retry fails too.
   */
  async #retryPerTenant(batch: Pending[], firstError: unknown): Promise<void> {
    const tenants = new Map<string, Pending[]>();
    for (const p of batch) tenants.set(p.event.tenantId, [...(tenants.get(p.event.tenantId) ?? []), p]);
    if (tenants.size === 1) {
      for (const p of batch) p.reject(firstError);
      return;
    }
    for (const group of tenants.values()) {
      const started = process.hrtime.bigint();
      const error = await this.#commit(group.map((p) => p.event)).then(
        () => undefined,
        (e: unknown) => e ?? new Error('log write failed'),
      );
      this.#report(group.length, started, error);
      for (const p of group) {
        if (error === undefined) p.resolve();
        else p.reject(error);
      }
    }
  }

  /** Metrics only: a failing reporter must never turn a committed batch into a retried one. */
  #report(size: number, started: bigint, error: unknown): void {
    try {
      this.options.onBatch?.(size, seconds(started), error);
    } catch {
      // ignored: see above
    }
  }

  async #commit(events: readonly SecurityEvent[]): Promise<void> {
    const clientPairs = events.filter((e) => e.clientId && e.clientName === undefined).map((e) => [e.tenantId, e.clientId as string] as const);
    const userPairs = events.filter((e) => e.userId && needsUserFacts(e)).map((e) => [e.tenantId, e.userId as string] as const);
    const [clientNames, users] = await Promise.all([
      clientPairs.length > 0 ? this.#facts.clientNames(clientPairs) : new Map<string, string | null>(),
      userPairs.length > 0 ? this.#facts.users(userPairs) : new Map<string, UserFacts | null>(),
    ]);
    const rows: TenantLogEvent[] = events.map((e) => ({
      tenantId: e.tenantId,
      event: toLogRow(e, e.clientId ? clientNames.get(factKey(e.tenantId, e.clientId)) : undefined, e.userId ? users.get(factKey(e.tenantId, e.userId)) : undefined),
    }));
    await insertLogEvents(this.options.database.db, this.options.runtime, rows);
  }
}

/** The event with every text field NUL-free (they reach SQL as parameters: the client and user lookups, the row). */
function withoutNuls(event: SecurityEvent): SecurityEvent {
  const dirty = Object.entries(event).filter(([, value]) => typeof value === 'string' && value.includes('\u0000'));
  return dirty.length === 0 ? event : { ...event, ...Object.fromEntries(dirty.map(([key, value]) => [key, withoutNul(value as string)])) };
}

function seconds(started: bigint): number {
  return Number(process.hrtime.bigint() - started) / 1e9;
}

/** A successful event about a user names the user (email) and its connection; a refused one says what was typed. */
function needsUserFacts(e: SecurityEvent): boolean {
  return e.userName === undefined || e.connection === undefined || e.connectionId === undefined;
}

/** The camelCase event in Auth0's snake_case log shape, with what the publisher left out filled in. */
export function toLogRow(e: SecurityEvent, clientName: string | null | undefined, user: UserFacts | null | undefined): NewLogEvent {
  return {
    type: e.type,
    description: text(e.description ?? LOG_EVENT_TYPES[e.type]),
    ip: text(e.ip),
    user_agent: text(e.userAgent, MAX_USER_AGENT),
    client_id: text(e.clientId),
    client_name: text(e.clientName ?? clientName ?? undefined),
    user_id: text(e.userId),
    user_name: text(e.userName ?? user?.userName ?? undefined),
    connection: text(e.connection ?? user?.connection ?? undefined),
    connection_id: text(e.connectionId ?? user?.connectionId ?? undefined),
    audience: text(e.audience),
    scope: text(e.scope),
    strategy: text(e.strategy ?? user?.strategy ?? undefined),
    details: e.details ? redactSecrets(e.details) : {},
  };
}
