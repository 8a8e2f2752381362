import { Kysely, PostgresDialect, sql } from 'kysely';
import pg from 'pg';
import { withTimeout, type Database } from './database.js';
import { redactUrl } from './redact-url.js';
import type { Schema } from './schema.js';

export { redactUrl };

const INT8_OID = 20;

export interface PostgresOptions {
  readonly url: string;
  readonly poolMax: number;
  readonly connectTimeoutMs: number;
  readonly onPoolError?: (error: Error) => void;
}

export function openPostgres(options: PostgresOptions): Database {
  const pool = new pg.Pool({
    connectionString: options.url,
    max: options.poolMax,
    connectionTimeoutMillis: options.connectTimeoutMs,
    idleTimeoutMillis: 30_000,
    // count(*) and identity columns come back as int8; every value we store
    // fits in a double, so read them as numbers instead of strings.
    types: {
      getTypeParser: ((oid: number, format?: string) =>
        oid === INT8_OID ? (v: string) => Number(v) : pg.types.getTypeParser(oid, format as 'text')) as typeof pg.types.getTypeParser,
    },
  });
  // An idle client whose server went away emits 'error' on the pool; without a
  // listener that would crash the process. The pool replaces the client.
  pool.on('error', (error) => options.onPoolError?.(error));
  // A checked-out client whose connection drops mid-query also emits 'error';
  // the query itself rejects (and the caller handles that), but an 'error'
  // event without a listener would crash the process. The pool discards the
  // broken client when it is released.
  pool.on('connect', (client) => {
    client.on('error', (error) => options.onPoolError?.(error));
  });
  const db = new Kysely<Schema>({ dialect: new PostgresDialect({ pool }) });
  return {
    db,
    capabilities: { name: 'postgres', jsonType: 'jsonb', boolType: 'boolean', rowLocks: true },
    description: redactUrl(options.url),
    async ping(timeoutMs: number) {
      await withTimeout(sql`select 1`.execute(db), timeoutMs, 'database ping');
    },
    poolStats: () => ({ total: pool.totalCount, idle: pool.idleCount, waiting: pool.waitingCount }),
    close: () => db.destroy(),
  };
}
