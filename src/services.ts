import { clientsService } from './clients/service.js';
import type { Config } from './config/config.js';
import type { SecretBox } from './crypto/secret-box.js';
import { keysService } from './keys/service.js';
import { logStreamsService } from './logstreams/service.js';
import type { Database } from './storage/database.js';
import { systemRuntime, type Runtime } from './storage/runtime.js';
import { tenantsService } from './tenants/service.js';
import { passwordHasher } from './users/password-hasher.js';
import { usersService, type PasswordScreen } from './users/service.js';

export interface ServiceDeps {
  readonly database: Database;
  readonly secretBox: SecretBox;
  readonly runtime?: Runtime;
  /** Breached-password detection for new passwords (attack protection); none in the CLI and the worker. */
  readonly passwordScreen?: PasswordScreen;
}

/** Builds the services shared by the HTTP app, the worker and the CLI. */
export function createServices(config: Config, deps: ServiceDeps) {
  const runtime = deps.runtime ?? systemRuntime;
  const keys = keysService(deps.database, deps.secretBox, runtime);
  const tenants = tenantsService(config, deps.database, keys, runtime);
  const clients = clientsService(deps.database, deps.secretBox, runtime);
  const users = usersService(deps.database, runtime, passwordHasher(), deps.passwordScreen);
  const logStreams = logStreamsService(deps.database, deps.secretBox, runtime, config.logStreams.allowedCidrs);
  return { runtime, keys, tenants, clients, users, logStreams };
}

export type Services = ReturnType<typeof createServices>;
