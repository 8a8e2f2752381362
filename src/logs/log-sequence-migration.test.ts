import { Migrator, sql, type Kysely } from 'kysely';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createTestDatabase, describeEachBackend, openTestDatabase, type TestDatabase } from '../../test/support/backends.js';
import { createTenant } from '../../test/support/fixtures.js';
import { testRuntime } from '../../test/support/clock.js';
import type { Database } from '../storage/database.js';
import { migrateToLatest } from '../storage/migrate.js';
import { allMigrations } from '../storage/migrations/index.js';
import { logsStore } from './store.js';

describeEachBackend('migration 0005-log-sequence', (backend) => {
  let testDb: TestDatabase;
  let database: Database;

  beforeAll(async () => {
    testDb = await createTestDatabase(backend);
    database = openTestDatabase(testDb.config);
  });
  afterAll(async () => {
    await database?.close();
    await testDb?.drop();
  });

  it('numbers the events written before it per tenant in write order, and new events continue from there', async () => {
    const migrations = allMigrations(database.capabilities);
    const migrator = new Migrator({ db: database.db as unknown as Kysely<unknown>, provider: { getMigrations: async () => migrations } });
    const before = await migrator.migrateTo('0004-artifact-account');
    expect(before.error).toBeUndefined();

    const a = await createTenant(database, 'seq-a');
    const b = await createTenant(database, 'seq-b');
    const empty = await createTenant(database, 'seq-empty');
    // Events as 0001 stored them, interleaved between two tenants.
    const order = [a, b, a, a, b];
    for (const [i, tenant] of order.entries()) {
      await sql`insert into log_events (tenant_id, log_id, date, type, details) values (${tenant.id}, ${`90old${i}`}, ${'2030-01-01T00:00:00.000Z'}, ${'s'}, ${'{}'})`.execute(database.db);
    }

    expect(await migrateToLatest(database)).toContain('0005-log-sequence');
    const clock = testRuntime();
    const logsA = logsStore(database.db, a.id, clock);
    const logsB = logsStore(database.db, b.id, clock);
    expect((await logsA.listAfterSeq(0, 10)).map((e) => [e.seq, e.event.log_id])).toEqual([[1, '90old0'], [2, '90old2'], [3, '90old3']]);
    expect((await logsB.listAfterSeq(0, 10)).map((e) => [e.seq, e.event.log_id])).toEqual([[1, '90old1'], [2, '90old4']]);
    expect(await logsA.lastSeq()).toBe(3);
    expect(await logsStore(database.db, empty.id, clock).lastSeq()).toBe(0);

    const next = await logsA.append({ type: 'f' });
    expect((await logsA.listAfterSeq(3, 10)).map((e) => [e.seq, e.event.log_id])).toEqual([[4, next.log_id]]);
    // The numbering is unique per tenant.
    await expect(sql`insert into log_events (tenant_id, log_id, date, type, details, tenant_seq) values (${a.id}, ${'90dup'}, ${'2030-01-01T00:00:00.000Z'}, ${'s'}, ${'{}'}, ${4})`.execute(database.db)).rejects.toThrow();
  });
});
