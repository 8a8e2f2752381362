import type { Logger } from 'pino';
import { startLogStreamDelivery, type DeliveryOptions } from '../logstreams/delivery.js';
import { purgeExpiredLogs } from '../logs/retention.js';
import { sweepExpiredArtifacts } from '../oauth/artifact-store.js';
import type { Database } from '../storage/database.js';
import { isoNow, type Runtime } from '../storage/runtime.js';

const SWEEP_BATCH = 1000;
/** Upper bound on batches per run, so one run never monopolises the database. */
const MAX_BATCHES_PER_RUN = 50;

export interface WorkerOptions {
  readonly database: Database;
  readonly logger: Logger;
  readonly runtime: Runtime;
  readonly intervalMs: number;
  /** Log retention for tenants whose settings do not say (LOG_RETENTION_DAYS); 30 days when absent. */
  readonly logRetentionDays?: number;
  /** Log-stream delivery (src/logstreams/delivery.ts); not run when absent. */
  readonly logStreams?: Omit<DeliveryOptions, 'database' | 'logger' | 'runtime'>;
}

/** Deletes expired protocol artifacts in batches; returns how many. */
export async function sweepOnce(database: Database, runtime: Runtime): Promise<number> {
  let total = 0;
  for (let i = 0; i < MAX_BATCHES_PER_RUN; i++) {
    const deleted = await sweepExpiredArtifacts(database.db, isoNow(runtime), SWEEP_BATCH);
    total += deleted;
    if (deleted < SWEEP_BATCH) break;
  }
  return total;
}

/**
 * The worker role's background jobs. Each job runs on its own timer, one run
 * at a time; a failing run is logged and retried at the next tick. Every job
 * is safe to run on several worker nodes at once (deletes are idempotent).
 */
export function startWorker(options: WorkerOptions): { stop(): Promise<void> } {
  let running: Promise<void> | undefined;
  const tick = () => {
    if (running) return;
    const sweep = sweepOnce(options.database, options.runtime)
      .then((deleted) => {
        if (deleted > 0) options.logger.info({ deleted }, 'swept expired protocol artifacts');
      })
      .catch((error: Error) => options.logger.warn({ reason: error.message }, 'artifact sweep failed; will retry'));
    const retention = purgeExpiredLogs(options.database, options.runtime, options.logRetentionDays ?? 30)
      .then((deleted) => {
        if (deleted > 0) options.logger.info({ deleted }, 'purged log events past their retention');
      })
      .catch((error: Error) => options.logger.warn({ reason: error.message }, 'log retention purge failed; will retry'));
    running = Promise.all([sweep, retention])
      .then(() => undefined)
      .finally(() => {
        running = undefined;
      });
  };
  const timer = setInterval(tick, options.intervalMs);
  const delivery = options.logStreams ? startLogStreamDelivery({ ...options.logStreams, database: options.database, logger: options.logger, runtime: options.runtime }) : undefined;
  timer.unref();
  setImmediate(tick);
  return {
    async stop() {
      clearInterval(timer);
      await Promise.all([running, delivery?.stop()]);
    },
  };
}
