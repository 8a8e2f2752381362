import { randomBytes } from 'node:crypto';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SecretBox } from '../src/crypto/secret-box.js';
import { createApp, type App } from '../src/http/app.js';
import type { Database } from '../src/storage/database.js';
import { migrateToLatest } from '../src/storage/migrate.js';
import { openPostgres } from '../src/storage/postgres.js';
import { backendAvailable, createTestDatabase, type TestDatabase } from './support/backends.js';
import { testConfig } from './support/config.js';
import { TcpProxy } from './support/tcp-proxy.js';

async function waitFor(check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('condition not met in time');
}

describe.skipIf(!backendAvailable('postgres'))('readiness when PostgreSQL goes away and returns', () => {
  let testDb: TestDatabase;
  let proxy: TcpProxy;
  let database: Database;
  let app: App;

  beforeAll(async () => {
    testDb = await createTestDatabase('postgres');
    const target = new URL(testDb.url);
    proxy = new TcpProxy(target.hostname, Number(target.port || 5432));
    await proxy.start();
    const viaProxy = new URL(testDb.url);
    viaProxy.port = String(proxy.port);
    database = openPostgres({ url: viaProxy.toString(), poolMax: 3, connectTimeoutMs: 1000, onPoolError: () => undefined });
    await migrateToLatest(database);
    const config = testConfig({ DATABASE_URL: viaProxy.toString(), DATABASE_CONNECT_TIMEOUT_MS: '1000' });
    app = createApp(config, { database, logger: pino({ level: 'silent' }), secretBox: new SecretBox(randomBytes(32)) });
    const { tenant } = await app.services.tenants.ensureDefault();
    await app.services.keys.load(tenant.id);
    app.readiness.markKeysLoaded();
  });

  afterAll(async () => {
    await app?.app.close();
    await database?.close();
    await proxy?.stop();
    await testDb?.drop();
  });

  const readyz = async () => app.app.inject({ method: 'GET', url: '/readyz' });

  it('is 503 while the database is unreachable and 200 again once it is back, without a restart', async () => {
    expect((await readyz()).statusCode).toBe(200);

    await proxy.stop();
    const down = await readyz();
    expect(down.statusCode).toBe(503);
    expect(down.json()).toMatchObject({ status: 'unavailable', checks: { database: 'failing' } });
    expect(down.json().reason).toMatch(/^database unreachable/);
    expect((await app.app.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(200);

    await proxy.start();
    await waitFor(async () => (await readyz()).statusCode === 200, 10_000);
    expect((await readyz()).json()).toMatchObject({ status: 'ready' });
  });

  it('keeps routing requests to tenants from the cached map during the outage', async () => {
    await app.app.inject({ method: 'GET', url: '/' }); // warm the cache
    await proxy.stop();
    try {
      const res = await app.app.inject({ method: 'GET', url: '/' });
      expect(res.statusCode).toBe(200);
      expect(res.json()).toMatchObject({ tenant: 'default' });
    } finally {
      await proxy.start();
    }
  });
});
