import type { Connection } from '../connections/store.js';
import type { Database } from '../storage/database.js';
import { isUniqueViolation } from '../storage/errors.js';
import type { Runtime } from '../storage/runtime.js';
import { lockTenant, writeTransaction, type Executor } from '../storage/transaction.js';
import { tenantStores, type TenantStores } from '../tenants/tenant-stores.js';
import { UserError } from './errors.js';
import type { PasswordHasher } from './password-hasher.js';
import { checkPassword, isObviouslyTooLong, passwordPolicyOf } from './password-policy.js';
import { validEmail, validSignupMetadata, validUsername } from './signup-fields.js';
import type { NewUser, User, UserChanges } from './store.js';

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

/** A user created by an administrator (Management API `POST /users`): no signup switch, Auth0's profile fields. */
export interface CreateUserInput {
  readonly tenantId: string;
  readonly connectionName: string;
  readonly email: string;
  readonly password: string;
  readonly username?: string;
  readonly emailVerified?: boolean;
  readonly phoneNumber?: string;
  readonly name?: string;
  readonly givenName?: string;
  readonly familyName?: string;
  readonly nickname?: string;
  readonly picture?: string;
  readonly userMetadata?: Record<string, unknown>;
  readonly appMetadata?: Record<string, unknown>;
  readonly blocked?: boolean;
}

/**
 * A change to a user (Management API `PATCH /users/{id}`). Metadata is a
 * patch, merged at the first level only: a key set to null is removed, any
 * other value (nested objects included) replaces the stored one, and an
 * empty object clears the metadata (Auth0's documented semantics).
 */
export interface UserUpdate extends Omit<UserChanges, 'appMetadata' | 'userMetadata' | 'username' | 'email'> {
  readonly email?: string;
  /** null removes the username (refused where the connection requires one). */
  readonly username?: string | null;
  readonly userMetadata?: Readonly<Record<string, unknown>>;
  readonly appMetadata?: Readonly<Record<string, unknown>>;
  /** A new password, under the connection's policy; revokes the account's stored tokens. */
  readonly password?: string;
}

/**
 * What a new password revokes: every stored token and code of the account
 * (refresh tokens, as Auth0 does, and the opaque access tokens and unredeemed
 * codes this engine stores), but not the SSO session nor the consent grants.
 * JWT access tokens are not stored and run to their expiry. docs/decisions/010.
 */
export const REVOKED_ON_PASSWORD_CHANGE = ['RefreshToken', 'AccessToken', 'AuthorizationCode'] as const;

/** Auth0's first-level metadata merge (see UserUpdate). */
export function mergeMetadata(stored: Readonly<Record<string, unknown>>, patch: Readonly<Record<string, unknown>>): Record<string, unknown> {
  if (Object.keys(patch).length === 0) return {};
  return Object.fromEntries(Object.entries({ ...stored, ...patch }).filter(([, value]) => value !== null));
}

/**
 * A check of a new password beyond the connection's policy (attack
 * protection's breached-password detection, src/protection): runs after the
 * policy, before hashing; throws UserError to refuse the password.
 */
export type PasswordScreen = (input: {
  readonly tenantId: string;
  readonly stage: 'pre-user-registration' | 'pre-change-password';
  readonly password: string;
  readonly connection: string;
  readonly userId?: string;
  readonly userName?: string;
}) => Promise<void>;

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
 * password (see docs/decisions/006). `connection`, and on a refusal `user`
 * (the account the identifier names, if any), are for the security log only
 * (`fp` against `fu`): never show them to the caller.
 */
export type AuthenticationResult =
  | { readonly ok: true; readonly user: User; readonly connection: Connection }
  | { readonly ok: false; readonly reason: 'wrong_credentials' | 'blocked'; readonly connection: Connection; readonly user?: User };

/**
 * Database-connection users: sign-up, password login and password change.
 * No HTTP here: the login pages and /dbconnections routes call it and render
 * its UserError codes.
 */
export function usersService(database: Database, runtime: Runtime, hasher: PasswordHasher, screenPassword: PasswordScreen = async () => undefined) {
  const storesOf = (tenantId: string): TenantStores => tenantStores(database.db, tenantId, runtime);

  async function databaseConnection(stores: TenantStores, name: string): Promise<Connection> {
    const connection = await stores.connections.findByName(name);
    if (!connection || connection.strategy !== DATABASE_STRATEGY) throw new UserError(`No database connection named "${name}".`, 'connection_not_found');
    return connection;
  }

  async function assertPasswordAllowed(connection: Connection, password: string, screen: Omit<Parameters<PasswordScreen>[0], 'password' | 'connection'>): Promise<void> {
    const check = await checkPassword(passwordPolicyOf(connection.options), password);
    if (!check.ok) throw new UserError(check.message, check.code);
    await screenPassword({ ...screen, password, connection: connection.name });
  }

  /**
   * Creates a database-connection user with a password: policy, then hash
   * (before the transaction: SQLite's write lock must not wait on argon2),
   * then one write transaction. No "exists?" read first: the unique index is
   * the only race-free answer.
   */
  async function insertWithPassword(tenantId: string, connection: Connection, fields: Omit<NewUser, 'connectionId' | 'provider' | 'passwordHash'>, password: string): Promise<User> {
    await assertPasswordAllowed(connection, password, { tenantId, stage: 'pre-user-registration', userName: fields.email ?? undefined });
    const passwordHash = await hasher.hash(password);
    let user: User | undefined;
    try {
      user = await writeTransaction(database, (trx) => tenantStores(trx, tenantId, runtime).users.insert({ ...fields, connectionId: connection.id, provider: DATABASE_STRATEGY, passwordHash }));
    } catch (error) {
      // Auth0: 400 "The user already exists." at /dbconnections/signup (409 at the Management API).
      if (isUniqueViolation(error)) throw new UserError('The user already exists.', 'user_exists');
      throw error;
    }
    // The connection was deleted between the lookup and the insert.
    if (!user) throw new UserError(`No database connection named "${connection.name}".`, 'connection_not_found');
    return user;
  }

  /** Stores a new hash (or a first one) and revokes the account's stored tokens, in the caller's transaction. */
  async function writePassword(trx: Executor, tenantId: string, userId: string, hash: string): Promise<boolean> {
    const stores = tenantStores(trx, tenantId, runtime);
    const saved = (await stores.users.setPasswordHash(userId, hash)) || (await stores.users.addPasswordHash(userId, hash));
    if (saved) await stores.artifacts.revokeByAccount(userId, REVOKED_ON_PASSWORD_CHANGE);
    return saved;
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
      return insertWithPassword(input.tenantId, connection, { email, username, userMetadata }, input.password);
    },

    /**
     * Creates a user as an administrator does (Management API): the same
     * connection, email, username and password-policy rules as signup, but
     * no `disable_signup` switch and no signup limits on metadata.
     */
    async create(input: CreateUserInput): Promise<User> {
      const connection = await databaseConnection(storesOf(input.tenantId), input.connectionName);
      const email = validEmail(input.email);
      const username = validUsername(connection.options, input.username);
      const profile = {
        email,
        username,
        emailVerified: input.emailVerified,
        phoneNumber: input.phoneNumber,
        name: input.name,
        givenName: input.givenName,
        familyName: input.familyName,
        nickname: input.nickname,
        picture: input.picture,
        userMetadata: input.userMetadata,
        appMetadata: input.appMetadata,
        blocked: input.blocked,
      };
      return insertWithPassword(input.tenantId, connection, profile, input.password);
    },

    /**
     * Changes a user's profile, metadata and password in one write
     * transaction: nothing is changed when any part is refused. The password
     * is checked and hashed first (outside the transaction); the metadata
     * merge reads the stored value under the tenant's write lock, so two
     * concurrent patches cannot lose each other's keys.
     */
    async update(tenantId: string, userId: string, update: UserUpdate): Promise<User> {
      const stores = storesOf(tenantId);
      const user = await stores.users.findById(userId);
      if (!user) throw new UserError('The user does not exist.', 'user_not_found');
      const connection = await stores.connections.findById(user.connection_id);
      const { password, userMetadata, appMetadata, email, username, ...fields } = update;
      const changes: UserChanges = { ...fields };
      if (email !== undefined) changes.email = validEmail(email);
      if (username !== undefined) changes.username = validUsername(connection?.options ?? {}, username ?? undefined) ?? null;
      let hash: string | undefined;
      if (password !== undefined) {
        if (connection?.strategy !== DATABASE_STRATEGY) throw new UserError('The user is not in a database connection and has no password.', 'not_database_user');
        await assertPasswordAllowed(connection, password, { tenantId, stage: 'pre-change-password', userId, userName: user.email ?? undefined });
        hash = await hasher.hash(password);
      }
      try {
        return await writeTransaction(database, async (trx) => {
          await lockTenant(database, trx, tenantId);
          const users = tenantStores(trx, tenantId, runtime).users;
          const current = await users.findById(userId);
          if (!current) throw new UserError('The user does not exist.', 'user_not_found');
          // A new address is not verified unless the caller says so (Auth0): the flag belonged to the old one.
          if (changes.email !== undefined && changes.email?.toLowerCase() !== current.email?.toLowerCase() && changes.emailVerified === undefined) changes.emailVerified = false;
          if (userMetadata !== undefined) changes.userMetadata = mergeMetadata(current.user_metadata, userMetadata);
          if (appMetadata !== undefined) changes.appMetadata = mergeMetadata(current.app_metadata, appMetadata);
          const updated = await users.update(userId, changes);
          if (!updated) throw new UserError('The user does not exist.', 'user_not_found');
          if (hash !== undefined) await writePassword(trx, tenantId, userId, hash);
          return updated;
        });
      } catch (error) {
        // Auth0's wording for a taken email on PATCH; the same index guards usernames.
        if (isUniqueViolation(error)) throw new UserError(email !== undefined ? 'The specified new email already exists' : 'The specified new username already exists', 'user_exists');
        throw error;
      }
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
      const user = await stores.users.findForLogin(connection.id, input.identifier.trim());
      const wrongCredentials = { ok: false, reason: 'wrong_credentials', connection, ...(user ? { user } : {}) } as const;
      // No account can have a password this long, so answering at once tells nothing about the identifier.
      if (isObviouslyTooLong(input.password)) return wrongCredentials;
      const hash = user && (await stores.users.passwordHash(user.user_id));
      if (!user || hash === undefined) {
        await hasher.verifyDummy(input.password);
        return wrongCredentials;
      }
      if (!(await hasher.verify(hash, input.password))) return wrongCredentials;
      if (user.blocked) return { ok: false, reason: 'blocked', connection, user };
      if (hasher.needsRehash(hash)) await stores.users.setPasswordHash(user.user_id, await hasher.hash(input.password));
      return { ok: true, user: (await stores.users.recordLogin(user.user_id, input.ip)) ?? user, connection };
    },

    /**
     * Deletes the user and every engine artifact of the account — SSO
     * sessions, grants, codes, tokens — in one write transaction, so a
     * deleted user's session cannot be used for another silent login.
     * Identities, credentials, roles and permissions go by foreign key; log
     * events stay (they are the audit trail). False for an unknown user.
     */
    async delete(tenantId: string, userId: string): Promise<boolean> {
      return writeTransaction(database, async (trx) => {
        const stores = tenantStores(trx, tenantId, runtime);
        if (!(await stores.users.findById(userId))) return false;
        await stores.artifacts.revokeByAccount(userId);
        return stores.users.delete(userId);
      });
    },

    /**
     * Sets a new password under the policy of the user's connection. A user
     * of a database connection that has no password yet gets one. The
     * account's stored tokens and codes are revoked in the same transaction
     * (REVOKED_ON_PASSWORD_CHANGE); its SSO session is kept, as in Auth0.
     * `alsoInTransaction` runs first in that transaction, after the policy
     * check and the hashing (a one-time ticket is consumed there, so the
     * ticket and the password change commit together); throwing from it
     * changes nothing.
     */
    async changePassword(tenantId: string, userId: string, newPassword: string, alsoInTransaction?: (trx: Executor) => Promise<void>): Promise<void> {
      const stores = storesOf(tenantId);
      const user = await stores.users.findById(userId);
      if (!user) throw new UserError('The user does not exist.', 'user_not_found');
      const connection = await stores.connections.findById(user.connection_id);
      if (connection?.strategy !== DATABASE_STRATEGY) throw new UserError('The user is not in a database connection and has no password.', 'not_database_user');
      await assertPasswordAllowed(connection, newPassword, { tenantId, stage: 'pre-change-password', userId, userName: user.email ?? undefined });
      const hash = await hasher.hash(newPassword);
      const saved = await writeTransaction(database, async (trx) => {
        await alsoInTransaction?.(trx);
        return writePassword(trx, tenantId, userId, hash);
      });
      if (!saved) throw new UserError('The user does not exist.', 'user_not_found');
    },
  };
}

export type UsersService = ReturnType<typeof usersService>;
