import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import Fastify, { LogController, type FastifyInstance, type FastifyServerOptions } from 'fastify';
import type { Logger } from 'pino';
import type { Config } from '../config/config.js';
import type { SecretBox } from '../crypto/secret-box.js';
import { ProviderRegistry } from '../oauth/provider-registry.js';
import { EventBus } from '../events/bus.js';
import { passwordAuthenticator } from '../login/authenticator.js';
import { createServices, type Services } from '../services.js';
import type { Database } from '../storage/database.js';
import type { Runtime } from '../storage/runtime.js';
import { TenantResolver } from '../tenants/resolver.js';
import { tenantRoutes } from '../tenants/routes.js';
import { tenantsStore } from '../tenants/store.js';
import { tenantStores } from '../tenants/tenant-stores.js';
import { isTicketPageUrl } from '../tickets/routes.js';
import { installErrorHandling } from './errors.js';
import { installHealth, Readiness } from './health.js';
import { lazyChildLogger } from './logger.js';
import { createMetrics, installMetrics, observeSecurityEvents, type Metrics } from './metrics.js';
import { LogWriter } from '../logs/writer.js';
import { installGracefulClose } from './graceful-close.js';
import { installResponseHeaders } from './security-headers.js';
import { createProtection } from '../protection/setup.js';
import type { AttackProtection } from '../protection/service.js';
import type { PasswordScreen } from '../users/service.js';

export interface AppDeps {
  readonly database: Database;
  readonly logger: Logger;
  readonly secretBox: SecretBox;
  readonly runtime?: Runtime;
}

export interface App {
  readonly app: FastifyInstance;
  readonly services: Services;
  readonly readiness: Readiness;
  readonly resolver: TenantResolver;
  readonly metrics: Metrics;
  readonly registry: ProviderRegistry;
  /** Authentication events (the logs capability subscribes). */
  readonly events: EventBus;
  /** The bus's durable listener, unless SECURITY_EVENTS=off. */
  readonly logWriter: LogWriter | undefined;
  /** Attack protection: brute force, suspicious IPs, breached passwords, rate limits (src/protection). */
  readonly protection: AttackProtection;
}

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** Accepts a caller's X-Request-Id when it is short and plain, else makes one. */
function requestId(header: string | string[] | undefined): string {
  return typeof header === 'string' && REQUEST_ID.test(header) ? header : randomUUID();
}

/**
 * The composition root: builds services, then the HTTP surface, from config
 * and injected dependencies. Nothing here is a module-level singleton, so
 * tests can build as many independent apps as they like.
 */
export function createApp(config: Config, deps: AppDeps): App {
  // Breached-password detection needs the event bus, built below; the users service reaches it through this.
  let screenPassword: PasswordScreen = async () => undefined;
  const services = createServices(config, { ...deps, passwordScreen: (input) => screenPassword(input) });
  const readiness = new Readiness({ database: deps.database, pingTimeoutMs: config.databaseConnectTimeoutMs });
  const metrics = createMetrics(deps.database);
  const resolver = new TenantResolver({
    publicHost: config.publicHost,
    ttlMs: config.tenantCacheTtlMs,
    load: async () => {
      const store = tenantsStore(deps.database.db, services.runtime);
      const [tenants, domains] = await Promise.all([store.list(), store.listDomains()]);
      return { tenants, domains };
    },
  });

  const events = new EventBus((error, event) => deps.logger.error({ err: error, event }, 'event listener failed'));
  const logError = (message: string, error: unknown) => deps.logger.error({ err: error }, message);
  // Every security event is committed before its request is answered (decision 011).
  const logWriter = config.securityEvents ? new LogWriter({ database: deps.database, runtime: services.runtime, factsTtlMs: config.tenantCacheTtlMs, onBatch: metrics.security.batch }) : undefined;
  if (logWriter) events.onDurable(logWriter.write);
  else deps.logger.warn('SECURITY_EVENTS=off: security events are NOT recorded (meant for the benchmark baseline only)');
  observeSecurityEvents(metrics, events);
  const protection = createProtection(config, { database: deps.database, runtime: services.runtime, events, logger: deps.logger, registry: metrics.registry, onBlocked: (kind) => metrics.security.blockedAttempt(kind) });
  screenPassword = protection.breached.screen;
  // A successful password change (reset ticket, /dbconnections/change_password…) releases the user's brute-force blocks.
  events.observe((event) => (event.type === 'scp' && event.userId ? protection.releaseUser(event.tenantId, event.userId, 'password change').then(() => undefined) : undefined));
  const registry = new ProviderRegistry({
    checkIntervalMs: config.tenantCacheTtlMs,
    versions: () => tenantsStore(deps.database.db, services.runtime).configVersions(),
    build: async (tenant, issuer) => {
      // Loaded on first use: CLI commands and worker-only nodes never load the engine.
      const { createTenantProvider } = await import('../oauth/provider-factory.js');
      // The tenant as stored now: the request's copy comes from the host map, which
      // may predate the settings change that triggered this rebuild.
      tenant = (await tenantsStore(deps.database.db, services.runtime).findById(tenant.id)) ?? tenant;
      const keys = await services.keys.load(tenant.id);
      const provider = createTenantProvider({ config, database: deps.database, runtime: services.runtime, secretBox: deps.secretBox, clients: services.clients, users: services.users, events, logError, protection }, tenant, issuer, keys);
      return { provider, jwks: keys.jwks };
    },
  });

  const options: FastifyServerOptions & { https?: { cert: Buffer; key: Buffer } } = {
    loggerInstance: deps.logger,
    bodyLimit: config.bodyLimitBytes,
    trustProxy: config.trustProxy as FastifyServerOptions['trustProxy'],
    genReqId: (request) => requestId(request.headers['x-request-id']),
    childLoggerFactory: (logger, bindings) => lazyChildLogger(logger as Logger, bindings),
    return503OnClosing: true,
    // Ticket links carry their one-time token in the URL: those requests log themselves without it (src/tickets/routes.ts).
    logController: new LogController({ disableRequestLogging: (request) => isTicketPageUrl(request.url) }),
    routerOptions: { ignoreTrailingSlash: false },
    ...(config.tls ? { https: { cert: readFileSync(config.tls.certFile), key: readFileSync(config.tls.keyFile) } } : {}),
  };
  const app = Fastify(options) as unknown as FastifyInstance;

  installGracefulClose(app, readiness);
  installResponseHeaders(app);
  installErrorHandling(app);
  installMetrics(app, metrics);
  installHealth(app, readiness);
  if (config.role !== 'worker') {
    app.register(tenantRoutes, {
      config,
      resolver,
      registry,
      authenticator: passwordAuthenticator(services.users, deps.database, services.runtime, protection),
      events,
      formSecret: (tenantId) => deps.secretBox.deriveSecret(`login-form:${tenantId}`),
      users: services.users,
      allowedLogoutUrls: async (tenantId, clientId) => {
        const client = await tenantStores(deps.database.db, tenantId, services.runtime).clients.findById(clientId);
        if (!client) return undefined;
        const urls = client.config.allowed_logout_urls;
        return Array.isArray(urls) ? urls.filter((u): u is string => typeof u === 'string') : [];
      },
      clientExists: async (tenantId, clientId) => (await tenantStores(deps.database.db, tenantId, services.runtime).clients.findById(clientId)) !== undefined,
      management: { database: deps.database, services, events, protection },
      describeApi: (tenantId, identifier) => tenantStores(deps.database.db, tenantId, services.runtime).resourceServers.findByIdentifier(identifier),
      isFirstParty: async (tenantId, clientId) => (await tenantStores(deps.database.db, tenantId, services.runtime).clients.findById(clientId))?.isFirstParty ?? false,
    });
  }
  app.addHook('onClose', () => protection.counters.close());
  return { app, services, readiness, resolver, metrics, registry, events, logWriter, protection };
}
