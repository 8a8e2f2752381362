import type { Migration } from 'kysely';
import type { DialectCapabilities } from '../database.js';
import { initialMigration } from './0001-initial.js';
import { tenantConfigVersionMigration } from './0002-tenant-config-version.js';
import { userSearchIndexesMigration } from './0003-user-search-indexes.js';
import { artifactAccountMigration } from './0004-artifact-account.js';
import { logSequenceMigration } from './0005-log-sequence.js';
import { logStreamsMigration } from './0006-log-streams.js';
import { ticketsMigration } from './0007-tickets.js';
import { userMetadataValuesMigration } from './0009-user-metadata-values.js';

/**
 * All migrations in order. Names sort lexically; never rename or edit one that
 * has shipped — add a new one. Each must run on SQLite and PostgreSQL.
 */
export function allMigrations(caps: DialectCapabilities): Record<string, Migration> {
  return {
    '0001-initial': initialMigration(caps),
    '0002-tenant-config-version': tenantConfigVersionMigration(),
    '0003-user-search-indexes': userSearchIndexesMigration(caps),
    '0004-artifact-account': artifactAccountMigration(caps),
    '0005-log-sequence': logSequenceMigration(caps),
    '0006-log-streams': logStreamsMigration(caps),
    '0007-tickets': ticketsMigration(caps),
    '0009-user-metadata-values': userMetadataValuesMigration(caps),
  };
}
