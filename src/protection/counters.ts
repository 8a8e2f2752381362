import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { RateLimiterMemory, RateLimiterRedis, type RateLimiterAbstract, type RateLimiterRes } from 'rate-limiter-flexible';

/**
 * The counters attack protection keeps: fixed-window counts (failed logins,
 * requests per second) and short-lived marks (which pairs are blocked). One
 * interface, two stores: in process memory (embedded mode, one node) or
 * Redis (REDIS_URL set), so that every node behind a load balancer shares
 * them. Both are built on rate-limiter-flexible.
 *
 * Redis unreachable (docs/decisions/013): every operation falls back to a
 * per-node memory store at once (an "insurance" store), with an error log
 * (at most one per 10 s), the fallback counter and the degraded gauge in
 * /metrics. Limits keep holding on each node, so N nodes allow at most N
 * times a limit while Redis is away, never an unlimited number; counts made
 * during the outage are not carried back to Redis.
 */

export interface CounterState {
  /** Points counted in the current window (0 when the key has none). */
  readonly count: number;
  /** Milliseconds until the window ends and the count starts from 0. */
  readonly resetInMs: number;
}

export interface Counter {
  /**
   * Adds points and returns the total after the addition, atomically: of
   * concurrent callers, each sees a different total (a Redis INCRBY in a Lua
   * script; a synchronous Map update in memory). The window starts with the
   * first point and is not extended by later ones.
   */
  add(key: string, points?: number): Promise<CounterState>;
  get(key: string): Promise<CounterState>;
  /** Takes back points this caller added (never used to go below what others added). */
  subtract(key: string, points?: number): Promise<void>;
  reset(key: string): Promise<void>;
}

/** A set of members per key, each member expiring on its own. */
export interface MarkSet {
  add(key: string, member: string, ttlMs: number): Promise<void>;
  /** Members not yet expired. */
  list(key: string): Promise<string[]>;
  remove(key: string, member: string): Promise<void>;
}

export type CounterBackend = 'memory' | 'redis';

export interface CounterStore {
  readonly backend: CounterBackend;
  /** A counter with its own name and window length (seconds, at least 1). */
  counter(name: string, windowSeconds: number): Counter;
  marks(name: string): MarkSet;
  /** Whether the last Redis operation failed (the insurance store is in use); always false in memory. */
  degraded(): boolean;
  close(): Promise<void>;
}

/** Large enough never to be reached: rate-limiter-flexible only counts, limits are ours. */
const UNLIMITED = 2 ** 31 - 1;

function stateOf(res: RateLimiterRes | null): CounterState {
  if (!res) return { count: 0, resetInMs: 0 };
  return { count: Math.max(0, res.consumedPoints), resetInMs: Math.max(0, res.msBeforeNext) };
}

function limiterCounter(limiter: RateLimiterAbstract): Counter {
  return {
    add: async (key, points = 1) => stateOf(await limiter.consume(key, points)),
    get: async (key) => stateOf(await limiter.get(key)),
    subtract: async (key, points = 1) => void (await limiter.reward(key, points)),
    reset: async (key) => void (await limiter.delete(key)),
  };
}

function memoryMarks(): MarkSet {
  const sets = new Map<string, Map<string, number>>();
  const live = (key: string) => {
    const set = sets.get(key);
    if (!set) return undefined;
    const now = Date.now();
    for (const [member, expiresAt] of set) if (expiresAt <= now) set.delete(member);
    if (set.size === 0) sets.delete(key);
    return set.size > 0 ? set : undefined;
  };
  return {
    async add(key, member, ttlMs) {
      const set = live(key) ?? new Map<string, number>();
      set.set(member, Date.now() + ttlMs);
      sets.set(key, set);
    },
    async list(key) {
      return [...(live(key)?.keys() ?? [])];
    },
    async remove(key, member) {
      live(key)?.delete(member);
    },
  };
}

/** Counters in this process only (embedded mode, and the insurance store of the Redis one). */
export function memoryCounterStore(): CounterStore {
  const counters = new Map<string, Counter>();
  const markSets = new Map<string, MarkSet>();
  return {
    backend: 'memory',
    counter(name, windowSeconds) {
      const id = `${name}:${windowSeconds}`;
      let counter = counters.get(id);
      if (!counter) {
        counter = limiterCounter(new RateLimiterMemory({ keyPrefix: id, points: UNLIMITED, duration: windowSeconds }));
        counters.set(id, counter);
      }
      return counter;
    },
    marks(name) {
      let marks = markSets.get(name);
      if (!marks) {
        marks = memoryMarks();
        markSets.set(name, marks);
      }
      return marks;
    },
    degraded: () => false,
    close: async () => undefined,
  };
}

export interface RedisCounterOptions {
  readonly url: string;
  /** Prefix of every key (tests use one per test; deployments sharing a Redis use one per installation). */
  readonly keyPrefix: string;
  /** How long one Redis command may take before the insurance store answers instead. */
  readonly commandTimeoutMs?: number;
  /** Called when an operation falls back to the insurance store (logging is rate-limited by the caller). */
  readonly onFallback?: (error: unknown) => void;
  /** Called when Redis answers again after a fallback. */
  readonly onRecovered?: () => void;
}

/**
 * Counters in Redis, shared by every node. Commands are not queued while the
 * connection is down (`enableOfflineQueue: false`) and time out after
 * `commandTimeoutMs`, so a lost Redis costs a login at most that long before
 * the insurance store answers.
 */
export function redisCounterStore(options: RedisCounterOptions): CounterStore {
  const client = new Redis(options.url, {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    commandTimeout: options.commandTimeoutMs ?? 500,
    connectTimeout: 2000,
    // Reconnect forever, at most every 2 s: the store recovers by itself.
    retryStrategy: (times) => Math.min(times * 100, 2000),
  });
  // ioredis reports connection errors as events too; the operations report them.
  client.on('error', () => undefined);
  const insurance = memoryCounterStore();
  const timeoutMs = options.commandTimeoutMs ?? 500;
  let failing = false;
  // Before the first connection is up, an operation waits for it (at most one command timeout)
  // rather than counting in memory: a node that just started would otherwise split its counts.
  let everReady = false;
  const firstReady = new Promise<void>((resolve) => client.once('ready', () => resolve()));
  client.on('ready', () => {
    everReady = true;
    if (failing) {
      failing = false;
      options.onRecovered?.();
    }
  });

  async function guarded<T>(redisWork: () => Promise<T>, fallback: () => Promise<T>): Promise<T> {
    if (!everReady) await Promise.race([firstReady, sleep(timeoutMs, undefined, { ref: false })]);
    try {
      const result = await redisWork();
      if (failing) {
        failing = false;
        options.onRecovered?.();
      }
      return result;
    } catch (error) {
      failing = true;
      options.onFallback?.(error);
      return fallback();
    }
  }

  const counters = new Map<string, Counter>();
  const markSets = new Map<string, MarkSet>();

  function redisCounter(name: string, windowSeconds: number): Counter {
    const id = `${name}:${windowSeconds}`;
    const limiter = limiterCounter(new RateLimiterRedis({ storeClient: client, keyPrefix: `${options.keyPrefix}${id}`, points: UNLIMITED, duration: windowSeconds, rejectIfRedisNotReady: true }));
    const backup = insurance.counter(name, windowSeconds);
    return {
      add: (key, points) => guarded(() => limiter.add(key, points), () => backup.add(key, points)),
      get: (key) => guarded(() => limiter.get(key), () => backup.get(key)),
      subtract: (key, points) => guarded(() => limiter.subtract(key, points), () => backup.subtract(key, points)),
      reset: (key) => guarded(() => limiter.reset(key), () => backup.reset(key)),
    };
  }

  /** A sorted set per key, scored by each member's expiry time (ms). */
  function redisMarks(name: string): MarkSet {
    const backup = insurance.marks(name);
    const full = (key: string) => `${options.keyPrefix}marks:${name}:${key}`;
    return {
      add: (key, member, ttlMs) =>
        guarded(
          async () => {
            const now = Date.now();
            const results = await client.multi().zadd(full(key), now + ttlMs, member).zremrangebyscore(full(key), '-inf', now).pttl(full(key)).exec();
            // The set lives as long as its longest-lived member.
            const ttl = Number(results?.[2]?.[1] ?? -1);
            if (ttl < ttlMs) await client.pexpire(full(key), ttlMs);
          },
          () => backup.add(key, member, ttlMs),
        ),
      list: (key) =>
        guarded(
          () => client.zrangebyscore(full(key), Date.now(), '+inf'),
          () => backup.list(key),
        ),
      remove: (key, member) =>
        guarded(
          async () => void (await client.zrem(full(key), member)),
          () => backup.remove(key, member),
        ),
    };
  }

  return {
    backend: 'redis',
    counter(name, windowSeconds) {
      const id = `${name}:${windowSeconds}`;
      let counter = counters.get(id);
      if (!counter) {
        counter = redisCounter(name, windowSeconds);
        counters.set(id, counter);
      }
      return counter;
    },
    marks(name) {
      let marks = markSets.get(name);
      if (!marks) {
        marks = redisMarks(name);
        markSets.set(name, marks);
      }
      return marks;
    },
    degraded: () => failing,
    async close() {
      client.disconnect();
    },
  };
}
