import { metadataValues } from '../search/metadata-facts.js';
import type { Executor } from '../storage/transaction.js';

/** The metadata documents of a user that search reaches by dotted path. */
export type MetadataRoot = 'app_metadata' | 'user_metadata';

/** Rows per INSERT statement (well under both backends' bound-parameter limits). */
const INSERT_CHUNK = 500;

/**
 * Replaces the indexed facts of one metadata document of a user. Call in the
 * same transaction as the write of the document itself, so search never sees
 * a document and facts that disagree.
 */
export async function replaceMetadataValues(db: Executor, tenantId: string, userId: string, root: MetadataRoot, document: Record<string, unknown>): Promise<void> {
  await db.deleteFrom('user_metadata_values').where('tenant_id', '=', tenantId).where('user_id', '=', userId).where('root', '=', root).execute();
  await insertMetadataValues(db, tenantId, userId, root, document);
}

/** The facts of a document of a user that has none yet (a new user), in the caller's transaction. */
export async function insertMetadataValues(db: Executor, tenantId: string, userId: string, root: MetadataRoot, document: Record<string, unknown>): Promise<void> {
  const rows = metadataValues(document).map((fact) => ({ tenant_id: tenantId, user_id: userId, root, ...fact }));
  for (let i = 0; i < rows.length; i += INSERT_CHUNK) await db.insertInto('user_metadata_values').values(rows.slice(i, i + INSERT_CHUNK)).execute();
}
