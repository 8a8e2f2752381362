import { DEFAULT_DATABASE_CONNECTION } from '../connections/store.js';
import type { UsersService } from '../users/service.js';
import type { PasswordAuthenticator } from './routes.js';

/**
 * The login page's view of the users capability: the tenant's default
 * database connection (connection selection per client comes later).
 */
export function passwordAuthenticator(users: UsersService): PasswordAuthenticator {
  return {
    async authenticate(input) {
      const result = await users.authenticate({ ...input, connectionName: DEFAULT_DATABASE_CONNECTION });
      return result.ok ? { ok: true, userId: result.user.user_id } : { ok: false, reason: result.reason };
    },
  };
}
