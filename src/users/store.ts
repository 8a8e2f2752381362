import { sql } from 'kysely';
import type { SearchDialectName } from '../search/compile.js';
import { decodeBool, decodeJson, encodeJson } from '../storage/codec.js';
import { isoNow, type Runtime } from '../storage/runtime.js';
import { precompiled } from '../storage/precompiled.js';
import { insertMetadataValues, replaceMetadataValues } from './metadata-values.js';
import type { Executor } from '../storage/transaction.js';
import { countMatches, lowerCaseCopies, planUserSearch, type UserSearchRequest, type UserSearchResult } from './search.js';

/** A user in Auth0's shape (the Management API adds `identities` from the identities rows). */
export interface User {
  readonly user_id: string;
  readonly connection_id: string;
  readonly email: string | null;
  readonly email_verified: boolean;
  readonly username: string | null;
  readonly phone_number: string | null;
  readonly phone_verified: boolean;
  readonly name: string | null;
  readonly given_name: string | null;
  readonly family_name: string | null;
  readonly nickname: string | null;
  readonly picture: string | null;
  readonly app_metadata: Record<string, unknown>;
  readonly user_metadata: Record<string, unknown>;
  readonly blocked: boolean;
  readonly created_at: string;
  readonly updated_at: string;
  readonly last_login: string | null;
  readonly last_ip: string | null;
  readonly logins_count: number;
}

export interface Identity {
  readonly connection_id: string;
  readonly provider: string;
  readonly user_id: string;
  readonly isSocial: boolean;
}

/** An identity with its connection's name (Auth0's `identities[].connection`). */
export interface NamedIdentity extends Identity {
  readonly connection: string;
}

export interface NewUser {
  readonly connectionId: string;
  /** The identity's provider, e.g. `auth0` for database connections. */
  readonly provider: string;
  readonly email?: string | null;
  readonly emailVerified?: boolean;
  readonly username?: string | null;
  readonly phoneNumber?: string | null;
  readonly name?: string | null;
  readonly givenName?: string | null;
  readonly familyName?: string | null;
  readonly nickname?: string | null;
  readonly picture?: string | null;
  readonly appMetadata?: Record<string, unknown>;
  readonly userMetadata?: Record<string, unknown>;
  readonly blocked?: boolean;
  /** Argon2id PHC string for database connections. */
  readonly passwordHash?: string;
}

/** Fields a PATCH may change; metadata is replaced as given (the service merges). */
export interface UserChanges {
  email?: string | null;
  emailVerified?: boolean;
  username?: string | null;
  phoneNumber?: string | null;
  phoneVerified?: boolean;
  name?: string | null;
  givenName?: string | null;
  familyName?: string | null;
  nickname?: string | null;
  picture?: string | null;
  appMetadata?: Record<string, unknown>;
  userMetadata?: Record<string, unknown>;
  blocked?: boolean;
}

const COLUMNS = [
  'user_id', 'connection_id', 'email', 'email_verified', 'username', 'phone_number', 'phone_verified', 'name', 'given_name', 'family_name',
  'nickname', 'picture', 'app_metadata', 'user_metadata', 'blocked', 'created_at', 'updated_at', 'last_login', 'last_ip', 'logins_count',
] as const;

type Row = Record<(typeof COLUMNS)[number], unknown>;

function toUser(r: Row): User {
  return {
    user_id: r.user_id as string,
    connection_id: r.connection_id as string,
    email: r.email as string | null,
    email_verified: decodeBool(r.email_verified as number),
    username: r.username as string | null,
    phone_number: r.phone_number as string | null,
    phone_verified: decodeBool(r.phone_verified as number),
    name: r.name as string | null,
    given_name: r.given_name as string | null,
    family_name: r.family_name as string | null,
    nickname: r.nickname as string | null,
    picture: r.picture as string | null,
    app_metadata: decodeJson<Record<string, unknown>>(r.app_metadata, {}),
    user_metadata: decodeJson<Record<string, unknown>>(r.user_metadata, {}),
    blocked: decodeBool(r.blocked as number),
    created_at: r.created_at as string,
    updated_at: r.updated_at as string,
    last_login: r.last_login as string | null,
    last_ip: r.last_ip as string | null,
    logins_count: Number(r.logins_count),
  };
}

/** Lower-cases for the case-insensitive lookup columns (Auth0 matches email case-insensitively). */
const lower = (v: string | null | undefined) => (v === null || v === undefined ? null : v.toLowerCase());

// The Management API's hot reads, compiled once (src/storage/precompiled.ts).
const selectById = precompiled((db, tenantId, userId) => db.selectFrom('users').select(COLUMNS).where('tenant_id', '=', tenantId).where('user_id', '=', userId), 2);
const selectByEmail = precompiled((db, tenantId, emailLower) => db.selectFrom('users').select(COLUMNS).where('tenant_id', '=', tenantId).where('email_lower', '=', emailLower), 2);
const selectIdentitiesOfOne = precompiled(
  (db, tenantId, userId) =>
    db
      .selectFrom('user_identities')
      .innerJoin('connections', 'connections.id', 'user_identities.connection_id')
      .select(['user_identities.user_id', 'user_identities.connection_id', 'connections.name', 'user_identities.provider', 'user_identities.external_id', 'user_identities.is_social'])
      .where('user_identities.tenant_id', '=', tenantId)
      .where('connections.tenant_id', '=', tenantId)
      .where('user_identities.user_id', '=', userId)
      .orderBy('user_identities.created_at')
      .orderBy('user_identities.external_id'),
  2,
);

export function usersStore(db: Executor, tenantId: string, runtime: Runtime) {
  const base = () => db.selectFrom('users').select(COLUMNS).where('tenant_id', '=', tenantId);

  async function findById(userId: string): Promise<User | undefined> {
    const [row] = await selectById(db, tenantId, userId);
    return row && toUser(row);
  }

  return {
    /**
     * Inserts the user, its identity and (for database connections) its
     * password credential. Call inside a write transaction so a failure leaves
     * nothing behind. A duplicate email/username in the connection violates a
     * unique index and rejects. Returns undefined (and writes nothing) when the
     * connection is not this tenant's: connections.id is a global key, so the
     * foreign key alone would accept another tenant's connection.
     */
    async insert(input: NewUser): Promise<User | undefined> {
      const connection = await db.selectFrom('connections').select('id').where('tenant_id', '=', tenantId).where('id', '=', input.connectionId).executeTakeFirst();
      if (!connection) return undefined;
      const now = isoNow(runtime);
      const localId = runtime.randomId('', 12);
      const userId = `${input.provider}|${localId}`;
      const profile = {
        name: input.name ?? input.email ?? null,
        given_name: input.givenName ?? null,
        family_name: input.familyName ?? null,
        nickname: input.nickname ?? (input.email ? input.email.split('@')[0] ?? null : input.username ?? null),
      };
      await db
        .insertInto('users')
        .values({
          // Lower-cased copies for case-insensitive search (migration 0003).
          ...lowerCaseCopies(profile),
          ...profile,
          tenant_id: tenantId,
          user_id: userId,
          connection_id: input.connectionId,
          email: input.email ?? null,
          email_lower: lower(input.email),
          email_verified: input.emailVerified ?? false,
          username: input.username ?? null,
          username_lower: lower(input.username),
          phone_number: input.phoneNumber ?? null,
          phone_verified: false,
          picture: input.picture ?? null,
          app_metadata: encodeJson(input.appMetadata ?? {}),
          user_metadata: encodeJson(input.userMetadata ?? {}),
          blocked: input.blocked ?? false,
          created_at: now,
          updated_at: now,
          last_login: null,
          last_ip: null,
          logins_count: 0,
        })
        .execute();
      await db
        .insertInto('user_identities')
        .values({ tenant_id: tenantId, user_id: userId, connection_id: input.connectionId, provider: input.provider, external_id: localId, is_social: false, profile_data: encodeJson({}), created_at: now })
        .execute();
      // Searchable metadata facts (migration 0009), in the caller's transaction.
      if (input.appMetadata) await insertMetadataValues(db, tenantId, userId, 'app_metadata', input.appMetadata);
      if (input.userMetadata) await insertMetadataValues(db, tenantId, userId, 'user_metadata', input.userMetadata);
      if (input.passwordHash !== undefined) {
        await db.insertInto('password_credentials').values({ tenant_id: tenantId, user_id: userId, hash: input.passwordHash, created_at: now, updated_at: now }).execute();
      }
      return toUser(await base().where('user_id', '=', userId).executeTakeFirstOrThrow());
    },

    findById,

    /** Every user with this email, in any connection (GET /users-by-email). */
    /**
     * Every user with this email (one per connection), oldest first. Sorted
     * here, not in SQL: with an ORDER BY, SQLite without statistics (no
     * ANALYZE has run) walks the created_at index over the whole tenant instead
     * of looking the email up (69 ms instead of 0.07 ms at 100k users).
     */
    async findByEmail(email: string): Promise<User[]> {
      const rows = await selectByEmail(db, tenantId, email.toLowerCase());
      return rows.map(toUser).sort((a, b) => (a.created_at < b.created_at ? -1 : a.created_at > b.created_at ? 1 : a.user_id < b.user_id ? -1 : 1));
    },

    /** The login lookup: one connection, by email or username, case-insensitive. */
    async findForLogin(connectionId: string, identifier: string): Promise<User | undefined> {
      const key = identifier.toLowerCase();
      const byEmail = await base().where('connection_id', '=', connectionId).where('email_lower', '=', key).executeTakeFirst();
      if (byEmail) return toUser(byEmail);
      const byUsername = await base().where('connection_id', '=', connectionId).where('username_lower', '=', key).executeTakeFirst();
      return byUsername && toUser(byUsername);
    },

    async identities(userId: string): Promise<Identity[]> {
      const rows = await db
        .selectFrom('user_identities')
        .select(['connection_id', 'provider', 'external_id', 'is_social'])
        .where('tenant_id', '=', tenantId)
        .where('user_id', '=', userId)
        .orderBy('created_at')
        .execute();
      return rows.map((r) => ({ connection_id: r.connection_id, provider: r.provider, user_id: r.external_id, isSocial: decodeBool(r.is_social) }));
    },

    /** The identities of several users at once (one query for a page of users), with connection names; oldest first. */
    async identitiesOf(userIds: readonly string[]): Promise<Map<string, NamedIdentity[]>> {
      const byUser = new Map<string, NamedIdentity[]>(userIds.map((id) => [id, []]));
      if (userIds.length === 0) return byUser;
      const distinct = [...new Set(userIds)];
      const rows = distinct.length === 1 && distinct[0] !== undefined ? await selectIdentitiesOfOne(db, tenantId, distinct[0]) : await db
        .selectFrom('user_identities')
        .innerJoin('connections', 'connections.id', 'user_identities.connection_id')
        .select(['user_identities.user_id', 'user_identities.connection_id', 'connections.name', 'user_identities.provider', 'user_identities.external_id', 'user_identities.is_social'])
        .where('user_identities.tenant_id', '=', tenantId)
        .where('connections.tenant_id', '=', tenantId)
        .where('user_identities.user_id', 'in', distinct)
        .orderBy('user_identities.created_at')
        .orderBy('user_identities.external_id')
        .execute();
      for (const r of rows) {
        byUser.get(r.user_id)?.push({ connection_id: r.connection_id, connection: r.name, provider: r.provider, user_id: r.external_id, isSocial: decodeBool(r.is_social) });
      }
      return byUser;
    },

    async list(page: { offset: number; limit: number }): Promise<User[]> {
      const rows = await base().orderBy('created_at').orderBy('user_id').offset(page.offset).limit(page.limit).execute();
      return rows.map(toUser);
    },

    /**
     * Auth0 user search within this tenant (src/users/search.ts): throws
     * SearchSyntaxError for a bad query and UserSearchError for bad paging or
     * sort. `dialect` is the database's (`Database.capabilities.name`): the
     * compiled SQL differs for metadata and text ordering.
     */
    async search(request: UserSearchRequest, dialect: SearchDialectName): Promise<UserSearchResult> {
      const plan = planUserSearch(tenantId, dialect, request);
      let query = base();
      if (plan.where) query = query.where(plan.where);
      for (const key of plan.order) query = query.orderBy(key.expression, (ob) => (key.direction === 'asc' ? ob.asc() : ob.desc()).nullsLast());
      const users = (await query.offset(plan.offset).limit(plan.limit).execute()).map(toUser);
      const result = { users, start: plan.offset, limit: plan.perPage, length: users.length };
      return plan.includeTotals ? { ...result, total: await countMatches(db, tenantId, plan.where) } : result;
    },

    async count(): Promise<number> {
      const row = await db.selectFrom('users').select((eb) => eb.fn.countAll<number>().as('n')).where('tenant_id', '=', tenantId).executeTakeFirstOrThrow();
      return Number(row.n);
    },

    async update(userId: string, changes: UserChanges): Promise<User | undefined> {
      const set: Record<string, unknown> = { updated_at: isoNow(runtime) };
      if (changes.email !== undefined) Object.assign(set, { email: changes.email, email_lower: lower(changes.email) });
      if (changes.username !== undefined) Object.assign(set, { username: changes.username, username_lower: lower(changes.username) });
      if (changes.emailVerified !== undefined) set.email_verified = changes.emailVerified;
      if (changes.phoneNumber !== undefined) set.phone_number = changes.phoneNumber;
      if (changes.phoneVerified !== undefined) set.phone_verified = changes.phoneVerified;
      const profile = { name: changes.name, given_name: changes.givenName, family_name: changes.familyName, nickname: changes.nickname };
      for (const [key, value] of Object.entries({ ...profile, ...lowerCaseCopies(profile) })) if (value !== undefined) set[key] = value;
      if (changes.picture !== undefined) set.picture = changes.picture;
      if (changes.appMetadata !== undefined) set.app_metadata = encodeJson(changes.appMetadata);
      if (changes.userMetadata !== undefined) set.user_metadata = encodeJson(changes.userMetadata);
      if (changes.blocked !== undefined) set.blocked = changes.blocked;
      const result = await db.updateTable('users').set(set).where('tenant_id', '=', tenantId).where('user_id', '=', userId).executeTakeFirst();
      if (result.numUpdatedRows > 0n) {
        // Call in a transaction (the users service does): the document and its searchable facts change together.
        if (changes.appMetadata !== undefined) await replaceMetadataValues(db, tenantId, userId, 'app_metadata', changes.appMetadata);
        if (changes.userMetadata !== undefined) await replaceMetadataValues(db, tenantId, userId, 'user_metadata', changes.userMetadata);
      }
      return findById(userId);
    },

    /**
     * Counts a successful login atomically (no read-modify-write race between
     * nodes) and returns the user as updated, in one statement (RETURNING, on
     * both backends).
     */
    async recordLogin(userId: string, ip: string | null): Promise<User | undefined> {
      const now = isoNow(runtime);
      const row = await db
        .updateTable('users')
        .set({ last_login: now, last_ip: ip, logins_count: sql<number>`logins_count + 1`, updated_at: now })
        .where('tenant_id', '=', tenantId)
        .where('user_id', '=', userId)
        .returning(COLUMNS)
        .executeTakeFirst();
      return row && toUser(row);
    },

    /** The stored password hash; kept apart from the user row so it is never selected by accident. */
    async passwordHash(userId: string): Promise<string | undefined> {
      const row = await db.selectFrom('password_credentials').select('hash').where('tenant_id', '=', tenantId).where('user_id', '=', userId).executeTakeFirst();
      return row?.hash;
    },

    async setPasswordHash(userId: string, hash: string): Promise<boolean> {
      const result = await db
        .updateTable('password_credentials')
        .set({ hash, updated_at: isoNow(runtime) })
        .where('tenant_id', '=', tenantId)
        .where('user_id', '=', userId)
        .executeTakeFirst();
      return Number(result.numUpdatedRows) === 1;
    },

    /**
     * Gives a password to a user of this tenant that has none (e.g. imported
     * without one). Returns false, writing nothing, for an unknown user; a
     * user that already has a credential violates the primary key and rejects.
     */
    async addPasswordHash(userId: string, hash: string): Promise<boolean> {
      if (!(await findById(userId))) return false;
      const now = isoNow(runtime);
      await db.insertInto('password_credentials').values({ tenant_id: tenantId, user_id: userId, hash, created_at: now, updated_at: now }).execute();
      return true;
    },

    /** Deletes the user; identities, credentials, roles and permissions go with it (FK cascade). */
    async delete(userId: string): Promise<boolean> {
      const result = await db.deleteFrom('users').where('tenant_id', '=', tenantId).where('user_id', '=', userId).executeTakeFirst();
      return Number(result.numDeletedRows) === 1;
    },
  };
}

export type UsersStore = ReturnType<typeof usersStore>;
