import { randomUUID } from 'node:crypto';
import { setTimeout as sleepFor } from 'node:timers/promises';
import type { Logger } from 'pino';
import { logsStore } from '../logs/store.js';
import type { Database } from '../storage/database.js';
import type { Runtime } from '../storage/runtime.js';
import { retryDelayMs } from './backoff.js';
import { typeMatcher } from './categories.js';
import type { LogStreamMetrics } from './metrics.js';
import type { LogStreamsService } from './service.js';
import type { LogStreamSettings } from './settings.js';
import type { HttpSinkConfig, NatsSinkConfig } from './sink-config.js';
import { httpSink } from './sinks/http.js';
import { natsSink } from './sinks/nats.js';
import { DeliveryError, type Sink } from './sinks/sink.js';
import { deliveryStore, type StoredStream } from './store.js';

export interface DeliveryOptions {
  readonly database: Database;
  readonly service: LogStreamsService;
  readonly settings: LogStreamSettings;
  readonly logger: Logger;
  readonly runtime: Runtime;
  readonly metrics?: LogStreamMetrics;
  /** This worker's lease identity (default: a random one per start). */
  readonly nodeId?: string;
}

/** How often lag is refreshed for streams no worker is delivering. */
const IDLE_METRICS_MS = 5000;

/** Sleeps, or returns early (without throwing) when `signal` aborts. */
async function pause(ms: number, signal: AbortSignal): Promise<void> {
  if (signal.aborted || ms <= 0) return;
  await sleepFor(ms, undefined, { signal }).catch(() => undefined);
}

/**
 * Log-stream delivery, the worker role's job. The tenant log (log_events) is
 * the transactional outbox: an event is committed with the change it
 * records, and each stream's cursor (its last delivered tenant_seq) says
 * where delivery resumes — after a receiver outage, a worker crash or a
 * suspension.
 *
 * A scheduler claims active streams (an atomic lease with expiry, so one
 * worker node delivers a stream at a time and a dead worker's streams are
 * taken over when its lease runs out) and runs each one independently: a
 * slow or failing sink only ever holds up its own stream. Each run reads a
 * batch after the cursor, waits up to the linger time for a partial batch to
 * fill, renews its lease, delivers, and only then moves the cursor: delivery
 * is at least once, in order per stream, and a receiver drops duplicates by
 * `log_id`. A failure gives the stream up until a retry time (exponential
 * backoff with full jitter); a stream failing continuously for longer than
 * LOG_STREAM_SUSPEND_AFTER_MS is suspended and stays so until PATCHed back
 * to active.
 */
export class LogStreamDelivery {
  readonly nodeId: string;
  readonly #options: DeliveryOptions;
  readonly #store: ReturnType<typeof deliveryStore>;
  readonly #running = new Map<string, Promise<void>>();
  readonly #stop = new AbortController();
  #scheduler: Promise<void> | undefined;
  #lastIdleMetrics = 0;

  constructor(options: DeliveryOptions) {
    this.#options = options;
    this.nodeId = options.nodeId ?? `worker-${randomUUID()}`;
    this.#store = deliveryStore(options.database.db, options.runtime);
  }

  /** Starts the scheduler loop. */
  start(): this {
    this.#scheduler ??= this.#loop();
    return this;
  }

  /** Stops claiming, aborts deliveries in flight (they are redelivered later) and releases this worker's leases. */
  async stop(): Promise<void> {
    this.#stop.abort();
    await this.#scheduler;
    await Promise.all(this.#running.values());
  }

  /** Streams this worker is delivering now. */
  get active(): readonly string[] {
    return [...this.#running.keys()];
  }

  async #loop(): Promise<void> {
    const signal = this.#stop.signal;
    while (!signal.aborted) {
      try {
        await this.tick();
      } catch (error) {
        this.#options.logger.warn({ reason: (error as Error).message }, 'log stream scheduling failed; will retry');
      }
      await pause(this.#options.settings.pollIntervalMs, signal);
    }
  }

  /** One scheduling pass: claim what may be claimed, report status and idle lag. Exposed for tests. */
  async tick(): Promise<void> {
    const { settings, metrics, runtime } = this.#options;
    const streams = await this.#store.all();
    const now = runtime.now();
    const nowIso = now.toISOString();
    metrics?.retain(new Set(streams.map((s) => s.id)));
    const idle: StoredStream[] = [];
    for (const stream of streams) {
      metrics?.status(stream.tenantId, stream.id, stream.status);
      if (this.#running.has(stream.id)) continue;
      const leasedElsewhere = stream.leaseOwner !== null && stream.leaseOwner !== this.nodeId && stream.leaseUntil !== null && stream.leaseUntil >= nowIso;
      if (leasedElsewhere) {
        metrics?.forgetLag(stream.tenantId, stream.id);
        continue;
      }
      const waiting = stream.retryAt !== null && stream.retryAt > nowIso;
      if (stream.status !== 'active' || waiting || this.#running.size >= settings.maxConcurrent || this.#stop.signal.aborted) {
        idle.push(stream);
        continue;
      }
      const claimed = await this.#store.claim(stream.id, this.nodeId, settings.leaseMs);
      if (claimed) this.#launch(claimed);
    }
    if (metrics && idle.length > 0 && now.getTime() - this.#lastIdleMetrics >= IDLE_METRICS_MS) {
      this.#lastIdleMetrics = now.getTime();
      for (const stream of idle) await this.#reportLag(stream, stream.cursorSeq);
    }
  }

  #launch(stream: StoredStream): void {
    const run = this.#run(stream)
      .catch((error: unknown) => this.#options.logger.error({ err: error, stream: stream.id, tenant: stream.tenantId }, 'log stream run failed'))
      .finally(() => this.#running.delete(stream.id));
    this.#running.set(stream.id, run);
  }

  async #openSink(stream: StoredStream): Promise<Sink> {
    const { service, settings } = this.#options;
    const secrets = await service.openSecrets(stream).catch((error: unknown) => {
      throw new DeliveryError('config', `sink secrets cannot be opened: ${(error as Error).message}`);
    });
    // A delivery never outlives a third of the lease, so a live worker's lease never lapses mid-batch.
    const timeoutMs = Math.min(settings.requestTimeoutMs, Math.floor(settings.leaseMs / 3));
    if (stream.type === 'nats') return natsSink(stream.sink as unknown as NatsSinkConfig, secrets, service.policy, timeoutMs);
    return httpSink(stream.sink as unknown as HttpSinkConfig, secrets, service.policy, timeoutMs);
  }

  /** Delivers one claimed stream until it is caught up and idle, paused, failing, or this worker stops. */
  async #run(claimed: StoredStream): Promise<void> {
    const { settings, metrics, runtime, database } = this.#options;
    const signal = this.#stop.signal;
    const logs = logsStore(database.db, claimed.tenantId, runtime);
    let stream = claimed;
    let sink: Sink | undefined;
    let matches = typeMatcher(stream.filters);
    let lastRenewal = Date.now();
    try {
      sink = await this.#openSink(stream);
      while (!signal.aborted) {
        const batch = await logs.listAfterSeq(stream.cursorSeq, settings.batchSize);
        if (batch.length === 0) {
          metrics?.lag(stream.tenantId, stream.id, 0, 0);
          if (Date.now() - lastRenewal >= settings.leaseMs / 3) {
            const renewed = await this.#store.renew(stream.id, this.nodeId, settings.leaseMs);
            lastRenewal = Date.now();
            if (renewed === undefined) return;
            if (renewed !== stream.updatedAt) {
              ({ stream, sink, matches } = await this.#reload(stream, sink));
              continue;
            }
          }
          await pause(settings.pollIntervalMs, signal);
          continue;
        }
        const first = batch[0] as (typeof batch)[number];
        const oldestAgeMs = runtime.now().getTime() - Date.parse(first.event.date);
        if (first.seq > stream.cursorSeq + 1) this.#options.logger.warn({ stream: stream.id, tenant: stream.tenantId, missing: first.seq - stream.cursorSeq - 1 }, 'log stream fell behind log retention: purged events were not delivered');
        if (batch.length < settings.batchSize && oldestAgeMs < settings.lingerMs) {
          metrics?.lag(stream.tenantId, stream.id, batch.length, Math.max(0, oldestAgeMs) / 1000);
          await pause(Math.min(settings.lingerMs - oldestAgeMs, settings.pollIntervalMs), signal);
          continue;
        }
        // The lease is confirmed before every delivery; a PATCH since the claim is picked up first.
        const renewed = await this.#store.renew(stream.id, this.nodeId, settings.leaseMs);
        lastRenewal = Date.now();
        if (renewed === undefined) return;
        if (renewed !== stream.updatedAt) {
          ({ stream, sink, matches } = await this.#reload(stream, sink));
          continue;
        }
        const events = batch.filter((item) => matches(item.event.type)).map((item) => item.event);
        if (events.length > 0) {
          const started = performance.now();
          try {
            await sink.deliver(events, signal);
            metrics?.batch(stream.type, 'delivered', (performance.now() - started) / 1000);
          } catch (error) {
            metrics?.batch(stream.type, 'failed', (performance.now() - started) / 1000);
            if (signal.aborted) return;
            return await this.#failed(stream, error);
          }
        }
        const last = (batch[batch.length - 1] as (typeof batch)[number]).seq;
        if (!(await this.#store.commit(stream.id, this.nodeId, last))) return;
        stream = { ...stream, cursorSeq: last, attempts: 0, failingSince: null, retryAt: null, lastError: null };
        metrics?.delivered(stream.tenantId, stream.id, events.length);
        if (metrics) {
          const newest = (batch[batch.length - 1] as (typeof batch)[number]).event.date;
          const behind = batch.length < settings.batchSize ? 0 : Math.max(0, (await logs.lastSeq()) - last);
          metrics.lag(stream.tenantId, stream.id, behind, behind === 0 ? 0 : Math.max(0, runtime.now().getTime() - Date.parse(newest)) / 1000);
        }
      }
    } catch (error) {
      if (signal.aborted) return;
      // A sink that cannot be built counts as the stream failing; anything else (the
      // database unreachable, …) is not the stream's fault: the run ends and is re-claimed.
      if (error instanceof DeliveryError) await this.#failed(stream, error);
      else throw error;
    } finally {
      await sink?.close().catch(() => undefined);
      // Conditioned on this worker's lease: a no-op once it failed, lapsed or was taken over.
      await this.#store.release(stream.id, this.nodeId).catch(() => undefined);
    }
  }

  async #reload(stream: StoredStream, sink: Sink | undefined): Promise<{ stream: StoredStream; sink: Sink; matches: (type: string) => boolean }> {
    await sink?.close().catch(() => undefined);
    const fresh = (await this.#store.get(stream.id)) ?? stream;
    return { stream: fresh, sink: await this.#openSink(fresh), matches: typeMatcher(fresh.filters) };
  }

  async #failed(stream: StoredStream, error: unknown): Promise<void> {
    const { settings, metrics, runtime, logger } = this.#options;
    const reason = error instanceof DeliveryError ? error.reason : 'config';
    const message = error instanceof Error ? error.message : String(error);
    const now = runtime.now();
    const failingSince = stream.failingSince ?? now.toISOString();
    const attempts = stream.attempts + 1;
    const suspend = now.getTime() - Date.parse(failingSince) >= settings.suspendAfterMs;
    const retryAt = new Date(now.getTime() + retryDelayMs(attempts, settings.retryBaseMs, settings.retryMaxMs)).toISOString();
    metrics?.failed(stream.tenantId, stream.id, reason);
    await this.#store.fail(stream.id, this.nodeId, { error: message, attempts, failingSince, retryAt, suspend });
    const context = { stream: stream.id, tenant: stream.tenantId, reason, error: message, attempts, failingSince };
    if (suspend) {
      metrics?.status(stream.tenantId, stream.id, 'suspended');
      logger.error(context, 'log stream suspended: delivery kept failing');
    } else logger.warn({ ...context, retryAt }, 'log stream delivery failed; will retry');
    await this.#reportLag(stream, stream.cursorSeq);
  }

  async #reportLag(stream: StoredStream, cursor: number): Promise<void> {
    const metrics = this.#options.metrics;
    if (!metrics) return;
    const logs = logsStore(this.#options.database.db, stream.tenantId, this.#options.runtime);
    const [last, next] = await Promise.all([logs.lastSeq(), logs.listAfterSeq(cursor, 1)]);
    const oldest = next[0]?.event.date;
    metrics.lag(stream.tenantId, stream.id, Math.max(0, last - cursor), oldest ? Math.max(0, this.#options.runtime.now().getTime() - Date.parse(oldest)) / 1000 : 0);
  }
}

/** Starts delivery on a worker node. */
export function startLogStreamDelivery(options: DeliveryOptions): LogStreamDelivery {
  return new LogStreamDelivery(options).start();
}
