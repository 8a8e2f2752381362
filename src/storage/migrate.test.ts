import { sql } from 'kysely';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createTestDatabase, describeEachBackend, openTestDatabase, type TestDatabase } from '../../test/support/backends.js';
import type { Database } from './database.js';
import { migrateToLatest, pendingMigrations } from './migrate.js';
import { writeTransaction } from './transaction.js';

describeEachBackend('migrations', (backend) => {
  let testDb: TestDatabase;
  const opened: Database[] = [];
  const open = () => {
    const db = openTestDatabase(testDb.config);
    opened.push(db);
    return db;
  };

  beforeAll(async () => {
    testDb = await createTestDatabase(backend);
  });
  afterAll(async () => {
    for (const db of opened) await db.close();
    await testDb?.drop();
  });

  it('reports every migration as pending on an empty database', async () => {
    expect(await pendingMigrations(open())).toEqual(['0001-initial', '0002-tenant-config-version', '0003-user-search-indexes', '0004-artifact-account', '0005-log-sequence', '0006-log-streams', '0007-tickets', '0009-user-metadata-values']);
  });

  // better-sqlite3 is synchronous: two connections of one process would wait
  // on each other's lock while blocking the event loop, so SQLite's concurrent
  // migrators are separate processes in test/cli.test.ts. Here they run in turn.
  it('applies each migration exactly once when several nodes migrate', async () => {
    const nodes = [open(), open(), open()];
    const results =
      backend === 'postgres' ? await Promise.all(nodes.map((db) => migrateToLatest(db))) : [await migrateToLatest(nodes[0]!), await migrateToLatest(nodes[1]!), await migrateToLatest(nodes[2]!)];
    // Exactly one node applied 0001; the others found nothing left to do.
    expect(results.flat()).toEqual(['0001-initial', '0002-tenant-config-version', '0003-user-search-indexes', '0004-artifact-account', '0005-log-sequence', '0006-log-streams', '0007-tickets', '0009-user-metadata-values']);
    const rows = await sql<{ name: string }>`select name from kysely_migration`.execute(nodes[0]!.db);
    expect(rows.rows.map((r) => r.name)).toEqual(['0001-initial', '0002-tenant-config-version', '0003-user-search-indexes', '0004-artifact-account', '0005-log-sequence', '0006-log-streams', '0007-tickets', '0009-user-metadata-values']);
    expect(await pendingMigrations(nodes[1]!)).toEqual([]);
  });

  it('is a no-op when run again', async () => {
    expect(await migrateToLatest(open())).toEqual([]);
  });

  it('enforces foreign keys (SQLite pragma on, PostgreSQL natively)', async () => {
    const db = open();
    await expect(
      db.db.insertInto('tenant_domains').values({ domain: 'orphan.example', tenant_id: 'ten_missing', is_primary: true, created_at: new Date().toISOString() }).execute(),
    ).rejects.toThrow();
  });

  it('rolls back a write transaction that fails half-way', async () => {
    const db = open();
    const now = new Date().toISOString();
    await expect(
      writeTransaction(db, async (trx) => {
        await trx.insertInto('tenants').values({ id: 'ten_rollback', name: 'rollback', friendly_name: null, is_default: false, settings: '{}', created_at: now, updated_at: now }).execute();
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
    const row = await db.db.selectFrom('tenants').select('id').where('id', '=', 'ten_rollback').executeTakeFirst();
    expect(row).toBeUndefined();
  });
});
