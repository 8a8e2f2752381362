import { type Kysely, type Migration } from 'kysely';
import type { DialectCapabilities } from '../database.js';

/**
 * user_tickets: one-time links made by the Management API
 * (`POST /tickets/password-change`, `/tickets/email-verification`).
 * Only the SHA-256 of the link's random token is stored, so a copy of the
 * database does not hold usable links. A used ticket keeps its row (with
 * consumed_at) until it expires, so a replay can still be attributed to its
 * user in the log; expired rows are purged (src/tickets/store.ts). The
 * user's deletion deletes its tickets.
 */
export function ticketsMigration(caps: DialectCapabilities): Migration {
  const falsy = caps.name === 'postgres' ? false : 0;
  return {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('user_tickets')
        .addColumn('tenant_id', 'text', (c) => c.notNull().references('tenants.id').onDelete('cascade'))
        .addColumn('token_hash', 'text', (c) => c.notNull())
        .addColumn('kind', 'text', (c) => c.notNull())
        .addColumn('user_id', 'text', (c) => c.notNull())
        // The user's address when the ticket was made: a verification is for that address only.
        .addColumn('email', 'text')
        .addColumn('client_id', 'text')
        .addColumn('result_url', 'text')
        .addColumn('include_email', caps.boolType, (c) => c.notNull().defaultTo(falsy))
        .addColumn('mark_email_verified', caps.boolType, (c) => c.notNull().defaultTo(falsy))
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('expires_at', 'text', (c) => c.notNull())
        .addColumn('consumed_at', 'text')
        .addPrimaryKeyConstraint('user_tickets_pk', ['tenant_id', 'token_hash'])
        .addForeignKeyConstraint('user_tickets_user', ['tenant_id', 'user_id'], 'users', ['tenant_id', 'user_id'], (fk) => fk.onDelete('cascade'))
        .execute();
      await db.schema.createIndex('user_tickets_expiry').on('user_tickets').columns(['tenant_id', 'expires_at']).execute();
      await db.schema.createIndex('user_tickets_user').on('user_tickets').columns(['tenant_id', 'user_id']).execute();
    },
  };
}
