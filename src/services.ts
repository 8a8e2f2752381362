import { clientsService } from './clients/service.js';
import type { Config } from './config/config.js';
import type { SecretBox } from './crypto/secret-box.js';
import { keysService } from './keys/service.js';
import type { Database } from './storage/database.js';
import { systemRuntime, type Runtime } from './storage/runtime.js';
import { tenantsService } from './tenants/service.js';
import { passwordHasher } from './users/password-hasher.js';
import { usersService } from './users/service.js';

export interface ServiceDeps {
  readonly database: Database;
  readonly secretBox: SecretBox;
  readonly runtime?: Runtime;
}

/** Builds the services shared by the HTTP app, the worker and the CLI. */
export function createServices(config: Config, deps: ServiceDeps) {
  const runtime = deps.runtime ?? systemRuntime;
  const keys = keysService(deps.database, deps.secretBox, runtime);
  const tenants = tenantsService(config, deps.database, keys, runtime);
  const clients = clientsService(deps.database, deps.secretBox, runtime);
  const users = usersService(deps.database, runtime, passwordHasher());
  return { runtime, keys, tenants, clients, users };
}

export type Services = ReturnType<typeof createServices>;
