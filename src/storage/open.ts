import type { Logger } from 'pino';
import type { Config } from '../config/config.js';
import { DatabaseError, type Database } from './database.js';
import { redactUrl } from './redact-url.js';

export interface OpenOptions {
  readonly logger: Logger;
  readonly sleep?: (ms: number) => Promise<void>;
}

const defaultSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Opens the configured database and proves it answers. An unreachable
 * PostgreSQL is retried with capped exponential backoff; after the last try a
 * DatabaseError with one clear sentence is thrown. SQLite problems (locked,
 * corrupt) are not transient and fail at once.
 */
export async function openDatabase(config: Config, options: OpenOptions): Promise<Database> {
  const { database } = config;
  // Each driver is loaded only when used: an embedded node never loads pg.
  if (database.kind === 'sqlite') {
    const { openSqlite } = await import('./sqlite.js');
    const db = openSqlite(database.path, database.busyTimeoutMs);
    try {
      await db.ping(config.databaseConnectTimeoutMs);
    } catch (error) {
      await db.close();
      throw new DatabaseError(`SQLite database ${database.path} is not usable: ${(error as Error).message}`, 'DB_OPEN_FAILED', { cause: error });
    }
    return db;
  }

  const sleep = options.sleep ?? defaultSleep;
  const { openPostgres } = await import('./postgres.js');
  const db = openPostgres({
    url: database.url,
    poolMax: database.poolMax,
    connectTimeoutMs: database.connectTimeoutMs,
    onPoolError: (error) => options.logger.warn({ err: { message: error.message } }, 'idle database connection failed; the pool will replace it'),
  });
  const attempts = config.databaseConnectRetries + 1;
  let lastError: unknown;
  for (let attempt = 1; attempt <= attempts; attempt++) {
    try {
      await db.ping(config.databaseConnectTimeoutMs);
      return db;
    } catch (error) {
      lastError = error;
      if (attempt < attempts) {
        const delay = Math.min(2000, 100 * 2 ** (attempt - 1));
        options.logger.warn({ attempt, attempts, delayMs: delay, reason: (error as Error).message }, 'database not reachable, retrying');
        await sleep(delay);
      }
    }
  }
  await db.close().catch(() => undefined);
  throw new DatabaseError(
    `Database ${redactUrl(database.url)} is unreachable after ${attempts} attempts: ${(lastError as Error).message}`,
    'DB_UNREACHABLE',
    { cause: lastError },
  );
}
