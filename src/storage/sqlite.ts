import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import {
  CompiledQuery,
  Kysely,
  SqliteAdapter,
  SqliteDialect,
  SqliteDriver,
  sql,
  type DatabaseConnection,
  type DialectAdapter,
  type Driver,
  type SqliteDatabase,
  type SqliteDialectConfig,
  type SqliteStatement,
} from 'kysely';
import { DatabaseError, type Database } from './database.js';
import type { Schema } from './schema.js';

const STATEMENT_CACHE_SIZE = 500;

/** better-sqlite3 cannot bind JS booleans; SQLite stores them as 0/1 anyway. */
function bindable(parameters: ReadonlyArray<unknown>): unknown[] {
  return parameters.map((p) => (p === true ? 1 : p === false ? 0 : p));
}

/**
 * Wraps better-sqlite3 for Kysely: prepared statements are cached (Kysely's
 * driver prepares on every call; compiled SQL repeats on hot paths) and
 * booleans are bound as 0/1.
 */
function wrap(raw: BetterSqlite3.Database): SqliteDatabase {
  const cache = new Map<string, BetterSqlite3.Statement>();
  function prepare(text: string): BetterSqlite3.Statement {
    let stmt = cache.get(text);
    if (stmt) {
      cache.delete(text);
    } else {
      stmt = raw.prepare(text);
      if (cache.size >= STATEMENT_CACHE_SIZE) cache.delete(cache.keys().next().value as string);
    }
    cache.set(text, stmt);
    return stmt;
  }
  return {
    close: () => raw.close(),
    prepare(text: string): SqliteStatement {
      const stmt = prepare(text);
      return {
        reader: stmt.reader,
        all: (parameters) => stmt.all(...bindable(parameters)),
        run: (parameters) => stmt.run(...bindable(parameters)),
        iterate: (parameters) => stmt.iterate(...bindable(parameters)),
      };
    },
  };
}

/**
 * Every transaction starts with BEGIN IMMEDIATE: it takes the write lock up
 * front, waiting up to the busy timeout. A deferred BEGIN that reads and then
 * writes fails at once with SQLITE_BUSY when another connection or process
 * wrote in between — the busy timeout cannot help a lock upgrade.
 */
class ImmediateSqliteDriver extends SqliteDriver {
  override async beginTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('begin immediate'));
  }
}

/**
 * SQLite runs DDL inside transactions, so migrations can be atomic. With
 * immediate transactions this also makes concurrent migrators (two processes
 * on one file) take turns: the second sees the first's work and does nothing.
 */
class TransactionalDdlSqliteAdapter extends SqliteAdapter {
  override get supportsTransactionalDdl(): boolean {
    return true;
  }
}

class PortcullisSqliteDialect extends SqliteDialect {
  readonly #config: SqliteDialectConfig;
  constructor(config: SqliteDialectConfig) {
    super(config);
    this.#config = config;
  }
  override createDriver(): Driver {
    return new ImmediateSqliteDriver(this.#config);
  }
  override createAdapter(): DialectAdapter {
    return new TransactionalDdlSqliteAdapter();
  }
}

function classify(error: unknown, path: string): DatabaseError {
  const code = (error as { code?: string }).code ?? '';
  if (code === 'SQLITE_BUSY' || code === 'SQLITE_LOCKED') {
    return new DatabaseError(`SQLite database ${path} is locked by another process`, 'DB_LOCKED', { cause: error });
  }
  if (code === 'SQLITE_CORRUPT' || code === 'SQLITE_NOTADB') {
    return new DatabaseError(`SQLite file ${path} is not a database or is corrupt`, 'DB_CORRUPT', { cause: error });
  }
  return new DatabaseError(`Cannot open SQLite database ${path}: ${(error as Error).message}`, 'DB_OPEN_FAILED', { cause: error });
}

export function openSqlite(path: string, busyTimeoutMs: number): Database {
  const absolute = path === ':memory:' ? path : resolve(path);
  let raw: BetterSqlite3.Database;
  try {
    if (absolute !== ':memory:') mkdirSync(dirname(absolute), { recursive: true });
    raw = new BetterSqlite3(absolute, { timeout: busyTimeoutMs });
    raw.pragma('journal_mode = WAL');
    raw.pragma('foreign_keys = ON');
    raw.pragma('synchronous = NORMAL');
    // Reads of a large database stay in memory: a 64 MiB page cache (the
    // default is 2 MiB, a few hundred users' pages) and the file mapped
    // (reads without a system call per page).
    raw.pragma('cache_size = -65536');
    raw.pragma('mmap_size = 268435456');
    // Query-planner statistics, as SQLite advises for long-lived connections:
    // ANALYZE where tables changed enough, with a bounded sample (cheap at start).
    raw.pragma('optimize = 0x10002');
    // Reading the schema forces SQLite to look at the file header: a corrupt
    // or foreign file fails here, at open, instead of on the first query.
    raw.prepare('select count(*) from sqlite_master').get();
  } catch (error) {
    throw classify(error, absolute);
  }
  const db = new Kysely<Schema>({ dialect: new PortcullisSqliteDialect({ database: wrap(raw) }) });
  return {
    db,
    capabilities: { name: 'sqlite', jsonType: 'text', boolType: 'integer', rowLocks: false },
    description: `sqlite:${absolute}`,
    async ping() {
      await sql`select 1`.execute(db);
    },
    poolStats: () => ({ total: 1, idle: 1, waiting: 0 }),
    close: () => db.destroy(),
  };
}
