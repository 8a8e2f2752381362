import { sql, type Kysely, type Migration } from 'kysely';
import type { DialectCapabilities } from '../database.js';

/**
 * log_events.tenant_seq: a gap-free number per tenant that orders a tenant's
 * events by commit, for checkpoint paging (`GET /api/v2/logs?from=`) and log
 * stream delivery. log_sequences holds each tenant's last number; a writer
 * takes its range with an upsert on that row in the transaction that inserts
 * the events, so the row lock serialises the tenant's log commits and a number
 * is never visible before every smaller one is (docs/decisions/011).
 * Existing rows are numbered in their global `seq` order. The 0001 indexes
 * that ordered by `seq` are rebuilt on tenant_seq.
 */
export function logSequenceMigration(caps: DialectCapabilities): Migration {
  return {
    async up(db: Kysely<unknown>) {
      await db.schema.alterTable('log_events').addColumn('tenant_seq', caps.name === 'postgres' ? 'bigint' : 'integer').execute();
      await sql`
        update log_events set tenant_seq = numbered.n
        from (select seq, row_number() over (partition by tenant_id order by seq) as n from log_events) as numbered
        where log_events.seq = numbered.seq`.execute(db);
      // SQLite cannot add NOT NULL to an existing column; the store always sets it.
      if (caps.name === 'postgres') await sql`alter table log_events alter column tenant_seq set not null`.execute(db);
      await db.schema.createIndex('log_events_tenant_order').on('log_events').columns(['tenant_id', 'tenant_seq']).unique().execute();
      // Listings order by tenant_seq now; the seq-ordered indexes of 0001 give way to tenant_seq ones.
      for (const index of ['log_events_tenant_seq', 'log_events_user', 'log_events_type']) await db.schema.dropIndex(index).execute();
      await db.schema.createIndex('log_events_user').on('log_events').columns(['tenant_id', 'user_id', 'tenant_seq']).execute();
      await db.schema.createIndex('log_events_type').on('log_events').columns(['tenant_id', 'type', 'tenant_seq']).execute();

      await db.schema
        .createTable('log_sequences')
        .addColumn('tenant_id', 'text', (c) => c.primaryKey().references('tenants.id').onDelete('cascade'))
        .addColumn('last_seq', caps.name === 'postgres' ? 'bigint' : 'integer', (c) => c.notNull())
        .execute();
      await sql`insert into log_sequences (tenant_id, last_seq) select tenant_id, max(tenant_seq) from log_events group by tenant_id`.execute(db);
    },
  };
}
