import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { STREAM_STATUSES, type StreamStatus } from './store.js';

/**
 * Log-stream delivery metrics, on the app's registry (src/http/metrics.ts),
 * labelled by tenant and stream id (bounded: a tenant has a handful of
 * streams; a deleted stream's series are removed). A worker reports lag for
 * the streams it delivers and for those nobody is delivering (paused,
 * suspended, waiting to retry); with several workers, read lag with
 * `max by (tenant, stream)`.
 */
export function createLogStreamMetrics(registry: Registry) {
  const labelNames = ['tenant', 'stream'] as const;
  const lagEvents = new Gauge({ name: 'portcullis_log_stream_lag_events', help: 'Events of the tenant log not yet delivered by the stream', labelNames, registers: [registry] });
  const lagSeconds = new Gauge({ name: 'portcullis_log_stream_lag_seconds', help: 'Age of the oldest event not yet delivered by the stream (0 when caught up)', labelNames, registers: [registry] });
  const delivered = new Counter({ name: 'portcullis_log_stream_delivered_events_total', help: 'Events delivered by the stream (acknowledged by its sink)', labelNames, registers: [registry] });
  const failures = new Counter({ name: 'portcullis_log_stream_delivery_failures_total', help: 'Failed delivery attempts by stream and reason', labelNames: ['tenant', 'stream', 'reason'] as const, registers: [registry] });
  const status = new Gauge({ name: 'portcullis_log_stream_status', help: 'Stream status: 1 for the status the stream is in, 0 for the others', labelNames: ['tenant', 'stream', 'status'] as const, registers: [registry] });
  const batchDuration = new Histogram({
    name: 'portcullis_log_stream_delivery_duration_seconds',
    help: 'Time for a sink to accept one batch, by sink type and outcome',
    labelNames: ['type', 'outcome'] as const,
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
  const known = new Map<string, string>();

  return {
    lag(tenant: string, stream: string, events: number, seconds: number): void {
      lagEvents.set({ tenant, stream }, events);
      lagSeconds.set({ tenant, stream }, seconds);
    },
    delivered(tenant: string, stream: string, count: number): void {
      delivered.inc({ tenant, stream }, count);
    },
    failed(tenant: string, stream: string, reason: string): void {
      failures.inc({ tenant, stream, reason });
    },
    batch(type: string, outcome: 'delivered' | 'failed', seconds: number): void {
      batchDuration.observe({ type, outcome }, seconds);
    },
    status(tenant: string, stream: string, current: StreamStatus): void {
      known.set(stream, tenant);
      for (const s of STREAM_STATUSES) status.set({ tenant, stream, status: s }, s === current ? 1 : 0);
    },
    /** Drops lag series of a stream another worker delivers. */
    forgetLag(tenant: string, stream: string): void {
      lagEvents.remove({ tenant, stream });
      lagSeconds.remove({ tenant, stream });
    },
    /** Drops every series of streams that no longer exist. */
    retain(existing: ReadonlySet<string>): void {
      for (const [stream, tenant] of known) {
        if (existing.has(stream)) continue;
        known.delete(stream);
        lagEvents.remove({ tenant, stream });
        lagSeconds.remove({ tenant, stream });
        delivered.remove({ tenant, stream });
        for (const s of STREAM_STATUSES) status.remove({ tenant, stream, status: s });
      }
    },
  };
}

export type LogStreamMetrics = ReturnType<typeof createLogStreamMetrics>;
