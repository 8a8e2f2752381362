import type { FastifyInstance } from 'fastify';
import type { Database } from '../storage/database.js';
import { pendingMigrations } from '../storage/migrate.js';

export interface ReadinessOptions {
  readonly database: Database;
  readonly pingTimeoutMs: number;
}

export interface ReadinessReport {
  readonly ready: boolean;
  readonly reason?: string;
  readonly checks: Readonly<Record<'database' | 'migrations' | 'keys', 'ok' | 'failing' | 'unknown'>>;
}

/**
 * What /readyz reports: the database answers, this code's migrations are all
 * applied, and the signing keys were loaded. Draining (shutdown) makes the
 * node unready at once so a load balancer stops sending it traffic.
 */
export class Readiness {
  #keysLoaded = false;
  #migrationsCurrent = false;
  #draining = false;

  constructor(private readonly options: ReadinessOptions) {}

  markKeysLoaded(): void {
    this.#keysLoaded = true;
  }

  markDraining(): void {
    this.#draining = true;
  }

  get draining(): boolean {
    return this.#draining;
  }

  async check(): Promise<ReadinessReport> {
    const checks: Record<'database' | 'migrations' | 'keys', 'ok' | 'failing' | 'unknown'> = { database: 'unknown', migrations: 'unknown', keys: this.#keysLoaded ? 'ok' : 'failing' };
    if (this.#draining) return { ready: false, reason: 'shutting down', checks };
    try {
      await this.options.database.ping(this.options.pingTimeoutMs);
      checks.database = 'ok';
    } catch (error) {
      checks.database = 'failing';
      return { ready: false, reason: `database unreachable: ${(error as Error).message}`, checks };
    }
    if (!this.#migrationsCurrent) {
      // Once current, this code's migrations cannot become un-applied.
      const pending = await pendingMigrations(this.options.database).catch(() => ['(unknown)']);
      this.#migrationsCurrent = pending.length === 0;
      if (!this.#migrationsCurrent) {
        checks.migrations = 'failing';
        return { ready: false, reason: `migrations pending: ${pending.join(', ')}`, checks };
      }
    }
    checks.migrations = 'ok';
    if (!this.#keysLoaded) return { ready: false, reason: 'signing keys not loaded', checks };
    return { ready: true, checks };
  }
}

export function installHealth(app: FastifyInstance, readiness: Readiness): void {
  app.get('/healthz', { logLevel: 'warn' }, async function liveness() {
    return { status: 'ok' };
  });

  app.get('/readyz', { logLevel: 'warn' }, async function readinessProbe(_request, reply) {
    const report = await readiness.check();
    reply.header('cache-control', 'no-store');
    if (!report.ready) return reply.code(503).send({ status: 'unavailable', reason: report.reason, checks: report.checks });
    return { status: 'ready', checks: report.checks };
  });
}
