import type { Kysely, Migration } from 'kysely';

/**
 * tenants.config_version: bumped in the same transaction as any change that
 * running nodes must rebuild a tenant's protocol engine for (signing keys,
 * issuer, settings). Nodes poll it (one indexed read per tenant per second)
 * instead of needing a message bus.
 */
export function tenantConfigVersionMigration(): Migration {
  return {
    async up(db: Kysely<unknown>) {
      await db.schema.alterTable('tenants').addColumn('config_version', 'integer', (c) => c.notNull().defaultTo(1)).execute();
    },
  };
}
