import { decodeBool } from '../storage/codec.js';
import { isoNow, type Runtime } from '../storage/runtime.js';
import type { Executor } from '../storage/transaction.js';

export type TicketKind = 'password_change' | 'email_verification';

/** A stored ticket. The token itself is never stored, only its SHA-256 (hex). */
export interface Ticket {
  readonly tokenHash: string;
  readonly kind: TicketKind;
  readonly userId: string;
  /** The user's email (lower-cased) when the ticket was made. */
  readonly email: string | null;
  readonly clientId: string | null;
  readonly resultUrl: string | null;
  readonly includeEmail: boolean;
  readonly markEmailVerified: boolean;
  readonly createdAt: string;
  readonly expiresAt: string;
  readonly consumedAt: string | null;
}

export interface NewTicket {
  readonly tokenHash: string;
  readonly kind: TicketKind;
  readonly userId: string;
  readonly email: string | null;
  readonly clientId?: string | undefined;
  readonly resultUrl?: string | undefined;
  readonly includeEmail: boolean;
  readonly markEmailVerified?: boolean;
  readonly ttlSeconds: number;
}

/** Where a ticket stands, for the log: the page says the same for all three. */
export type TicketState = 'live' | 'used' | 'expired';

const COLUMNS = ['token_hash', 'kind', 'user_id', 'email', 'client_id', 'result_url', 'include_email', 'mark_email_verified', 'created_at', 'expires_at', 'consumed_at'] as const;

type Row = { token_hash: string; kind: string; user_id: string; email: string | null; client_id: string | null; result_url: string | null; include_email: boolean | number; mark_email_verified: boolean | number; created_at: string; expires_at: string; consumed_at: string | null };

function toTicket(row: Row): Ticket {
  return {
    tokenHash: row.token_hash,
    kind: row.kind as TicketKind,
    userId: row.user_id,
    email: row.email,
    clientId: row.client_id,
    resultUrl: row.result_url,
    includeEmail: decodeBool(row.include_email),
    markEmailVerified: decodeBool(row.mark_email_verified),
    createdAt: row.created_at,
    expiresAt: row.expires_at,
    consumedAt: row.consumed_at,
  };
}

export function ticketState(ticket: Ticket, nowIso: string): TicketState {
  if (ticket.consumedAt !== null) return 'used';
  return ticket.expiresAt <= nowIso ? 'expired' : 'live';
}

/** Expired tickets removed per purge: enough to keep up, small enough never to hold a long lock. */
export const PURGE_BATCH = 500;

/** One tenant's tickets (the tenant filter is added here, never by the caller). */
export function ticketsStore(db: Executor, tenantId: string, runtime: Runtime) {
  return {
    async insert(input: NewTicket): Promise<Ticket> {
      const now = runtime.now();
      const row = {
        tenant_id: tenantId,
        token_hash: input.tokenHash,
        kind: input.kind,
        user_id: input.userId,
        email: input.email === null ? null : input.email.toLowerCase(),
        client_id: input.clientId ?? null,
        result_url: input.resultUrl ?? null,
        include_email: input.includeEmail,
        mark_email_verified: input.markEmailVerified ?? false,
        created_at: now.toISOString(),
        expires_at: new Date(now.getTime() + input.ttlSeconds * 1000).toISOString(),
        consumed_at: null,
      };
      await db.insertInto('user_tickets').values(row).execute();
      return toTicket(row);
    },

    /** The ticket of this kind with this token hash, live or not (for the log's who and why). */
    async find(kind: TicketKind, tokenHash: string): Promise<Ticket | undefined> {
      const row = await db.selectFrom('user_tickets').select(COLUMNS).where('tenant_id', '=', tenantId).where('token_hash', '=', tokenHash).where('kind', '=', kind).executeTakeFirst();
      return row && toTicket(row);
    },

    /**
     * Marks a live ticket used and returns it. Race semantics: one statement
     * (UPDATE … WHERE consumed_at IS NULL … RETURNING), so of concurrent
     * callers for the same ticket exactly one gets it, on every node and both
     * backends (PostgreSQL re-checks the condition after the row lock; SQLite
     * serialises writers); the others get undefined. An expired ticket is
     * never returned.
     */
    async consume(kind: TicketKind, tokenHash: string): Promise<Ticket | undefined> {
      const now = isoNow(runtime);
      const row = await db
        .updateTable('user_tickets')
        .set({ consumed_at: now })
        .where('tenant_id', '=', tenantId)
        .where('token_hash', '=', tokenHash)
        .where('kind', '=', kind)
        .where('consumed_at', 'is', null)
        .where('expires_at', '>', now)
        .returning(COLUMNS)
        .executeTakeFirst();
      return row && toTicket(row);
    },

    /** Deletes up to `limit` of this tenant's expired tickets (used or not); returns how many. */
    async purgeExpired(limit = PURGE_BATCH): Promise<number> {
      const now = isoNow(runtime);
      const result = await db
        .deleteFrom('user_tickets')
        .where('tenant_id', '=', tenantId)
        .where('token_hash', 'in', (eb) => eb.selectFrom('user_tickets').select('token_hash').where('tenant_id', '=', tenantId).where('expires_at', '<=', now).limit(limit))
        .executeTakeFirst();
      return Number(result.numDeletedRows);
    },
  };
}

export type TicketsStore = ReturnType<typeof ticketsStore>;
