import { connectionsStore, DEFAULT_DATABASE_CONNECTION } from '../connections/store.js';
import type { AttackProtection } from '../protection/service.js';
import type { Database } from '../storage/database.js';
import type { Runtime } from '../storage/runtime.js';
import { tenantsStore } from '../tenants/store.js';
import { UserError } from '../users/errors.js';
import { passwordPolicyOf } from '../users/password-policy.js';
import type { UsersService } from '../users/service.js';
import type { AuthenticationResult, PasswordAuthenticator } from './routes.js';

/**
 * The login pages' view of the users capability, on the tenant's default
 * database connection (connection selection per client comes later), under
 * attack protection: brute force and suspicious-IP throttling count the
 * attempt before the password is checked (a refused one is never checked),
 * and a verified password is checked against the breached-password list.
 */
export function passwordAuthenticator(users: UsersService, database: Database, runtime: Runtime, protection: AttackProtection): PasswordAuthenticator {
  return {
    async authenticate(input) {
      const tenant = input.tenant ?? (await tenantsStore(database.db, runtime).findById(input.tenantId));
      if (!tenant) return { ok: false, reason: 'wrong_credentials' };
      const attempt = { tenant, connection: DEFAULT_DATABASE_CONNECTION, identifier: input.identifier, ip: input.ip, clientId: input.clientId, userAgent: input.userAgent };
      const result = await protection.guardLogin(attempt, async () => {
        try {
          return await users.authenticate({ tenantId: tenant.id, connectionName: DEFAULT_DATABASE_CONNECTION, identifier: input.identifier, password: input.password, ip: input.ip });
        } catch (error) {
          // A tenant without its database connection has no password users: the same refusal as a wrong password.
          if (error instanceof UserError && error.code === 'connection_not_found') return { ok: false as const, reason: 'wrong_credentials' as const };
          throw error;
        }
      });
      if ('retryAfterSeconds' in result) return result;
      // Who the attempt was about, for the security log only (fp against fu); never rendered.
      const connection = 'connection' in result ? { id: result.connection.id, name: result.connection.name } : undefined;
      if (!result.ok) return connection ? { ok: false, reason: result.reason, log: { userId: 'user' in result ? result.user?.user_id : undefined, connection } } : { ok: false, reason: result.reason };
      const userId = result.user.user_id;
      const log = { userId, email: result.user.email, connection };
      if (await protection.breached.atLogin({ tenant, password: input.password, userId, userName: input.identifier, connection: DEFAULT_DATABASE_CONNECTION, ip: input.ip, clientId: input.clientId, userAgent: input.userAgent })) {
        return { ok: false, reason: 'password_leaked', log } satisfies AuthenticationResult;
      }
      return { ok: true, userId, log };
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
        if (error instanceof UserError) return { ok: false, message: error.message, field: error.code.startsWith('password_') ? 'password' : 'email', code: error.code };
        throw error;
      }
    },
  };
}
