import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import pino from 'pino';
import { describe } from 'vitest';
import type { DatabaseConfig } from '../../src/config/config.js';
import type { Database } from '../../src/storage/database.js';
import { migrateToLatest } from '../../src/storage/migrate.js';
import { openPostgres } from '../../src/storage/postgres.js';
import { openSqlite } from '../../src/storage/sqlite.js';

export const PG_ADMIN_URL = process.env.DATABASE_URL_TEST ?? 'postgres://postgres@127.0.0.1:5432/test';
export const REQUIRE_POSTGRES = process.env.REQUIRE_POSTGRES === '1';
export const silentLogger = pino({ level: 'silent' });

export type BackendName = 'sqlite' | 'postgres';

/** A fresh, empty database of one backend, private to the test that made it. */
export interface TestDatabase {
  readonly config: DatabaseConfig;
  /** DATABASE_URL for a process started by the test. */
  readonly url: string;
  drop(): Promise<void>;
}

async function probePostgres(): Promise<string | undefined> {
  const client = new pg.Client({ connectionString: PG_ADMIN_URL, connectionTimeoutMillis: 2000 });
  try {
    await client.connect();
    await client.query('select 1');
    return undefined;
  } catch (error) {
    return (error as Error).message;
  } finally {
    await client.end().catch(() => undefined);
  }
}

const pgUnavailable = await probePostgres();
if (pgUnavailable !== undefined && !REQUIRE_POSTGRES) {
  console.warn(`\n  SKIPPING PostgreSQL tests: no PostgreSQL at ${PG_ADMIN_URL} (${pgUnavailable}). Set REQUIRE_POSTGRES=1 to make this an error.\n`);
}

export function backendAvailable(name: BackendName): boolean {
  return name === 'sqlite' || pgUnavailable === undefined || REQUIRE_POSTGRES;
}

let counter = 0;

/** Creates a new database: a temp SQLite file, or a new PostgreSQL database. */
export async function createTestDatabase(name: BackendName): Promise<TestDatabase> {
  if (name === 'sqlite') {
    const dir = mkdtempSync(join(tmpdir(), 'portcullis-test-'));
    const path = join(dir, 'test.db');
    return { config: { kind: 'sqlite', path, busyTimeoutMs: 5000 }, url: `sqlite:${path}`, drop: async () => rmSync(dir, { recursive: true, force: true }) };
  }
  if (pgUnavailable !== undefined) throw new Error(`REQUIRE_POSTGRES=1 but PostgreSQL at ${PG_ADMIN_URL} is unreachable: ${pgUnavailable}`);
  const dbName = `portcullis_t_${process.pid}_${Date.now().toString(36)}_${counter++}`;
  const admin = new pg.Client({ connectionString: PG_ADMIN_URL });
  await admin.connect();
  await admin.query(`create database ${dbName}`);
  await admin.end();
  const url = new URL(PG_ADMIN_URL);
  url.pathname = `/${dbName}`;
  return {
    config: { kind: 'postgres', url: url.toString(), poolMax: 5, connectTimeoutMs: 3000 },
    url: url.toString(),
    async drop() {
      const client = new pg.Client({ connectionString: PG_ADMIN_URL });
      await client.connect();
      await client.query(`drop database if exists ${dbName} with (force)`);
      await client.end();
    },
  };
}

export function openTestDatabase(config: DatabaseConfig): Database {
  return config.kind === 'sqlite' ? openSqlite(config.path, config.busyTimeoutMs) : openPostgres({ url: config.url, poolMax: config.poolMax, connectTimeoutMs: config.connectTimeoutMs });
}

/** A migrated database for one test file; `cleanup` closes and drops it. */
export async function migratedDatabase(name: BackendName): Promise<{ database: Database; testDb: TestDatabase; cleanup(): Promise<void> }> {
  const testDb = await createTestDatabase(name);
  const database = openTestDatabase(testDb.config);
  await migrateToLatest(database);
  return {
    database,
    testDb,
    async cleanup() {
      await database.close();
      await testDb.drop();
    },
  };
}

export const BACKENDS: readonly BackendName[] = ['sqlite', 'postgres'];

/**
 * Runs a contract suite once per backend. PostgreSQL suites are skipped (with
 * the visible line printed above) when no server answers, unless
 * REQUIRE_POSTGRES=1, when they run and fail.
 */
export function describeEachBackend(title: string, suite: (backend: BackendName) => void): void {
  for (const backend of BACKENDS) {
    describe.skipIf(!backendAvailable(backend))(`${title} [${backend}]`, () => suite(backend));
  }
}
