import type { FastifyRequest } from 'fastify';
import { logsStore } from '../logs/store.js';
import type { Database } from '../storage/database.js';
import type { Runtime } from '../storage/runtime.js';
import type { RequestTenant } from '../tenants/routes.js';
import type { ManagementCaller } from './auth.js';
import type { ManagementRoute } from './route.js';

/**
 * The Management API's audit trail: one Auth0 log event per mutation —
 * `sapi` when it succeeded, `fapi` when it was refused — with the acting
 * client, its IP and user agent, the method, path and status. Bodies are not
 * recorded (they can hold passwords and secrets). The event is written before
 * the answer is sent, so an answered change is never missing from the log.
 */
export function managementAudit(database: Database, runtime: Runtime) {
  return async function audit(request: FastifyRequest, caller: ManagementCaller, route: ManagementRoute, outcome: { statusCode: number; error?: string }): Promise<void> {
    const { tenant } = request.tenantContext as RequestTenant;
    const failed = outcome.statusCode >= 400;
    const path = (request.raw.url ?? '').split('?')[0] ?? '';
    await logsStore(database.db, tenant.id, runtime).append({
      type: failed ? 'fapi' : 'sapi',
      description: route.audit ?? `${route.method} ${route.path}`,
      ip: request.ip,
      user_agent: typeof request.headers['user-agent'] === 'string' ? request.headers['user-agent'].slice(0, 512) : null,
      client_id: caller.clientId,
      details: {
        request: { method: request.method.toLowerCase(), path, channel: 'api' },
        response: { statusCode: outcome.statusCode, ...(outcome.error ? { body: { message: outcome.error } } : {}) },
      },
    });
  };
}
