import type { FastifyInstance } from 'fastify';
import { collectDefaultMetrics, Gauge, Registry, type Metric } from 'prom-client';
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

  return { registry, requestDuration };
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
