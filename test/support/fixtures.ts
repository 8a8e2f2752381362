import { randomBytes } from 'node:crypto';
import { SecretBox } from '../../src/crypto/secret-box.js';
import { keysService } from '../../src/keys/service.js';
import type { Database } from '../../src/storage/database.js';
import { systemRuntime } from '../../src/storage/runtime.js';
import { tenantsService } from '../../src/tenants/service.js';
import type { Tenant } from '../../src/tenants/store.js';
import { testConfig } from './config.js';

export const testBox = (key: Buffer = randomBytes(32)) => new SecretBox(key);

/** Creates a tenant the way production does (keys, default connection, Management API). */
export async function createTenant(database: Database, name: string, domain = `${name}.example.test`, box = testBox()): Promise<Tenant> {
  const config = testConfig();
  const service = tenantsService(config, database, keysService(database, box, systemRuntime), systemRuntime);
  return service.create({ name, domains: [domain], signingAlg: 'ES256' });
}
