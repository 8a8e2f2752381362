import type { FastifyInstance } from 'fastify';
import type { Config } from '../config/config.js';
import { errorBody } from '../http/errors.js';
import { managementRoutes, type ManagementDeps } from '../management/plugin.js';
import { managementAudience } from '../management/scopes.js';
import type { EventBus } from '../events/bus.js';
import { logoutRoutes } from '../login/logout-routes.js';
import { loginRoutes, type LoginRoutesOptions, type PasswordAuthenticator } from '../login/routes.js';
import type { ProviderRegistry } from '../oauth/provider-registry.js';
import type { UsersService } from '../users/service.js';
import { signupRoutes } from '../users/signup-routes.js';
import { installProtocolErrorHandling } from '../oauth/protocol-errors.js';
import { oauthRoutes } from '../oauth/routes.js';
import { installProtectionHooks } from '../protection/http-hooks.js';
import { ticketRoutes } from '../tickets/routes.js';
import { ticketsService } from '../tickets/service.js';
import { tenantIssuer } from './issuer.js';
import type { ResolvedTenant, TenantResolver } from './resolver.js';
import type { Tenant } from './store.js';

export interface RequestTenant {
  readonly tenant: Tenant;
  readonly issuer: string;
}

declare module 'fastify' {
  interface FastifyRequest {
    /** Set on tenant-scoped routes by the tenant-resolution hook. */
    tenantContext: RequestTenant | null;
  }
}

/**
 * Registers tenant-scoped routes. Every route in this plugin first resolves
 * the tenant from the Host header; an unknown host gets 404 and never reaches
 * a handler.
 */
export async function tenantRoutes(
  app: FastifyInstance,
  options: {
    config: Config;
    resolver: TenantResolver;
    registry: ProviderRegistry;
    authenticator: PasswordAuthenticator;
    events: EventBus;
    formSecret: (tenantId: string) => string;
    isFirstParty: (tenantId: string, clientId: string) => Promise<boolean>;
    describeApi: LoginRoutesOptions['describeApi'];
    users: UsersService;
    clientExists: (tenantId: string, clientId: string) => Promise<boolean>;
    allowedLogoutUrls: (tenantId: string, clientId: string) => Promise<readonly string[] | undefined>;
    management: Omit<ManagementDeps, 'registry'>;
  },
): Promise<void> {
  const { config, resolver } = options;
  app.decorateRequest('tenantContext', null);

  // Synchronous while the host map is fresh (every request but one per
  // TENANT_CACHE_TTL_MS); the reload is awaited otherwise.
  app.addHook('onRequest', function resolveTenant(request, reply, done) {
    const settle = (resolved: ResolvedTenant | undefined) => {
      if (!resolved) {
        reply.code(404).send(errorBody(404, `No tenant is configured for host "${request.headers.host ?? ''}"`, 'unknown_tenant'));
        return;
      }
      request.tenantContext = { tenant: resolved.tenant, issuer: tenantIssuer(config, resolved.tenant, resolved.primaryDomain) };
      done();
    };
    const cached = resolver.peek(request.headers.host);
    if (cached !== null) return settle(cached);
    resolver.resolve(request.headers.host).then(settle, done);
  });

  // The Authentication API and the login pages speak the protocol's error
  // language (RFC 6749) for malformed input, and refuse NUL characters in
  // parameters; the Management API (its own scope) answers Auth0's JSON errors.
  // Rate limits, signup throttling and the client IP for the password grants (after the tenant is known).
  if (options.config.attackProtection.enabled) installProtectionHooks(app, options.management.protection);

  await app.register(async function authenticationApi(protocol) {
    installProtocolErrorHandling(protocol);
    await protocol.register(oauthRoutes, { registry: options.registry });
    await protocol.register(logoutRoutes, { registry: options.registry, allowedLogoutUrls: options.allowedLogoutUrls, events: options.events });
    await protocol.register(signupRoutes, { users: options.users, clientExists: options.clientExists, events: options.events });
    await protocol.register(loginRoutes, { registry: options.registry, authenticator: options.authenticator, events: options.events, formSecret: options.formSecret, isFirstParty: options.isFirstParty, describeApi: options.describeApi });
    // Pages of Management API tickets (password reset, email verification).
    const tickets = ticketsService(options.management.database, options.management.services.runtime, options.users);
    await protocol.register(ticketRoutes, { tickets, events: options.events, formSecret: options.formSecret });

    protocol.get('/', async function tenantInfo(request) {
      const { tenant, issuer } = request.tenantContext as RequestTenant;
      return {
        tenant: tenant.name,
        friendly_name: tenant.settings.friendly_name ?? tenant.name,
        issuer,
        management_api_audience: managementAudience(issuer),
      };
    });
  });
  await app.register(managementRoutes, { prefix: '/api/v2', registry: options.registry, database: options.management.database, services: options.management.services, events: options.events, protection: options.management.protection });
}
