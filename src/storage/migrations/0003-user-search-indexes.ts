import { sql, type Kysely, type Migration } from 'kysely';
import type { DialectCapabilities } from '../database.js';

/** Name fields Auth0 searches case-insensitively; email already has email_lower (0001). */
const FOLDED = ['name', 'given_name', 'family_name', 'nickname'] as const;
const BACKFILL_BATCH = 500;

interface NameRow {
  tenant_id: string;
  user_id: string;
  name: string | null;
  given_name: string | null;
  family_name: string | null;
  nickname: string | null;
}

/**
 * Fills the new *_lower columns of existing users with JavaScript's
 * toLowerCase — the function the users store writes them with, so old and new
 * rows fold non-ASCII letters alike (SQLite's lower() folds ASCII only).
 * Keyset batches keep memory flat on a large table.
 */
async function backfillLowerCaseCopies(db: Kysely<unknown>): Promise<void> {
  let after: { tenant_id: string; user_id: string } | undefined;
  for (;;) {
    const page = await sql<NameRow>`
      select tenant_id, user_id, name, given_name, family_name, nickname from users
      where (name is not null or given_name is not null or family_name is not null or nickname is not null)
      ${after ? sql`and (tenant_id, user_id) > (${after.tenant_id}, ${after.user_id})` : sql``}
      order by tenant_id, user_id limit ${BACKFILL_BATCH}`.execute(db);
    for (const row of page.rows) {
      const fold = (value: string | null) => (value === null ? null : value.toLowerCase());
      await sql`
        update users set name_lower = ${fold(row.name)}, given_name_lower = ${fold(row.given_name)},
          family_name_lower = ${fold(row.family_name)}, nickname_lower = ${fold(row.nickname)}
        where tenant_id = ${row.tenant_id} and user_id = ${row.user_id}`.execute(db);
    }
    if (page.rows.length < BACKFILL_BATCH) return;
    const last = page.rows[page.rows.length - 1] as NameRow;
    after = { tenant_id: last.tenant_id, user_id: last.user_id };
  }
}

/**
 * Indexes for Auth0 user search (docs/decisions/009-user-search.md), each
 * starting with tenant_id like every lookup index. Text columns are searched
 * by equality and by prefix as a range (`>= 'jo' and < 'jp'`), which needs
 * code-point order: SQLite's default BINARY collation is; on PostgreSQL the
 * index and the comparison both say COLLATE "C". Dates (ISO-8601 text of one
 * fixed shape) and numbers use the default collation, as created_at's index
 * from 0001 does. Metadata gets GIN (jsonb_path_ops) on PostgreSQL; SQLite
 * has no general JSON index, so metadata terms are evaluated per row there.
 */
export function userSearchIndexesMigration(caps: DialectCapabilities): Migration {
  const postgres = caps.name === 'postgres';
  const text = (column: string) => (postgres ? `${column} collate "C"` : column);
  const indexes: [name: string, columns: string][] = [
    ...FOLDED.map((field): [string, string] => [`users_search_${field}`, `tenant_id, ${text(`${field}_lower`)}`]),
    ['users_search_username', `tenant_id, ${text('username')}`],
    ['users_search_phone_number', `tenant_id, ${text('phone_number')}`],
    ['users_search_logins_count', 'tenant_id, logins_count'],
    ['users_search_last_login', 'tenant_id, last_login'],
    ['users_search_updated_at', 'tenant_id, updated_at'],
  ];
  if (postgres) {
    // On SQLite the primary key (tenant_id, user_id) and users_email (tenant_id,
    // email_lower) from 0001 are already BINARY-ordered and serve prefixes.
    indexes.push(['users_search_user_id', `tenant_id, ${text('user_id')}`], ['users_search_email', `tenant_id, ${text('email_lower')}`]);
  }

  return {
    async up(db: Kysely<unknown>) {
      for (const field of FOLDED) await db.schema.alterTable('users').addColumn(`${field}_lower`, 'text').execute();
      await backfillLowerCaseCopies(db);
      // Names and column lists are the constants above, never input.
      for (const [name, columns] of indexes) await sql`create index ${sql.id(name)} on users (${sql.raw(columns)})`.execute(db);
      if (postgres) {
        for (const column of ['app_metadata', 'user_metadata']) {
          await sql`create index ${sql.id(`users_search_${column}`)} on users using gin (${sql.id(column)} jsonb_path_ops)`.execute(db);
        }
      }
    },
  };
}
