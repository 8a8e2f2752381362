import type { Logger } from 'pino';
import type { Config } from './config/config.js';
import { verifyMasterKey } from './crypto/master-key-check.js';
import { resolveMasterKey } from './crypto/master-key.js';
import { SecretBox } from './crypto/secret-box.js';
import { createApp, type App } from './http/app.js';
import { createLogStreamMetrics } from './logstreams/metrics.js';
import { createServices, type Services } from './services.js';
import type { Database } from './storage/database.js';
import { migrateToLatest } from './storage/migrate.js';
import { openDatabase } from './storage/open.js';
import { startWorker } from './worker/worker.js';

/** Opens the database, migrates it and checks the master key: what every command needs first. */
export async function openStorage(config: Config, logger: Logger): Promise<{ database: Database; secretBox: SecretBox }> {
  const secretBox = new SecretBox(resolveMasterKey(config, logger));
  const database = await openDatabase(config, { logger });
  try {
    const applied = await migrateToLatest(database);
    if (applied.length > 0) logger.info({ migrations: applied }, 'applied database migrations');
    await verifyMasterKey(database, secretBox);
  } catch (error) {
    await database.close();
    throw error;
  }
  return { database, secretBox };
}

export interface RunningServer {
  readonly app: App;
  readonly url: string;
  /** Stops accepting, drains in-flight requests, stops jobs, closes the pool. */
  close(): Promise<void>;
}

/**
 * Starts a node: storage, the default tenant (created on first run), the HTTP
 * server for the role, and the worker jobs for the role.
 */
export async function startServer(config: Config, logger: Logger): Promise<RunningServer> {
  const { database, secretBox } = await openStorage(config, logger);
  let app: App | undefined;
  let worker: { stop(): Promise<void> } | undefined;
  try {
    app = createApp(config, { database, logger, secretBox });
    const { tenant, created } = await app.services.tenants.ensureDefault();
    if (created) logger.info({ tenant: tenant.name }, 'created the default tenant with its signing keys');
    const moved = await app.services.tenants.syncIssuers();
    if (moved.length > 0) logger.warn({ tenants: moved }, 'issuer changed (PUBLIC_URL or scheme/port): updated domains and Management API audiences');
    await app.services.keys.load(tenant.id);
    app.readiness.markKeysLoaded();
    const logStreams = { service: app.services.logStreams, settings: config.logStreams, metrics: createLogStreamMetrics(app.metrics.registry) };
    worker = config.role === 'api' ? undefined : startWorker({ database, logger, runtime: app.services.runtime, intervalMs: config.sweepIntervalMs, logRetentionDays: config.logRetentionDays, logStreams });
    await app.app.listen({ port: config.port, host: config.host });
    const address = app.app.server.address();
    const port = typeof address === 'object' && address ? address.port : config.port;
    const scheme = config.tls ? 'https' : 'http';
    const running = app;
    const jobs = worker;
    return {
      app,
      url: `${scheme}://127.0.0.1:${port}`,
      async close() {
        running.readiness.markDraining();
        await running.app.close();
        await jobs?.stop();
        await database.close();
      },
    };
  } catch (error) {
    // The worker's jobs hold timers: stop them, or a server that could not listen never exits.
    await worker?.stop().catch(() => undefined);
    await app?.app.close().catch(() => undefined);
    await database.close().catch(() => undefined);
    throw error;
  }
}

/** Services without HTTP, for CLI commands. */
export async function openServices(config: Config, logger: Logger): Promise<{ services: Services; database: Database }> {
  const { database, secretBox } = await openStorage(config, logger);
  return { services: createServices(config, { database, secretBox }), database };
}
