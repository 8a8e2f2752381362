import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { COUNTER_BACKENDS, dropRedisKeys, TEST_REDIS_URL, uniqueRedisPrefix, type CounterBackendName } from '../../test/support/counters.js';
import { TcpProxy } from '../../test/support/tcp-proxy.js';
import { AttemptGate } from './attempt-gate.js';
import { memoryCounterStore, redisCounterStore, type CounterStore } from './counters.js';

const prefixes: string[] = [];
const stores: CounterStore[] = [];

function storeOf(backend: CounterBackendName): CounterStore {
  const prefix = uniqueRedisPrefix();
  prefixes.push(prefix);
  const store = backend === 'memory' ? memoryCounterStore() : redisCounterStore({ url: TEST_REDIS_URL, keyPrefix: prefix });
  stores.push(store);
  return store;
}

afterEach(async () => {
  for (const store of stores.splice(0)) await store.close();
});
afterAll(async () => {
  for (const prefix of prefixes) await dropRedisKeys(prefix);
});

for (const backend of COUNTER_BACKENDS) {
  describe(`counter store in ${backend}`, () => {
    it('adds atomically: 50 concurrent adds see 50 different totals', async () => {
      const counter = storeOf(backend).counter('atomic', 60);
      const totals = await Promise.all(Array.from({ length: 50 }, () => counter.add('k')));
      expect(totals.map((s) => s.count).sort((a, b) => a - b)).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
      expect(totals.every((s) => s.resetInMs > 0 && s.resetInMs <= 60_000)).toBe(true);
      expect((await counter.get('k')).count).toBe(50);
      await counter.subtract('k', 3);
      expect((await counter.get('k')).count).toBe(47);
      await counter.reset('k');
      expect(await counter.get('k')).toEqual({ count: 0, resetInMs: 0 });
      expect((await counter.get('other')).count).toBe(0);
    });

    it('keeps counters of different names and windows apart', async () => {
      const store = storeOf(backend);
      await store.counter('a', 60).add('k', 5);
      expect((await store.counter('b', 60).get('k')).count).toBe(0);
      expect((await store.counter('a', 30).get('k')).count).toBe(0);
      expect((await store.counter('a', 60).get('k')).count).toBe(5);
    });

    it('keeps marks per key with their own expiry', async () => {
      const marks = storeOf(backend).marks('m');
      await marks.add('k', 'one', 60_000);
      await marks.add('k', 'two', 60_000);
      await marks.add('k', 'gone', 1);
      await marks.add('other', 'three', 60_000);
      await new Promise((resolve) => setTimeout(resolve, 5));
      expect((await marks.list('k')).sort()).toEqual(['one', 'two']);
      await marks.remove('k', 'one');
      expect(await marks.list('k')).toEqual(['two']);
      expect(await marks.list('none')).toEqual([]);
    });

    it('gate: 50 concurrent failing attempts get at most max checks; the rest are refused', async () => {
      const gate = new AttemptGate(storeOf(backend), 'gate', 60);
      let checked = 0;
      const outcomes = await Promise.all(
        Array.from({ length: 50 }, async () => {
          const admission = await gate.enter('pair', 10);
          if (!admission.admitted) return admission;
          checked++;
          await new Promise((resolve) => setTimeout(resolve, 5));
          await gate.fail('pair');
          return admission;
        }),
      );
      expect(checked).toBe(10);
      expect(outcomes.filter((o) => !o.admitted)).toHaveLength(40);
      expect(outcomes.every((o) => o.admitted || o.retryAfterMs > 0)).toBe(true);
      expect((await gate.failures('pair')).count).toBe(10);
      // Blocked: the next attempt is refused at once, until the key is reset.
      expect((await gate.enter('pair', 10)).admitted).toBe(false);
      await gate.reset('pair');
      expect((await gate.enter('pair', 10)).admitted).toBe(true);
    });

    it('gate: concurrent attempts that succeed are delayed past the limit, never refused', async () => {
      const gate = new AttemptGate(storeOf(backend), 'gate-ok', 60, { pollMs: 5 });
      const outcomes = await Promise.all(
        Array.from({ length: 30 }, async () => {
          const admission = await gate.enter('pair', 3);
          if (admission.admitted) {
            await new Promise((resolve) => setTimeout(resolve, 2));
            await gate.reset('pair');
          }
          return admission.admitted;
        }),
      );
      expect(outcomes.every(Boolean)).toBe(true);
    });

    it('gate: a waiting attempt is woken by the one that finishes on this node, not by polling', async () => {
      // A poll far longer than the test: only wake-ups can move the waiters.
      const store = storeOf(backend);
      let adds = 0;
      const counting: typeof store = {
        ...store,
        counter(name, windowSeconds) {
          const inner = store.counter(name, windowSeconds);
          return { ...inner, add: (key, points) => (adds++, inner.add(key, points)) };
        },
      };
      const gate = new AttemptGate(counting, 'gate-wake', 60, { pollMs: 60_000, maxWaitMs: 120_000 });
      const outcomes = await Promise.all(
        Array.from({ length: 40 }, async () => {
          const admission = await gate.enter('pair', 4);
          if (admission.admitted) {
            await new Promise((resolve) => setTimeout(resolve, 1));
            await gate.reset('pair');
          }
          return admission.admitted;
        }),
      );
      // All admitted although the poll (60 s) never fired: only finishing attempts moved the waiters.
      expect(outcomes.every(Boolean)).toBe(true);
      // An attempt looks again only when another finished (woken, or finished while it looked): bounded by attempts × finishes.
      expect(adds).toBeLessThanOrEqual(40 * 40);
    });
  });
}

describe('Redis counter store when Redis is cut off (decision 013)', () => {
  it('falls back to per-node memory counts (never unlimited), reports it, and returns to Redis', async () => {
    const proxy = new TcpProxy('127.0.0.1', 6379);
    await proxy.start();
    const prefix = uniqueRedisPrefix();
    prefixes.push(prefix);
    const onFallback = vi.fn();
    const onRecovered = vi.fn();
    const store = redisCounterStore({ url: `redis://127.0.0.1:${proxy.port}`, keyPrefix: prefix, commandTimeoutMs: 300, onFallback, onRecovered });
    stores.push(store);
    try {
      const counter = store.counter('cut', 60);
      const gate = new AttemptGate(store, 'cut-gate', 60);
      // Until the first connection is ready, operations are answered in memory too.
      await vi.waitFor(async () => {
        await counter.add('k');
        expect(store.degraded()).toBe(false);
      });
      const before = (await counter.get('k')).count;

      await proxy.stop();
      // Counting goes on in memory: a gate still refuses past its limit.
      for (let i = 0; i < 3; i++) {
        const admission = await gate.enter('pair', 3);
        expect(admission.admitted).toBe(true);
        await gate.fail('pair');
      }
      expect((await gate.enter('pair', 3)).admitted).toBe(false);
      expect(store.degraded()).toBe(true);
      expect(onFallback).toHaveBeenCalled();

      await proxy.start();
      // Redis answers again (ioredis reconnects by itself); its own count was kept.
      await vi.waitFor(async () => expect((await counter.get('k')).count).toBe(before), { timeout: 10_000, interval: 200 });
      expect(store.degraded()).toBe(false);
      expect(onRecovered).toHaveBeenCalled();
    } finally {
      await proxy.stop();
    }
  });
});
