import { randomBytes } from 'node:crypto';
import pino, { type Logger } from 'pino';
import type { Config } from '../../src/config/config.js';
import { SecretBox } from '../../src/crypto/secret-box.js';
import { createApp, type App } from '../../src/http/app.js';
import { migratedDatabase, type BackendName } from './backends.js';
import { freePort } from './cli.js';
import { testConfig } from './config.js';

export interface TestApp extends App {
  readonly config: Config;
  readonly database: Awaited<ReturnType<typeof migratedDatabase>>['database'];
  readonly testDb: Awaited<ReturnType<typeof migratedDatabase>>['testDb'];
  readonly secretBox: SecretBox;
  cleanup(): Promise<void>;
}

/** An app on a fresh migrated database with its default tenant, as `start` builds it. */
export async function startTestApp(backend: BackendName, env: Record<string, string> = {}, options: { logger?: Logger; loadKeys?: boolean } = {}): Promise<TestApp> {
  const db = await migratedDatabase(backend);
  const config = testConfig(env);
  const secretBox = new SecretBox(randomBytes(32));
  const app = createApp(config, { database: db.database, logger: options.logger ?? pino({ level: 'silent' }), secretBox });
  const { tenant } = await app.services.tenants.ensureDefault();
  if (options.loadKeys !== false) {
    await app.services.keys.load(tenant.id);
    app.readiness.markKeysLoaded();
  }
  return {
    ...app,
    config,
    secretBox,
    database: db.database,
    testDb: db.testDb,
    async cleanup() {
      await app.app.close();
      await db.cleanup();
    },
  };
}

/**
 * A test app listening on a free loopback port, its PUBLIC_URL set to that
 * address: the issuer real clients (openid-client, fetch) talk to.
 */
export async function startListeningTestApp(backend: BackendName, env: Record<string, string> = {}): Promise<{ t: TestApp; issuer: string; tenantId: string }> {
  const port = await freePort();
  const t = await startTestApp(backend, { PUBLIC_URL: `http://127.0.0.1:${port}`, ...env });
  await t.app.listen({ port, host: '127.0.0.1' });
  const tenantId = (await t.services.tenants.resolve(undefined)).id;
  return { t, issuer: `http://127.0.0.1:${port}/`, tenantId };
}
