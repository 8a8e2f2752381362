import { describe, expect, it } from 'vitest';
import { TtlCache } from './ttl-cache.js';

describe('TtlCache', () => {
  it('serves a value for at most ttlMs, then reloads; evicts the oldest beyond its bound', async () => {
    let now = 0;
    let loads = 0;
    const cache = new TtlCache<number>(1000, 2, () => now);
    const load = (v: number) => async () => {
      loads++;
      return v;
    };
    expect(await cache.get('a', load(1))).toBe(1);
    now = 999;
    expect(await cache.get('a', load(2))).toBe(1);
    now = 1000;
    expect(await cache.get('a', load(3))).toBe(3);
    await cache.get('b', load(4));
    await cache.get('c', load(5)); // evicts 'a' (oldest)
    expect(await cache.get('a', load(6))).toBe(6);
    expect(loads).toBe(5);
  });

  it('with ttlMs 0 never caches', async () => {
    const cache = new TtlCache<number>(0, 10);
    let n = 0;
    await cache.get('x', async () => ++n);
    expect(await cache.get('x', async () => ++n)).toBe(2);
  });
});
