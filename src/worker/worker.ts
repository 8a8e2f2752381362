import type { Logger } from 'pino';
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
    running = sweepOnce(options.database, options.runtime)
      .then((deleted) => {
        if (deleted > 0) options.logger.info({ deleted }, 'swept expired protocol artifacts');
      })
      .catch((error: Error) => options.logger.warn({ reason: error.message }, 'artifact sweep failed; will retry'))
      .finally(() => {
        running = undefined;
      });
  };
  const timer = setInterval(tick, options.intervalMs);
  timer.unref();
  setImmediate(tick);
  return {
    async stop() {
      clearInterval(timer);
      await running;
    },
  };
}
