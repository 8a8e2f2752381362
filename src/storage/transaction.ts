import { sql, type Kysely, type Transaction } from 'kysely';
import type { Database } from './database.js';
import type { Schema } from './schema.js';

export type Executor = Kysely<Schema> | Transaction<Schema>;

/**
 * Runs `work` in a transaction that intends to write.
 *
 * On SQLite the transaction starts with BEGIN IMMEDIATE: it takes the write
 * lock up front (waiting up to the busy timeout), so a read-then-write
 * sequence cannot fail half-way with SQLITE_BUSY when another process (the CLI,
 * a second server) writes concurrently. On PostgreSQL it is an ordinary
 * transaction; callers that must serialise per tenant use `lockTenant`.
 */
export async function writeTransaction<T>(database: Database, work: (trx: Executor) => Promise<T>): Promise<T> {
  if (database.capabilities.name === 'postgres') {
    return database.db.transaction().execute(work);
  }
  return database.db.connection().execute(async (conn) => {
    await sql`begin immediate`.execute(conn);
    try {
      const result = await work(conn);
      await sql`commit`.execute(conn);
      return result;
    } catch (error) {
      await sql`rollback`.execute(conn).catch(() => undefined);
      throw error;
    }
  });
}

/**
 * Serialises writers of one tenant's rows inside a write transaction
 * (PostgreSQL row lock; SQLite already holds the database write lock).
 */
export async function lockTenant(database: Database, trx: Executor, tenantId: string): Promise<void> {
  if (!database.capabilities.rowLocks) return;
  await trx.selectFrom('tenants').select('id').where('id', '=', tenantId).forUpdate().execute();
}
