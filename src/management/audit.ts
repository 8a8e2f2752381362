import type { FastifyRequest } from 'fastify';
import type { EventBus } from '../events/bus.js';
import type { RequestTenant } from '../tenants/routes.js';
import type { ManagementCaller } from './auth.js';
import type { ManagementRoute } from './route.js';

/**
 * The Management API's audit trail: one Auth0 log event per mutation —
 * `sapi` when it succeeded, `fapi` when it was refused — with the acting
 * client, its IP and user agent, the method, path and status. Bodies are not
 * recorded (they can hold passwords and secrets). The event goes through the
 * security event bus and is committed before the answer is sent, so an
 * answered change is never missing from the log.
 */
export function managementAudit(events: EventBus) {
  return async function audit(request: FastifyRequest, caller: ManagementCaller, route: ManagementRoute, outcome: { statusCode: number; error?: string }): Promise<void> {
    const { tenant } = request.tenantContext as RequestTenant;
    const failed = outcome.statusCode >= 400;
    const path = (request.raw.url ?? '').split('?')[0] ?? '';
    await events.publish({
      tenantId: tenant.id,
      type: failed ? 'fapi' : 'sapi',
      description: route.audit ?? `${route.method} ${route.path}`,
      ip: request.ip,
      userAgent: typeof request.headers['user-agent'] === 'string' ? request.headers['user-agent'] : undefined,
      clientId: caller.clientId,
      details: {
        request: { method: request.method.toLowerCase(), path, channel: 'api' },
        response: { statusCode: outcome.statusCode, ...(outcome.error ? { body: { message: outcome.error } } : {}) },
      },
    });
  };
}
