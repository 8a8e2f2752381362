import { parseCidr } from './ssrf.js';

/** How the worker role delivers log streams (LOG_STREAM_* settings, docs/log-streams.md). */
export interface LogStreamSettings {
  /** Loopback/private ranges stream targets may use (the SSRF guard refuses them otherwise). */
  readonly allowedCidrs: readonly string[];
  /** Most events per delivery (one HTTP request, or one pipelined JetStream publish). */
  readonly batchSize: number;
  /** How long a partial batch waits for more events (from its oldest event's date). */
  readonly lingerMs: number;
  /** How often an idle stream looks for new events, and the scheduler for streams to claim. */
  readonly pollIntervalMs: number;
  /** Timeout of one delivery (connect + send + answer). */
  readonly requestTimeoutMs: number;
  /** How long a worker's claim on a stream lasts without renewal (a dead worker's expires). */
  readonly leaseMs: number;
  readonly retryBaseMs: number;
  readonly retryMaxMs: number;
  /** A stream failing continuously for this long is suspended. */
  readonly suspendAfterMs: number;
  /** Streams one worker node delivers at once. */
  readonly maxConcurrent: number;
}

/** LOG_STREAM_ALLOWED_CIDRS: comma-separated CIDRs; throws a message naming the bad entry. */
export function parseAllowedCidrs(value: string): string[] {
  const entries = value.split(',').map((s) => s.trim()).filter(Boolean);
  for (const entry of entries) parseCidr(entry);
  return entries;
}

export const DEFAULT_LOG_STREAM_SETTINGS: LogStreamSettings = {
  allowedCidrs: [],
  batchSize: 200,
  lingerMs: 200,
  pollIntervalMs: 500,
  requestTimeoutMs: 10_000,
  leaseMs: 30_000,
  retryBaseMs: 1000,
  retryMaxMs: 300_000,
  suspendAfterMs: 7 * 24 * 3600_000,
  maxConcurrent: 32,
};
