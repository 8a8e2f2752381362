import { sql, type Kysely, type Migration } from 'kysely';
import type { DialectCapabilities } from '../database.js';

/**
 * oidc_artifacts.account_id: the end user an artifact belongs to (the
 * engine's `accountId` on sessions, grants, codes and tokens), so that
 * everything of one account can be revoked in one indexed statement — on a
 * password change or when the user is deleted — without reading payloads.
 * The artifact store fills it on every write; existing rows are filled here
 * from their payload (only a string `accountId` counts, as in the store).
 */
export function artifactAccountMigration(caps: DialectCapabilities): Migration {
  // payload is jsonb on PostgreSQL and JSON text on SQLite (0001).
  const accountOf =
    caps.name === 'postgres'
      ? sql`case when jsonb_typeof(payload -> 'accountId') = 'string' then payload ->> 'accountId' end`
      : sql`case when json_type(payload, '$.accountId') = 'text' then json_extract(payload, '$.accountId') end`;
  return {
    async up(db: Kysely<unknown>) {
      await db.schema.alterTable('oidc_artifacts').addColumn('account_id', 'text').execute();
      await sql`update oidc_artifacts set account_id = ${accountOf}`.execute(db);
      await db.schema.createIndex('oidc_artifacts_account').on('oidc_artifacts').columns(['tenant_id', 'account_id']).where(sql.ref('account_id'), 'is not', null).execute();
    },
  };
}
