import type { FastifyError, FastifyInstance } from 'fastify';
import type { EventBus } from '../events/bus.js';
import { errorBody, HttpError } from '../http/errors.js';
import type { ProviderRegistry } from '../oauth/provider-registry.js';
import type { AttackProtection } from '../protection/service.js';
import type { Services } from '../services.js';
import type { Database } from '../storage/database.js';
import type { RequestTenant } from '../tenants/routes.js';
import { managementAudit } from './audit.js';
import { managementAuthenticator } from './auth.js';
import { registerAttackProtectionRoutes } from './attack-protection.js';
import { registerClientGrantRoutes } from './client-grants.js';
import { registerClientRoutes } from './clients.js';
import { registerConnectionRoutes } from './connections.js';
import { registerGrantRoutes } from './grants.js';
import { registerLogRoutes } from './logs.js';
import { registerLogStreamRoutes } from './log-streams.js';
import { openApiDocument } from './openapi.js';
import { registerResourceServerRoutes } from './resource-servers.js';
import { registerRoleRoutes } from './roles.js';
import { ManagementRouter } from './route.js';
import { registerSigningKeyRoutes } from './signing-keys.js';
import { registerStatsRoutes } from './stats.js';
import { registerTenantSettingsRoutes } from './tenant-settings.js';
import { registerTicketRoutes } from './tickets.js';
import { registerUserBlockRoutes } from './user-blocks.js';
import { registerUserRoutes } from './users.js';

export interface ManagementDeps {
  readonly registry: ProviderRegistry;
  readonly database: Database;
  readonly services: Services;
  /** The security event bus (audit events, user deletion events). */
  readonly events: EventBus;
  /** Attack protection (settings, user blocks, IP blocks, breached-password and block release on password change). */
  readonly protection: AttackProtection;
}

/** A resource module: adds its routes to the router. */
export type ResourceModule = (router: ManagementRouter, deps: ManagementDeps) => void;

const RESOURCES: readonly ResourceModule[] = [registerClientRoutes, registerResourceServerRoutes, registerRoleRoutes, registerClientGrantRoutes, registerConnectionRoutes, registerTenantSettingsRoutes, registerSigningKeyRoutes, registerLogRoutes, registerLogStreamRoutes, registerStatsRoutes, registerUserRoutes, registerGrantRoutes, registerTicketRoutes, registerAttackProtectionRoutes, registerUserBlockRoutes];

/**
 * The Management API v2 at /api/v2 (Auth0's paths and shapes), inside the
 * tenant scope: every request is for the tenant its Host names, with a
 * Bearer token that tenant issued for its Management API. Errors are Auth0's
 * `{ statusCode, error, message, errorCode }`; never a stack trace.
 */
export async function managementRoutes(app: FastifyInstance, deps: ManagementDeps): Promise<void> {
  app.setErrorHandler(function renderManagementError(error: FastifyError | HttpError, request, reply) {
    const status = typeof error.statusCode === 'number' && error.statusCode >= 400 && error.statusCode < 600 ? error.statusCode : 500;
    if (status >= 500) {
      request.log.error({ err: error }, 'management request failed');
      return reply.code(500).send(errorBody(500, 'An unexpected error occurred.'));
    }
    if (error instanceof HttpError) {
      if (status === 401) reply.header('www-authenticate', `Bearer error="invalid_token", error_description="${error.message}"`);
      return reply.code(status).send(errorBody(status, error.message, error.errorCode));
    }
    // Fastify's own 4xx: unparseable JSON, wrong content type, oversized body.
    const code = (error as FastifyError).code;
    if (code === 'FST_ERR_CTP_INVALID_JSON_BODY' || code === 'FST_ERR_CTP_EMPTY_JSON_BODY' || error instanceof SyntaxError) {
      return reply.code(400).send(errorBody(400, 'Invalid request payload JSON format', 'invalid_body'));
    }
    return reply.code(status).send(errorBody(status, error.message, code));
  });

  const router = new ManagementRouter(app, {
    authenticate: managementAuthenticator(async (tenant, issuer) => (await deps.registry.get(tenant, issuer)).verificationKeys),
    audit: managementAudit(deps.events),
  });
  for (const register of RESOURCES) register(router, deps);

  // The document is the same for every tenant but its server URL; built once.
  let document: Record<string, unknown> | undefined;
  app.get('/openapi.json', async function openApi(request, reply) {
    const { issuer } = request.tenantContext as RequestTenant;
    document ??= openApiDocument(router.routes, '');
    reply.header('cache-control', 'public, max-age=300');
    return { ...document, servers: [{ url: `${issuer}api/v2` }] };
  });
}
