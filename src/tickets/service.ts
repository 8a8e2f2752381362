import { createHash, randomBytes } from 'node:crypto';
import type { Connection } from '../connections/store.js';
import type { Database } from '../storage/database.js';
import type { Runtime } from '../storage/runtime.js';
import { writeTransaction, type Executor } from '../storage/transaction.js';
import { tenantStores, type TenantStores } from '../tenants/tenant-stores.js';
import { DATABASE_STRATEGY, type UsersService } from '../users/service.js';
import { usersStore, type User } from '../users/store.js';
import { TicketError } from './errors.js';
import { ticketsStore, ticketState, type Ticket, type TicketKind, type TicketState } from './store.js';

/** Auth0: a ticket whose `ttl_sec` is absent or 0 lives 432000 seconds (5 days). */
export const DEFAULT_TICKET_TTL_SECONDS = 432_000;
/** Auth0 documents no ceiling for these tickets; we cap at 30 days, Auth0's ceiling for invitation tickets (docs/decisions/014). */
export const MAX_TICKET_TTL_SECONDS = 2_592_000;

/** The pages the links open (under /u/, beside the login pages). */
export const TICKET_PAGES: Readonly<Record<TicketKind, string>> = { password_change: '/u/reset-password', email_verification: '/u/email-verification' };

/** The link for a token: Auth0's `<issuer>u/…?ticket=…` shape. */
export function ticketUrl(issuer: string, kind: TicketKind, token: string): string {
  return `${issuer}${TICKET_PAGES[kind].slice(1)}?ticket=${token}`;
}

/** SHA-256 (hex) of a token: what is stored and looked up. The token is 256 random bits, so no salt or slow hash is needed. */
export const hashTicketToken = (token: string): string => createHash('sha256').update(token, 'utf8').digest('hex');

/** A token carries 256 bits in 43 base64url characters; anything else cannot be one, and is not looked up. */
const TOKEN_SHAPE = /^[A-Za-z0-9_-]{43}$/;

interface TicketRequestBase {
  readonly tenantId: string;
  readonly clientId?: string | undefined;
  readonly resultUrl?: string | undefined;
  /** Seconds; absent or 0 means DEFAULT_TICKET_TTL_SECONDS. */
  readonly ttlSeconds?: number | undefined;
  /** Whether the redirect to result_url carries `email` (Auth0's default: yes). */
  readonly includeEmail?: boolean | undefined;
}

/** `user_id`, or `connection_id` + `email` (Auth0's two ways of naming the user). */
export interface PasswordChangeRequest extends TicketRequestBase {
  readonly userId?: string | undefined;
  readonly connectionId?: string | undefined;
  readonly email?: string | undefined;
  readonly markEmailVerified?: boolean | undefined;
}

export interface EmailVerificationRequest extends TicketRequestBase {
  readonly userId: string;
  /** The identity to verify (Auth0); every user here has one identity, so it must be that one. */
  readonly identity?: { readonly userId: string; readonly provider: string; readonly connectionId?: string | undefined } | undefined;
}

/** A ticket with the user and connection it is about: what the pages and the log need. */
export interface TicketSubject {
  readonly ticket: Ticket;
  readonly user: User;
  readonly connection: Connection | undefined;
}

/** Why a presented token is of no use, and (when the ticket is known) whom it was about, for the log. */
export interface TicketInspection {
  /** `email_changed`: a verification link for an address the user no longer has. */
  readonly state: TicketState | 'unknown' | 'email_changed';
  readonly subject?: TicketSubject | undefined;
}

const invalidTicket = () => new TicketError('The link is not valid.', 'invalid_ticket');

/**
 * One-time links of the Management API: made by `issue…`, used by the pages
 * (src/tickets/routes.ts). A link carries a 256-bit random token; only its
 * SHA-256 is stored. Using a ticket consumes it in the same transaction as
 * the change it makes, so of two concurrent uses exactly one changes anything.
 */
export function ticketsService(database: Database, runtime: Runtime, users: Pick<UsersService, 'changePassword'>) {
  const storesOf = (tenantId: string): TenantStores => tenantStores(database.db, tenantId, runtime);

  async function clientMustExist(stores: TenantStores, clientId: string | undefined): Promise<void> {
    if (clientId !== undefined && !(await stores.clients.findById(clientId))) throw new TicketError('The client does not exist', 'client_not_found');
  }

  /** Stores a new ticket (purging some of the tenant's expired ones first) and returns its token. */
  async function issue(kind: TicketKind, request: TicketRequestBase, user: User, markEmailVerified = false): Promise<{ token: string; ticket: Ticket }> {
    const token = randomBytes(32).toString('base64url');
    const ttlSeconds = request.ttlSeconds === undefined || request.ttlSeconds === 0 ? DEFAULT_TICKET_TTL_SECONDS : request.ttlSeconds;
    const ticket = await writeTransaction(database, async (trx) => {
      const tickets = ticketsStore(trx, request.tenantId, runtime);
      await tickets.purgeExpired();
      return tickets.insert({
        tokenHash: hashTicketToken(token),
        kind,
        userId: user.user_id,
        email: user.email,
        clientId: request.clientId,
        resultUrl: request.resultUrl,
        includeEmail: request.includeEmail ?? true,
        markEmailVerified,
        ttlSeconds,
      });
    });
    return { token, ticket };
  }

  async function subjectOf(stores: TenantStores, ticket: Ticket): Promise<TicketSubject | undefined> {
    const user = await stores.users.findById(ticket.userId);
    return user && { ticket, user, connection: await stores.connections.findById(user.connection_id) };
  }

  async function inspect(tenantId: string, kind: TicketKind, token: string): Promise<TicketInspection> {
    if (!TOKEN_SHAPE.test(token)) return { state: 'unknown' };
    const ticket = await ticketsStore(database.db, tenantId, runtime).find(kind, hashTicketToken(token));
    if (!ticket) return { state: 'unknown' };
    const subject = await subjectOf(storesOf(tenantId), ticket);
    // The user's deletion deletes the ticket; a ticket without its user is not usable.
    if (!subject) return { state: 'unknown' };
    if (kind === 'email_verification' && subject.user.email?.toLowerCase() !== ticket.email) return { state: 'email_changed', subject };
    return { state: ticketState(ticket, runtime.now().toISOString()), subject };
  }

  /** A live ticket and its user, or TicketError `invalid_ticket` (unknown, expired, used). */
  async function open(tenantId: string, kind: TicketKind, token: string): Promise<TicketSubject> {
    const found = await inspect(tenantId, kind, token);
    if (found.state !== 'live' || !found.subject) throw invalidTicket();
    return found.subject;
  }

  /** A verification (or mark_email_as_verified) is for the address the ticket was made for: a changed address stays unverified. */
  async function markVerified(trx: Executor, tenantId: string, ticket: Ticket): Promise<boolean> {
    const stores = usersStore(trx, tenantId, runtime);
    const user = await stores.findById(ticket.userId);
    if (!user || ticket.email === null || user.email?.toLowerCase() !== ticket.email) return false;
    await stores.update(ticket.userId, { emailVerified: true });
    return true;
  }

  return {
    /**
     * A password-change ticket for a user of a database connection. Refusals:
     * unknown connection, user or client (TicketError), a user whose
     * connection has no passwords.
     */
    async issuePasswordChange(request: PasswordChangeRequest): Promise<{ token: string; ticket: Ticket; user: User }> {
      const stores = storesOf(request.tenantId);
      let user: User | undefined;
      if (request.userId !== undefined) {
        user = await stores.users.findById(request.userId);
      } else {
        const connection = await stores.connections.findById(request.connectionId ?? '');
        if (!connection) throw new TicketError('The connection does not exist.', 'connection_not_found');
        user = (await stores.users.findByEmail(request.email ?? '')).find((u) => u.connection_id === connection.id);
      }
      if (!user) throw new TicketError('The user does not exist.', 'user_not_found');
      const connection = await stores.connections.findById(user.connection_id);
      if (connection?.strategy !== DATABASE_STRATEGY) throw new TicketError('The user is not in a database connection and has no password.', 'not_database_user');
      await clientMustExist(stores, request.clientId);
      return { ...(await issue('password_change', request, user, request.markEmailVerified ?? false)), user };
    },

    /** An email-verification ticket for a user with an email address. */
    async issueEmailVerification(request: EmailVerificationRequest): Promise<{ token: string; ticket: Ticket; user: User }> {
      const stores = storesOf(request.tenantId);
      const user = await stores.users.findById(request.userId);
      if (!user) throw new TicketError('The user does not exist.', 'user_not_found');
      if (request.identity !== undefined) {
        const wanted = request.identity;
        const found = (await stores.users.identities(user.user_id)).some(
          (i) => i.provider === wanted.provider && (i.user_id === wanted.userId || `${i.provider}|${i.user_id}` === wanted.userId) && (wanted.connectionId === undefined || i.connection_id === wanted.connectionId),
        );
        if (!found) throw new TicketError('The identity does not belong to the user.', 'identity_not_found');
      }
      if (!user.email) throw new TicketError('The user has no email address to verify.', 'no_email');
      await clientMustExist(stores, request.clientId);
      return { ...(await issue('email_verification', request, user)), user };
    },

    inspect,
    open,

    /**
     * Sets the user's new password and consumes the ticket in one
     * transaction (users service: policy, hashing, token revocation). A
     * policy refusal throws UserError and leaves the ticket usable; a ticket
     * used, expired or gone meanwhile throws TicketError `invalid_ticket`.
     */
    async resetPassword(tenantId: string, token: string, newPassword: string): Promise<TicketSubject> {
      const subject = await open(tenantId, 'password_change', token);
      await users.changePassword(tenantId, subject.user.user_id, newPassword, async (trx) => {
        const ticket = await ticketsStore(trx, tenantId, runtime).consume('password_change', subject.ticket.tokenHash);
        if (!ticket) throw invalidTicket();
        if (ticket.markEmailVerified) await markVerified(trx, tenantId, ticket);
      });
      return subject;
    },

    /**
     * Marks the user's email verified and consumes the ticket in one
     * transaction. TicketError `invalid_ticket` when the ticket is unknown,
     * expired or used, or the user's address changed since it was made.
     */
    async verifyEmail(tenantId: string, token: string): Promise<TicketSubject> {
      const subject = await open(tenantId, 'email_verification', token);
      await writeTransaction(database, async (trx) => {
        const ticket = await ticketsStore(trx, tenantId, runtime).consume('email_verification', subject.ticket.tokenHash);
        if (!ticket || !(await markVerified(trx, tenantId, ticket))) throw invalidTicket();
      });
      return subject;
    },
  };
}

export type TicketsService = ReturnType<typeof ticketsService>;
