import { connectionsStore, DEFAULT_DATABASE_CONNECTION } from '../connections/store.js';
import type { Database } from '../storage/database.js';
import type { Runtime } from '../storage/runtime.js';
import { UserError } from '../users/errors.js';
import { passwordPolicyOf } from '../users/password-policy.js';
import type { UsersService } from '../users/service.js';
import type { PasswordAuthenticator } from './routes.js';

/**
 * The login pages' view of the users capability, on the tenant's default
 * database connection (connection selection per client comes later).
 */
export function passwordAuthenticator(users: UsersService, database: Database, runtime: Runtime): PasswordAuthenticator {
  return {
    async authenticate(input) {
      try {
        const result = await users.authenticate({ ...input, connectionName: DEFAULT_DATABASE_CONNECTION });
        return result.ok ? { ok: true, userId: result.user.user_id } : { ok: false, reason: result.reason };
      } catch (error) {
        // A tenant without its database connection has no password users: the same refusal as a wrong password.
        if (error instanceof UserError && error.code === 'connection_not_found') return { ok: false, reason: 'wrong_credentials' };
        throw error;
      }
    },

    async signupPolicy(tenantId) {
      const connection = await connectionsStore(database.db, tenantId, runtime).findByName(DEFAULT_DATABASE_CONNECTION);
      if (!connection) return { enabled: false, minLength: 0 };
      return { enabled: connection.options.disable_signup !== true, minLength: passwordPolicyOf(connection.options).minLength };
    },

    async signup(input) {
      try {
        const user = await users.signup({ tenantId: input.tenantId, connectionName: DEFAULT_DATABASE_CONNECTION, email: input.email, password: input.password });
        return { ok: true, userId: user.user_id };
      } catch (error) {
        if (error instanceof UserError) return { ok: false, message: error.message, field: error.code.startsWith('password_') ? 'password' : 'email' };
        throw error;
      }
    },
  };
}
