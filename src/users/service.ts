import type { Connection } from '../connections/store.js';
import type { Database } from '../storage/database.js';
import { isUniqueViolation } from '../storage/errors.js';
import type { Runtime } from '../storage/runtime.js';
import { writeTransaction } from '../storage/transaction.js';
import { tenantStores, type TenantStores } from '../tenants/tenant-stores.js';
import { UserError } from './errors.js';
import type { PasswordHasher } from './password-hasher.js';
import { checkPassword, isObviouslyTooLong, passwordPolicyOf } from './password-policy.js';
import { validEmail, validSignupMetadata, validUsername } from './signup-fields.js';
import type { User } from './store.js';

/** Auth0's strategy name for database connections, and the provider in their user ids (`auth0|…`). */
export const DATABASE_STRATEGY = 'auth0';

export interface SignupInput {
  readonly tenantId: string;
  readonly connectionName: string;
  readonly email: string;
  readonly password: string;
  readonly username?: string;
  readonly userMetadata?: Record<string, unknown>;
}

export interface AuthenticateInput {
  readonly tenantId: string;
  readonly connectionName: string;
  /** Email, or username on a connection with usernames; case-insensitive. */
  readonly identifier: string;
  readonly password: string;
  /** The end user's address, recorded as `last_ip` on success. */
  readonly ip: string | null;
}

/**
 * `wrong_credentials` covers an unknown identifier, a user without a password
 * and a wrong password alike, so the page cannot tell them apart (ASVS 5
 * 6.3.8). `blocked` is only ever answered to a caller that gave the right
 * password (see docs/decisions/006).
 */
export type AuthenticationResult = { readonly ok: true; readonly user: User } | { readonly ok: false; readonly reason: 'wrong_credentials' | 'blocked' };

const WRONG_CREDENTIALS: AuthenticationResult = { ok: false, reason: 'wrong_credentials' };

/**
 * Database-connection users: sign-up, password login and password change.
 * No HTTP here: the login pages and /dbconnections routes call it and render
 * its UserError codes.
 */
export function usersService(database: Database, runtime: Runtime, hasher: PasswordHasher) {
  const storesOf = (tenantId: string): TenantStores => tenantStores(database.db, tenantId, runtime);

  async function databaseConnection(stores: TenantStores, name: string): Promise<Connection> {
    const connection = await stores.connections.findByName(name);
    if (!connection || connection.strategy !== DATABASE_STRATEGY) throw new UserError(`No database connection named "${name}".`, 'connection_not_found');
    return connection;
  }

  async function assertPasswordAllowed(connection: Connection, password: string): Promise<void> {
    const check = await checkPassword(passwordPolicyOf(connection.options), password);
    if (!check.ok) throw new UserError(check.message, check.code);
  }

  return {
    /**
     * Creates a user with its identity and password credential in one write
     * transaction. Refusals, in order: connection, signup allowed, email,
     * username, metadata, password policy, then duplicates (unique index).
     */
    async signup(input: SignupInput): Promise<User> {
      const connection = await databaseConnection(storesOf(input.tenantId), input.connectionName);
      if (connection.options.disable_signup === true) throw new UserError('Public signup is disabled for this connection.', 'signup_disabled');
      const email = validEmail(input.email);
      const username = validUsername(connection.options, input.username);
      const userMetadata = validSignupMetadata(input.userMetadata);
      await assertPasswordAllowed(connection, input.password);
      // Hashed before the transaction: SQLite's write lock must not wait on argon2.
      // No "exists?" read first either: the unique index is the only race-free answer.
      const passwordHash = await hasher.hash(input.password);
      let user: User | undefined;
      try {
        user = await writeTransaction(database, (trx) =>
          tenantStores(trx, input.tenantId, runtime).users.insert({ connectionId: connection.id, provider: DATABASE_STRATEGY, email, username, userMetadata, passwordHash }),
        );
      } catch (error) {
        // Auth0: 400 "The user already exists." at /dbconnections/signup.
        if (isUniqueViolation(error)) throw new UserError('The user already exists.', 'user_exists');
        throw error;
      }
      // The connection was deleted between the lookup and the insert.
      if (!user) throw new UserError(`No database connection named "${input.connectionName}".`, 'connection_not_found');
      return user;
    },

    /**
     * Checks an identifier and password. Every path that does not know the
     * password costs one argon2 verification (a dummy one for unknown users)
     * and answers `wrong_credentials`. On success the login is counted and a
     * hash made with older parameters is replaced.
     */
    async authenticate(input: AuthenticateInput): Promise<AuthenticationResult> {
      const stores = storesOf(input.tenantId);
      const connection = await databaseConnection(stores, input.connectionName);
      // No account can have a password this long, so answering at once tells nothing about the identifier.
      if (isObviouslyTooLong(input.password)) return WRONG_CREDENTIALS;
      const user = await stores.users.findForLogin(connection.id, input.identifier.trim());
      const hash = user && (await stores.users.passwordHash(user.user_id));
      if (!user || hash === undefined) {
        await hasher.verifyDummy(input.password);
        return WRONG_CREDENTIALS;
      }
      if (!(await hasher.verify(hash, input.password))) return WRONG_CREDENTIALS;
      if (user.blocked) return { ok: false, reason: 'blocked' };
      if (hasher.needsRehash(hash)) await stores.users.setPasswordHash(user.user_id, await hasher.hash(input.password));
      return { ok: true, user: (await stores.users.recordLogin(user.user_id, input.ip)) ?? user };
    },

    /**
     * Sets a new password under the policy of the user's connection. A user
     * of a database connection that has no password yet gets one. Other
     * sessions are not revoked here (there are none to revoke yet).
     */
    async changePassword(tenantId: string, userId: string, newPassword: string): Promise<void> {
      const stores = storesOf(tenantId);
      const user = await stores.users.findById(userId);
      if (!user) throw new UserError('The user does not exist.', 'user_not_found');
      const connection = await stores.connections.findById(user.connection_id);
      if (connection?.strategy !== DATABASE_STRATEGY) throw new UserError('The user is not in a database connection and has no password.', 'not_database_user');
      await assertPasswordAllowed(connection, newPassword);
      const hash = await hasher.hash(newPassword);
      const saved = await writeTransaction(database, async (trx) => {
        const users = tenantStores(trx, tenantId, runtime).users;
        return (await users.setPasswordHash(userId, hash)) || users.addPasswordHash(userId, hash);
      });
      if (!saved) throw new UserError('The user does not exist.', 'user_not_found');
    },
  };
}

export type UsersService = ReturnType<typeof usersService>;
