import type { Logger } from 'pino';
import { Counter as PromCounter, Gauge, type Registry } from 'prom-client';
import type { Config } from '../config/config.js';
import type { EventBus } from '../events/bus.js';
import { redactUrl } from '../storage/redact-url.js';
import type { Database } from '../storage/database.js';
import type { Runtime } from '../storage/runtime.js';
import { memoryCounterStore, redisCounterStore, type CounterStore } from './counters.js';
import { attackProtection, type AttackProtection, type BlockedKind } from './service.js';

export interface ProtectionSetupDeps {
  readonly database: Database;
  readonly runtime: Runtime;
  readonly events: EventBus;
  readonly logger: Logger;
  readonly registry: Registry;
  readonly onBlocked: (kind: BlockedKind) => void;
}

const FALLBACK_LOG_INTERVAL_MS = 10_000;

/**
 * Builds attack protection on the counter store the configuration asks
 * for: Redis when REDIS_URL is set, process memory otherwise. A Redis
 * failure is never silent (decision 013): an error log at most every 10 s,
 * `portcullis_protection_counter_fallbacks_total`, and
 * `portcullis_protection_counter_store_degraded` at 1 until Redis answers again.
 */
export function createProtection(config: Config, deps: ProtectionSetupDeps): AttackProtection {
  const fallbacks = new PromCounter({ name: 'portcullis_protection_counter_fallbacks_total', help: 'Attack-protection counter operations answered by the per-node memory store because Redis failed', registers: [deps.registry] });
  let lastLog = 0;
  let store: CounterStore;
  // The worker role answers no login: it keeps no counters to share.
  if (config.redisUrl && config.role !== 'worker') {
    const where = redactUrl(config.redisUrl);
    store = redisCounterStore({
      url: config.redisUrl,
      keyPrefix: config.attackProtection.redisKeyPrefix,
      commandTimeoutMs: config.attackProtection.redisCommandTimeoutMs,
      onFallback(error) {
        fallbacks.inc();
        const now = Date.now();
        if (now - lastLog < FALLBACK_LOG_INTERVAL_MS) return;
        lastLog = now;
        deps.logger.error({ err: error, redis: where }, 'Redis unreachable: attack-protection counters fall back to this node\'s memory (limits hold per node, not across nodes)');
      },
      onRecovered() {
        lastLog = 0;
        deps.logger.warn({ redis: where }, 'Redis answers again: attack-protection counters are shared again');
      },
    });
  } else {
    store = memoryCounterStore();
  }
  new Gauge({
    name: 'portcullis_protection_counter_store_degraded',
    help: '1 while Redis fails and attack-protection counters are kept per node in memory; 0 otherwise',
    registers: [deps.registry],
    collect() {
      this.set(store.degraded() ? 1 : 0);
    },
  });
  if (!config.attackProtection.enabled) deps.logger.warn('ATTACK_PROTECTION=off: no brute-force protection, IP throttling, breached-password check nor rate limit (meant for the benchmark baseline only)');
  return attackProtection({
    enabled: config.attackProtection.enabled,
    counters: store,
    events: deps.events,
    database: deps.database,
    runtime: deps.runtime,
    bruteForceWindowSeconds: config.attackProtection.bruteForceWindowSeconds,
    rateLimits: config.attackProtection.rateLimits,
    cacheTtlMs: config.tenantCacheTtlMs,
    onBlocked: deps.onBlocked,
  });
}
