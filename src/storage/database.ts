import type { Kysely } from 'kysely';
import type { Schema } from './schema.js';

/**
 * What differs between the backends, stated once as capabilities rather than
 * `if (postgres)` checks scattered through the stores.
 */
export interface DialectCapabilities {
  readonly name: 'sqlite' | 'postgres';
  /** Column type for JSON documents. */
  readonly jsonType: 'jsonb' | 'text';
  /** Column type for booleans. */
  readonly boolType: 'boolean' | 'integer';
  /** SELECT … FOR UPDATE exists (PostgreSQL); SQLite serialises writers instead. */
  readonly rowLocks: boolean;
}

export interface PoolStats {
  readonly total: number;
  readonly idle: number;
  readonly waiting: number;
}

/** An open database: the typed query builder plus what the service needs around it. */
export interface Database {
  readonly db: Kysely<Schema>;
  readonly capabilities: DialectCapabilities;
  /** A human-readable location without credentials, for logs and errors. */
  readonly description: string;
  /** Round-trips a trivial query; rejects when the database cannot be reached. */
  ping(timeoutMs: number): Promise<void>;
  poolStats(): PoolStats;
  close(): Promise<void>;
}

export class DatabaseError extends Error {
  constructor(
    message: string,
    readonly code: 'DB_UNREACHABLE' | 'DB_LOCKED' | 'DB_CORRUPT' | 'DB_OPEN_FAILED' | 'DB_MIGRATION_FAILED',
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'DatabaseError';
  }
}

export function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
