import type { FastifyInstance } from 'fastify';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry, type Metric } from 'prom-client';
import type { EventBus, LogEventType, SecurityEvent } from '../events/bus.js';
import type { Database } from '../storage/database.js';
import { RouteDurationHistogram } from './route-histogram.js';

/**
 * A metrics registry per app instance (never prom-client's global one, so two
 * apps in one process — as in tests — do not share or clash).
 */
export function createMetrics(database: Database) {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'portcullis_' });

  const requestDuration = new RouteDurationHistogram(
    'portcullis_http_request_duration_seconds',
    'HTTP request duration by method, route and status code',
    [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
  );
  registry.registerMetric(requestDuration as unknown as Metric);

  new Gauge({
    name: 'portcullis_db_pool_connections',
    help: 'Database pool connections by state (total, idle, waiting clients)',
    labelNames: ['state'] as const,
    registers: [registry],
    collect() {
      const stats = database.poolStats();
      this.set({ state: 'total' }, stats.total);
      this.set({ state: 'idle' }, stats.idle);
      this.set({ state: 'waiting' }, stats.waiting);
    },
  });

  return { registry, requestDuration, security: securityMetrics(registry) };
}

/** Login outcomes by Auth0 type code; `result` says success or failure. */
const LOGIN_TYPES: Partial<Record<LogEventType, 'success' | 'failure'>> = { s: 'success', ssa: 'success', f: 'failure', fp: 'failure', fu: 'failure', fsa: 'failure' };
/** Token endpoint outcomes by grant. */
const TOKEN_TYPES: Partial<Record<LogEventType, readonly [grant: string, result: 'success' | 'failure']>> = {
  seacft: ['authorization_code', 'success'],
  feacft: ['authorization_code', 'failure'],
  seccft: ['client_credentials', 'success'],
  feccft: ['client_credentials', 'failure'],
  sertft: ['refresh_token', 'success'],
  fertft: ['refresh_token', 'failure'],
  ferrt: ['refresh_token', 'failure'],
  sepft: ['password', 'success'],
  fepft: ['password', 'failure'],
};

function securityMetrics(registry: Registry) {
  const events = new Counter({ name: 'portcullis_security_events_total', help: 'Security events published, by Auth0 log type code', labelNames: ['type'] as const, registers: [registry] });
  const logins = new Counter({ name: 'portcullis_logins_total', help: 'Logins by result and Auth0 type code (s, ssa; f, fp, fu, fsa)', labelNames: ['result', 'type'] as const, registers: [registry] });
  const tokens = new Counter({ name: 'portcullis_tokens_total', help: 'Token endpoint exchanges by grant and result', labelNames: ['grant', 'result'] as const, registers: [registry] });
  // Refused attempts, counted by attack protection itself (src/protection); the blocks it sets are the limit_wc / limit_mu events above.
  const blocked = new Counter({ name: 'portcullis_blocked_attempts_total', help: 'Attempts refused by attack protection, by kind: brute_force, suspicious_ip, rate_limit, breached_password', labelNames: ['kind'] as const, registers: [registry] });
  const batchSize = new Histogram({ name: 'portcullis_log_writer_batch_size', help: 'Events per log writer transaction (group commit)', buckets: [1, 2, 5, 10, 20, 50, 100, 200, 500], registers: [registry] });
  const commitSeconds = new Histogram({ name: 'portcullis_log_writer_commit_seconds', help: 'Duration of a log writer transaction', buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1], registers: [registry] });
  const failures = new Counter({ name: 'portcullis_log_writer_failures_total', help: 'Log writer transactions that failed (their publishers got an error)', registers: [registry] });
  const failedEvents = new Counter({ name: 'portcullis_log_writer_failed_events_total', help: 'Events in failed log writer transactions', registers: [registry] });
  return {
    observe(event: SecurityEvent): void {
      events.inc({ type: event.type });
      const login = LOGIN_TYPES[event.type];
      if (login) logins.inc({ result: login, type: event.type });
      const token = TOKEN_TYPES[event.type];
      if (token) tokens.inc({ grant: token[0], result: token[1] });
    },
    /** One attempt refused by attack protection. */
    blockedAttempt(kind: 'brute_force' | 'suspicious_ip' | 'rate_limit' | 'breached_password'): void {
      blocked.inc({ kind });
    },
    /** The log writer's report of one transaction. */
    batch(size: number, seconds: number, error?: unknown): void {
      batchSize.observe(size);
      commitSeconds.observe(seconds);
      if (error !== undefined) {
        failures.inc();
        failedEvents.inc(size);
      }
    },
  };
}

/** Counts every security event published on `bus` (an observer: never delays nor fails a publisher). */
export function observeSecurityEvents(metrics: Metrics, bus: EventBus): void {
  bus.observe((event) => metrics.security.observe(event));
}

export type Metrics = ReturnType<typeof createMetrics>;

export function installMetrics(app: FastifyInstance, metrics: Metrics): void {
  app.addHook('onResponse', function observeDuration(request, reply, done) {
    // The route pattern, not the raw URL, keeps label cardinality bounded.
    metrics.requestDuration.observe(request.method, request.routeOptions.url ?? 'unmatched', reply.statusCode, reply.elapsedTime / 1000);
    done();
  });

  app.get('/metrics', { logLevel: 'warn' }, async function serveMetrics(_request, reply) {
    reply.header('content-type', metrics.registry.contentType);
    return metrics.registry.metrics();
  });
}
