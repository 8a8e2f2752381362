import { sql, type Kysely, type Migration } from 'kysely';
import type { DialectCapabilities } from '../database.js';

/**
 * log_streams: a tenant's log streams (`/api/v2/log-streams`) and each one's
 * delivery state. log_events is the outbox: a stream's `cursor_seq` is the
 * last log_events.tenant_seq delivered; the worker that holds the lease
 * (`lease_owner` until `lease_until`) is the only one delivering the stream.
 * `sink` is the sink's non-secret configuration; its secrets (the webhook
 * Authorization value, custom header values, NATS credentials) are sealed
 * in `sink_secrets` (decision 002).
 */
export function logStreamsMigration(caps: DialectCapabilities): Migration {
  const emptyArray = caps.name === 'postgres' ? sql`'[]'::jsonb` : sql`'[]'`;
  const seq = caps.name === 'postgres' ? 'bigint' : 'integer';
  return {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('log_streams')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('tenant_id', 'text', (c) => c.notNull().references('tenants.id').onDelete('cascade'))
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('type', 'text', (c) => c.notNull())
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('sink', caps.jsonType, (c) => c.notNull())
        .addColumn('sink_secrets', 'text')
        .addColumn('filters', caps.jsonType, (c) => c.notNull().defaultTo(emptyArray))
        .addColumn('cursor_seq', seq, (c) => c.notNull().defaultTo(0))
        .addColumn('lease_owner', 'text')
        .addColumn('lease_until', 'text')
        .addColumn('retry_at', 'text')
        .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('failing_since', 'text')
        .addColumn('last_error', 'text')
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('log_streams_tenant').on('log_streams').columns(['tenant_id', 'created_at']).execute();
      await db.schema.createIndex('log_streams_status').on('log_streams').column('status').execute();
    },
  };
}
