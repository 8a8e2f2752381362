import type { LogEvent } from '../../logs/store.js';

/** Where a stream's events go. One instance per stream run; `deliver` is never called concurrently. */
export interface Sink {
  /** Delivers events in order; resolves once the receiver accepted all of them, rejects with DeliveryError otherwise. */
  deliver(events: readonly LogEvent[], signal: AbortSignal): Promise<void>;
  close(): Promise<void>;
}

/** A bounded set of failure kinds (a metric label): never a receiver's text. */
export type FailureReason = 'http_3xx' | 'http_4xx' | 'http_5xx' | 'timeout' | 'network' | 'refused' | 'nats' | 'config';

/** A failed delivery. The message names the target's host, never a secret, path or query. */
export class DeliveryError extends Error {
  readonly code = 'DELIVERY_FAILED';
  constructor(
    readonly reason: FailureReason,
    message: string,
  ) {
    super(message);
    this.name = 'DeliveryError';
  }
}

/**
 * One event as a receiver gets it: Auth0's log-stream record, `log_id` (the
 * stable id a receiver drops duplicates by) and `data`, the event in the
 * shape of `GET /api/v2/logs` (fields without a value left out).
 */
export function streamRecord(event: LogEvent): { log_id: string; data: Record<string, unknown> } {
  const data = Object.fromEntries(Object.entries(event).filter(([, value]) => value !== null));
  return { log_id: event.log_id, data };
}
