import { z } from 'zod';
import { urlProblem } from '../clients/urls.js';
import { HttpError } from '../http/errors.js';
import { TicketError } from '../tickets/errors.js';
import { MAX_TICKET_TTL_SECONDS, ticketsService, ticketUrl } from '../tickets/service.js';
import type { ManagementDeps } from './plugin.js';
import type { ManagementRouter } from './route.js';
import { userNotFound } from './user-relations.js';

/** Where the user goes once the ticket is used: checked like an application's callback URLs (https, no wildcard, no fragment). */
const resultUrl = z
  .string()
  .max(2048)
  .superRefine((value, ctx) => {
    const problem = urlProblem(value, 'callback');
    if (problem) ctx.addIssue({ code: 'custom', message: `result_url ${problem}` });
  });

/** Seconds; 0 means Auth0's default (5 days). */
const ttlSec = z.number().int().min(0).max(MAX_TICKET_TTL_SECONDS);
const id = z.string().min(1).max(256);

const passwordChangeBody = z
  .strictObject({
    user_id: id.optional(),
    connection_id: id.optional(),
    email: z.string().min(1).max(254).optional(),
    result_url: resultUrl.optional(),
    client_id: id.optional(),
    ttl_sec: ttlSec.optional(),
    mark_email_as_verified: z.boolean().optional(),
    includeEmailInRedirect: z.boolean().optional(),
  })
  .superRefine((body, ctx) => {
    // Auth0: the user is named by user_id, or by connection_id and email — never both ways.
    if (body.user_id !== undefined && (body.connection_id !== undefined || body.email !== undefined)) {
      ctx.addIssue({ code: 'custom', path: ['user_id'], message: 'user_id cannot be sent with connection_id or email' });
    } else if (body.user_id === undefined && (body.connection_id === undefined || body.email === undefined)) {
      ctx.addIssue({ code: 'custom', path: [body.connection_id === undefined ? 'connection_id' : 'email'], message: 'user_id, or connection_id and email, are required' });
    }
  });

const emailVerificationBody = z
  .strictObject({
    user_id: id,
    result_url: resultUrl.optional(),
    client_id: id.optional(),
    ttl_sec: ttlSec.optional(),
    includeEmailInRedirect: z.boolean().optional(),
    identity: z.strictObject({ user_id: id, provider: z.string().min(1).max(128), connection_id: id.optional() }).optional(),
  })
  .superRefine((body, ctx) => {
    // Auth0: result_url cannot be specified when using client_id.
    if (body.result_url !== undefined && body.client_id !== undefined) ctx.addIssue({ code: 'custom', path: ['result_url'], message: 'result_url cannot be sent with client_id' });
  });

const ticketSchema = z.object({ ticket: z.string() });

/** A tickets-service refusal as the Management API answers it. */
function asHttp(error: unknown): unknown {
  if (!(error instanceof TicketError)) return error;
  switch (error.code) {
    case 'user_not_found':
      return userNotFound();
    case 'connection_not_found':
      return new HttpError(404, error.message, 'inexistent_connection');
    case 'client_not_found':
      return new HttpError(404, error.message, 'inexistent_client');
    case 'not_database_user':
      return new HttpError(400, error.message, 'operation_not_supported');
    default:
      return new HttpError(400, error.message, 'invalid_body');
  }
}

/** `POST /api/v2/tickets/password-change` and `/tickets/email-verification`: one-time links to the pages of src/tickets/routes.ts. */
export function registerTicketRoutes(router: ManagementRouter, deps: ManagementDeps): void {
  const tickets = ticketsService(deps.database, deps.services.runtime, deps.services.users);

  router.add({
    method: 'POST',
    path: '/tickets/password-change',
    summary: 'Create a password change ticket',
    scopes: ['create:user_tickets'],
    body: passwordChangeBody,
    status: 201,
    audit: 'Create a password change ticket',
    response: ticketSchema,
    async handler({ body, tenant, issuer }) {
      const issued = await tickets
        .issuePasswordChange({
          tenantId: tenant.id,
          userId: body.user_id,
          connectionId: body.connection_id,
          email: body.email,
          resultUrl: body.result_url,
          clientId: body.client_id,
          ttlSeconds: body.ttl_sec,
          markEmailVerified: body.mark_email_as_verified,
          includeEmail: body.includeEmailInRedirect,
        })
        .catch((error: unknown) => Promise.reject(asHttp(error)));
      return { ticket: ticketUrl(issuer, 'password_change', issued.token) };
    },
  });

  router.add({
    method: 'POST',
    path: '/tickets/email-verification',
    summary: 'Create an email verification ticket',
    scopes: ['create:user_tickets'],
    body: emailVerificationBody,
    status: 201,
    audit: 'Create an email verification ticket',
    response: ticketSchema,
    async handler({ body, tenant, issuer }) {
      const identity = body.identity && { userId: body.identity.user_id, provider: body.identity.provider, connectionId: body.identity.connection_id };
      const issued = await tickets
        .issueEmailVerification({ tenantId: tenant.id, userId: body.user_id, resultUrl: body.result_url, clientId: body.client_id, ttlSeconds: body.ttl_sec, includeEmail: body.includeEmailInRedirect, identity })
        .catch((error: unknown) => Promise.reject(asHttp(error)));
      return { ticket: ticketUrl(issuer, 'email_verification', issued.token) };
    },
  });
}
