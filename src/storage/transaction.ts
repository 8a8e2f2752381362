import type { Kysely, Transaction } from 'kysely';
import type { Database } from './database.js';
import type { Schema } from './schema.js';

export type Executor = Kysely<Schema> | Transaction<Schema>;

/**
 * Runs `work` in a transaction that intends to write; it commits when `work`
 * resolves and rolls back when it throws. On SQLite every transaction begins
 * IMMEDIATE (see sqlite.ts), so a read-then-write sequence cannot fail half-way
 * with SQLITE_BUSY when another process writes concurrently. On PostgreSQL it
 * is an ordinary READ COMMITTED transaction; callers that must serialise per
 * tenant use `lockTenant`.
 */
export async function writeTransaction<T>(database: Database, work: (trx: Executor) => Promise<T>): Promise<T> {
  return database.db.transaction().execute(work);
}

/**
 * Serialises writers of one tenant's rows inside a write transaction
 * (PostgreSQL row lock; SQLite already holds the database write lock).
 */
export async function lockTenant(database: Database, trx: Executor, tenantId: string): Promise<void> {
  if (!database.capabilities.rowLocks) return;
  await trx.selectFrom('tenants').select('id').where('id', '=', tenantId).forUpdate().execute();
}
