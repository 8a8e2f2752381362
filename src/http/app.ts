import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify';
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
import { installErrorHandling } from './errors.js';
import { installHealth, Readiness } from './health.js';
import { lazyChildLogger } from './logger.js';
import { createMetrics, installMetrics, type Metrics } from './metrics.js';
import { installGracefulClose } from './graceful-close.js';
import { installResponseHeaders } from './security-headers.js';

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
  const services = createServices(config, deps);
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
      const provider = createTenantProvider({ config, database: deps.database, runtime: services.runtime, secretBox: deps.secretBox, clients: services.clients, users: services.users, events, logError }, tenant, issuer, keys);
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
      authenticator: passwordAuthenticator(services.users, deps.database, services.runtime),
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
      management: { database: deps.database, services },
      describeApi: (tenantId, identifier) => tenantStores(deps.database.db, tenantId, services.runtime).resourceServers.findByIdentifier(identifier),
      isFirstParty: async (tenantId, clientId) => (await tenantStores(deps.database.db, tenantId, services.runtime).clients.findById(clientId))?.isFirstParty ?? false,
    });
  }
  return { app, services, readiness, resolver, metrics, registry, events };
}
