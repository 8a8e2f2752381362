import type { Database } from '../storage/database.js';
import type { SecretBox } from './secret-box.js';

const META_KEY = 'master_key_fingerprint';

export class MasterKeyMismatchError extends Error {
  readonly code = 'MASTER_KEY_MISMATCH';
  constructor() {
    super('MASTER_KEY does not match the key this database was created with; existing signing keys and client secrets cannot be decrypted (restore the original MASTER_KEY)');
    this.name = 'MasterKeyMismatchError';
  }
}

/**
 * Records the master key's fingerprint on first use and refuses to start with
 * a different key later, before anything is written under the wrong key.
 */
export async function verifyMasterKey(database: Database, box: SecretBox): Promise<void> {
  await database.db.insertInto('system_meta').values({ key: META_KEY, value: box.fingerprint }).onConflict((oc) => oc.column('key').doNothing()).execute();
  const row = await database.db.selectFrom('system_meta').select('value').where('key', '=', META_KEY).executeTakeFirstOrThrow();
  if (row.value !== box.fingerprint) throw new MasterKeyMismatchError();
}
