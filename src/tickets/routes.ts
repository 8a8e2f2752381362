import { randomBytes } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { EventBus, LogEventType } from '../events/bus.js';
import { acceptFormBodies } from '../http/form-body.js';
import { csrfToken, csrfValid } from '../login/csrf.js';
import { brandingOf, sendPage } from '../login/page-reply.js';
import { errorPage } from '../login/views.js';
import type { RequestTenant } from '../tenants/routes.js';
import { UserError } from '../users/errors.js';
import { passwordPolicyOf } from '../users/password-policy.js';
import { TicketError } from './errors.js';
import { hashTicketToken, TICKET_PAGES, type TicketsService, type TicketSubject } from './service.js';
import type { TicketKind } from './store.js';
import { resetPasswordPage, ticketDonePage } from './views.js';

export interface TicketRoutesOptions {
  readonly tickets: TicketsService;
  readonly events: EventBus;
  /** Per-tenant secret for form tokens (the login pages' secret). */
  readonly formSecret: (tenantId: string) => string;
}

/** Auth0's wording in the redirect to result_url. */
const RESET_DONE = 'You can now login to the application with the new password.';
const VERIFIED = 'Your email was verified. You can continue using the application.';

/** Binds the reset form to the browser that loaded it (double submit: this cookie + an HMAC of it in the form). */
const FORM_COOKIE = 'pc_ticket_form';
const BINDING_SHAPE = /^[A-Za-z0-9_-]{22}$/;

const field = (value: unknown): string => (typeof value === 'string' ? value : '');

function cookieValue(header: string | undefined, name: string): string | undefined {
  for (const part of (header ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

/**
 * Whether a request is for a ticket page. Their URLs carry the one-time token
 * (`?ticket=…`, Auth0's link shape), so Fastify's request log lines, which
 * hold the full URL, are turned off for them (src/http/app.ts) and
 * `ticketRoutes` logs each one itself with the path only.
 */
export function isTicketPageUrl(url: string | undefined): boolean {
  const path = (url ?? '').split('?')[0];
  return path === TICKET_PAGES.password_change || path === TICKET_PAGES.email_verification;
}

/** The form token: HMAC over the ticket (hash) and the browser's binding cookie. */
const formUid = (token: string, binding: string) => `ticket:${hashTicketToken(token)}:${binding}`;

/** result_url with Auth0's outcome parameters added (its own query kept). */
function resultRedirect(resultUrl: string, params: Record<string, string>): string {
  const url = new URL(resultUrl);
  for (const [key, value] of Object.entries(params)) url.searchParams.set(key, value);
  return url.toString();
}

/**
 * The pages a Management API ticket opens: `GET/POST /u/reset-password`
 * (the new password twice) and `GET /u/email-verification`. Every outcome
 * is published on the event bus (scp / fcp, sv / fv) before the answer; an
 * unknown, expired or used link gets one and the same page.
 */
export async function ticketRoutes(app: FastifyInstance, options: TicketRoutesOptions): Promise<void> {
  const { tickets, events } = options;
  acceptFormBodies(app, { bodyLimit: 16 * 1024 });

  // The request log line Fastify does not write for these pages (isTicketPageUrl): no query string.
  app.addHook('onResponse', function logTicketRequest(request, reply, done) {
    if (isTicketPageUrl(request.url)) {
      request.log.info({ method: request.method, path: request.url.split('?')[0], remoteAddress: request.ip, statusCode: reply.statusCode, responseTime: reply.elapsedTime }, 'request completed');
    }
    done();
  });

  function publish(request: FastifyRequest, type: LogEventType, kind: TicketKind, subject: TicketSubject | undefined, details: Record<string, unknown> = {}): Promise<void> {
    const { tenant } = request.tenantContext as RequestTenant;
    const userAgent = request.headers['user-agent'];
    return events.publish({
      tenantId: tenant.id,
      type,
      ip: request.ip,
      userAgent: typeof userAgent === 'string' ? userAgent.slice(0, 512) : undefined,
      clientId: subject?.ticket.clientId ?? undefined,
      userId: subject?.user.user_id,
      userName: subject?.user.email ?? subject?.user.username ?? undefined,
      connection: subject?.connection?.name,
      connectionId: subject?.connection?.id,
      strategy: subject?.connection?.strategy,
      details: { ticket: kind, ...details },
    });
  }

  /** The one answer to an unusable link; the log says which case it was. */
  async function invalidLink(request: FastifyRequest, reply: FastifyReply, kind: TicketKind, token: string): Promise<FastifyReply> {
    const { tenant } = request.tenantContext as RequestTenant;
    const found = await tickets.inspect(tenant.id, kind, token);
    await publish(request, kind === 'password_change' ? 'fcp' : 'fv', kind, found.subject, { error: 'invalid_ticket', ticket_state: found.state });
    return sendPage(reply, 400, (nonce) => errorPage(brandingOf(tenant), nonce, 'Link not valid', 'This link is not valid: it may have expired or have been used already. Ask for a new one.'));
  }

  function refused(reply: FastifyReply, request: FastifyRequest): FastifyReply {
    const { tenant } = request.tenantContext as RequestTenant;
    return sendPage(reply, 403, (nonce) => errorPage(brandingOf(tenant), nonce, 'Request refused', 'This form was not submitted from this page. Open the link you received again.'));
  }

  /** Shows the form; `binding` is the browser's form cookie (set here when it has none). */
  function showForm(request: FastifyRequest, reply: FastifyReply, subject: TicketSubject, token: string, status: number, error: string | undefined): FastifyReply {
    const { tenant, issuer } = request.tenantContext as RequestTenant;
    let binding = cookieValue(request.headers.cookie, FORM_COOKIE);
    if (!binding || !BINDING_SHAPE.test(binding)) {
      binding = randomBytes(16).toString('base64url');
      // Lax, not Strict: the link is opened from a mail client (a cross-site navigation).
      reply.header('set-cookie', `${FORM_COOKIE}=${binding}; Path=${TICKET_PAGES.password_change}; Max-Age=3600; HttpOnly; SameSite=Lax${issuer.startsWith('https:') ? '; Secure' : ''}`);
    }
    const view = {
      action: TICKET_PAGES.password_change,
      csrf: csrfToken(options.formSecret(tenant.id), formUid(token, binding)),
      ticket: token,
      account: subject.user.email ?? subject.user.username ?? subject.user.user_id,
      minLength: passwordPolicyOf(subject.connection?.options ?? {}).minLength,
      error,
    };
    return sendPage(reply, status, (nonce) => resetPasswordPage(brandingOf(tenant), nonce, view));
  }

  app.get(TICKET_PAGES.password_change, async function showPasswordReset(request, reply) {
    const { tenant } = request.tenantContext as RequestTenant;
    const token = field((request.query as Record<string, unknown>).ticket);
    let subject: TicketSubject;
    try {
      subject = await tickets.open(tenant.id, 'password_change', token);
    } catch (error) {
      if (error instanceof TicketError) return invalidLink(request, reply, 'password_change', token);
      throw error;
    }
    return showForm(request, reply, subject, token, 200, undefined);
  });

  app.post(TICKET_PAGES.password_change, async function submitPasswordReset(request, reply) {
    const { tenant } = request.tenantContext as RequestTenant;
    const body = (request.body ?? {}) as Record<string, unknown>;
    const token = field(body.ticket);
    const binding = cookieValue(request.headers.cookie, FORM_COOKIE);
    if (!binding || !csrfValid(options.formSecret(tenant.id), formUid(token, binding), body.csrf)) return refused(reply, request);

    let subject: TicketSubject;
    try {
      subject = await tickets.open(tenant.id, 'password_change', token);
    } catch (error) {
      if (error instanceof TicketError) return invalidLink(request, reply, 'password_change', token);
      throw error;
    }
    const password = field(body.password);
    // A typo, not an attempt: re-shown without a log event.
    if (password !== field(body.confirm)) return showForm(request, reply, subject, token, 400, 'The two passwords do not match.');
    // The users service applies the connection's policy and breached password detection (pwd_leak), and revokes tokens.
    try {
      await tickets.resetPassword(tenant.id, token, password);
    } catch (error) {
      if (error instanceof TicketError || (error instanceof UserError && (error.code === 'user_not_found' || error.code === 'not_database_user'))) {
        return invalidLink(request, reply, 'password_change', token);
      }
      if (error instanceof UserError) {
        await publish(request, 'fcp', 'password_change', subject, { error: error.code });
        return showForm(request, reply, subject, token, 400, error.message);
      }
      throw error;
    }
    await publish(request, 'scp', 'password_change', subject);
    const email = subject.user.email;
    if (subject.ticket.resultUrl) {
      return reply.redirect(resultRedirect(subject.ticket.resultUrl, { ...(subject.ticket.includeEmail && email ? { email } : {}), success: 'true', message: RESET_DONE }), 303);
    }
    return sendPage(reply, 200, (nonce) => ticketDonePage(brandingOf(tenant), nonce, 'Password changed', 'Your password has been changed. You can now log in with your new password.'));
  });

  /**
   * Verifies on GET, as Auth0's link does. (A mail scanner that fetches
   * links will use the ticket up; the verification still happened.)
   */
  app.get(TICKET_PAGES.email_verification, async function verifyEmail(request, reply) {
    const { tenant } = request.tenantContext as RequestTenant;
    const token = field((request.query as Record<string, unknown>).ticket);
    let subject: TicketSubject;
    try {
      subject = await tickets.verifyEmail(tenant.id, token);
    } catch (error) {
      if (error instanceof TicketError) return invalidLink(request, reply, 'email_verification', token);
      throw error;
    }
    await publish(request, 'sv', 'email_verification', subject);
    const email = subject.user.email;
    if (subject.ticket.resultUrl) {
      return reply.redirect(resultRedirect(subject.ticket.resultUrl, { ...(subject.ticket.includeEmail && email ? { email } : {}), success: 'true', code: 'success', message: VERIFIED }), 302);
    }
    return sendPage(reply, 200, (nonce) => ticketDonePage(brandingOf(tenant), nonce, 'Email verified', 'Your email address has been verified. You can continue using the application.'));
  });
}
