import { Migrator, type Kysely, type MigrationInfo } from 'kysely';
import { DatabaseError, type Database } from './database.js';
import { allMigrations } from './migrations/index.js';

function migratorFor(database: Database): Migrator {
  const migrations = allMigrations(database.capabilities);
  return new Migrator({
    db: database.db as unknown as Kysely<unknown>,
    provider: { getMigrations: async () => migrations },
  });
}

/**
 * Applies pending migrations. On PostgreSQL, Kysely's migrator holds a
 * session-level advisory lock for the whole run, so nodes starting together
 * apply each migration exactly once; on SQLite the write lock does the same.
 * Each migration runs in a transaction on PostgreSQL (transactional DDL).
 */
export async function migrateToLatest(database: Database): Promise<string[]> {
  const { error, results } = await migratorFor(database).migrateToLatest();
  if (error) {
    const failed = results?.find((r) => r.status === 'Error')?.migrationName ?? 'unknown';
    throw new DatabaseError(`Migration ${failed} failed: ${(error as Error).message}`, 'DB_MIGRATION_FAILED', { cause: error });
  }
  return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
}

export async function pendingMigrations(database: Database): Promise<string[]> {
  const infos: readonly MigrationInfo[] = await migratorFor(database).getMigrations();
  return infos.filter((m) => m.executedAt === undefined).map((m) => m.name);
}
