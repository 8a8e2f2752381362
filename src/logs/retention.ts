import type { Database } from '../storage/database.js';
import type { Runtime } from '../storage/runtime.js';
import { tenantsStore } from '../tenants/store.js';
import { purgeTenantLogsBefore } from './store.js';

const DAY_MS = 86_400_000;
/** Rows per DELETE: short statements, so logins writing meanwhile never wait long. */
export const PURGE_BATCH = 1000;
/** Upper bound on DELETEs per run (all tenants together); the rest waits for the next run. */
const MAX_BATCHES_PER_RUN = 50;

/**
 * Deletes each tenant's log events older than its retention
 * (`log_retention_days` in its settings, else `defaultDays`), in batches.
 * Safe on several worker nodes at once: a row is deleted once, by whichever
 * statement gets it. Returns how many were deleted.
 */
export async function purgeExpiredLogs(database: Database, runtime: Runtime, defaultDays: number, batch = PURGE_BATCH, maxBatches = MAX_BATCHES_PER_RUN): Promise<number> {
  const tenants = await tenantsStore(database.db, runtime).list();
  const now = runtime.now().getTime();
  let budget = maxBatches;
  let total = 0;
  for (const tenant of tenants) {
    const days = tenant.settings.log_retention_days ?? defaultDays;
    const cutOff = new Date(now - days * DAY_MS).toISOString();
    while (budget > 0) {
      budget -= 1;
      const deleted = await purgeTenantLogsBefore(database.db, tenant.id, cutOff, batch);
      total += deleted;
      if (deleted < batch) break;
    }
    if (budget === 0) break;
  }
  return total;
}
