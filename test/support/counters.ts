import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';

/** The Redis the protection suites count in (a real one, as everywhere in tests). */
export const TEST_REDIS_URL = process.env.REDIS_URL_TEST ?? 'redis://127.0.0.1:6379';

export type CounterBackendName = 'memory' | 'redis';
export const COUNTER_BACKENDS: readonly CounterBackendName[] = ['memory', 'redis'];

/** A key prefix no other test uses, so suites sharing the Redis never see each other's counts. */
export const uniqueRedisPrefix = (): string => `portcullis-test:${process.pid}:${randomBytes(6).toString('hex')}:`;

/** The app environment of a counter backend: REDIS_URL and a fresh prefix for Redis, nothing for memory. */
export function counterEnv(backend: CounterBackendName, prefix = uniqueRedisPrefix()): Record<string, string> {
  return backend === 'redis' ? { REDIS_URL: TEST_REDIS_URL, REDIS_KEY_PREFIX: prefix } : {};
}

/** Deletes every key under `prefix` (the suites' counters expire on their own, but not before a day). */
export async function dropRedisKeys(prefix: string, url = TEST_REDIS_URL): Promise<void> {
  const client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  try {
    await client.connect();
    let cursor = '0';
    do {
      const [next, keys] = await client.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 500);
      if (keys.length > 0) await client.del(...keys);
      cursor = next;
    } while (cursor !== '0');
  } finally {
    client.disconnect();
  }
}
