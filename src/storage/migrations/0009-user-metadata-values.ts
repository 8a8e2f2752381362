import { sql, type Kysely, type Migration } from 'kysely';
import { metadataValues } from '../../search/metadata-facts.js';
import type { DialectCapabilities } from '../database.js';

const BATCH = 1000;

/**
 * user_metadata_values: the searchable facts of each user's app_metadata and
 * user_metadata (one row per path and value, src/users/metadata-values.ts),
 * so a metadata term of user search is an index lookup on both backends
 * instead of a JSON scan of every user of the tenant (SQLite has no JSON
 * index). Existing users are filled here, in batches. The GIN indexes of 0003
 * on PostgreSQL are dropped: search no longer reads them, and they cost every
 * write of a user.
 */
export function userMetadataValuesMigration(caps: DialectCapabilities): Migration {
  return {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('user_metadata_values')
        .addColumn('tenant_id', 'text', (c) => c.notNull())
        .addColumn('user_id', 'text', (c) => c.notNull())
        .addColumn('root', 'text', (c) => c.notNull())
        .addColumn('path', 'text', (c) => c.notNull())
        .addColumn('kind', 'text', (c) => c.notNull())
        .addColumn('value', 'text', (c) => c.notNull())
        // Search: "which users of this tenant have <value> at <path>", answered from the key alone.
        .addPrimaryKeyConstraint('user_metadata_values_search', ['tenant_id', 'root', 'path', 'value', 'kind', 'user_id'])
        .addForeignKeyConstraint('user_metadata_values_user', ['tenant_id', 'user_id'], 'users', ['tenant_id', 'user_id'], (c) => c.onDelete('cascade'))
        .execute();
      // A user's facts, replaced on every metadata write and deleted with the user.
      await db.schema.createIndex('user_metadata_values_user').on('user_metadata_values').columns(['tenant_id', 'user_id']).execute();
      await backfill(db);
      if (caps.name === 'postgres') {
        await sql`drop index if exists users_search_app_metadata`.execute(db);
        await sql`drop index if exists users_search_user_metadata`.execute(db);
      }
    },
  };
}

interface UserRow {
  tenant_id: string;
  user_id: string;
  app_metadata: unknown;
  user_metadata: unknown;
}

/** Keyset-paged over the primary key, so each batch is one index range. */
async function backfill(db: Kysely<unknown>): Promise<void> {
  const users = db as unknown as Kysely<{ users: UserRow; user_metadata_values: { tenant_id: string; user_id: string; root: string; path: string; kind: string; value: string } }>;
  let after: { tenant_id: string; user_id: string } | undefined;
  for (;;) {
    let page = users.selectFrom('users').select(['tenant_id', 'user_id', 'app_metadata', 'user_metadata']).orderBy('tenant_id').orderBy('user_id').limit(BATCH);
    if (after) {
      const { tenant_id: t, user_id: u } = after;
      page = page.where((eb) => eb.or([eb('tenant_id', '>', t), eb.and([eb('tenant_id', '=', t), eb('user_id', '>', u)])]));
    }
    const rows = await page.execute();
    const facts = rows.flatMap((row) =>
      (['app_metadata', 'user_metadata'] as const).flatMap((root) =>
        metadataValues(document(row[root])).map((fact) => ({ tenant_id: row.tenant_id, user_id: row.user_id, root, ...fact })),
      ),
    );
    for (let i = 0; i < facts.length; i += 500) await users.insertInto('user_metadata_values').values(facts.slice(i, i + 500)).execute();
    const last = rows.at(-1);
    if (!last || rows.length < BATCH) return;
    after = { tenant_id: last.tenant_id, user_id: last.user_id };
  }
}

/** jsonb arrives parsed (PostgreSQL), JSON text as a string (SQLite). */
function document(value: unknown): Record<string, unknown> {
  const parsed: unknown = typeof value === 'string' ? JSON.parse(value) : value;
  return parsed && typeof parsed === 'object' && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : {};
}
