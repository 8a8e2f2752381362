import { z } from 'zod';
import { HttpError } from '../http/errors.js';
import { SearchSyntaxError } from '../search/errors.js';
import { parseSearchQuery } from '../search/lucene.js';
import { tenantStores } from '../tenants/tenant-stores.js';
import { UserError } from '../users/errors.js';
import { UserSearchError } from '../users/search.js';
import type { UserUpdate } from '../users/service.js';
import type { NamedIdentity, User } from '../users/store.js';
import type { ManagementDeps } from './plugin.js';
import { fieldsQuery, pagingQuery, pathId } from './query.js';
import type { ManagementRouter } from './route.js';
import { lucenePhrase, registerUserRelationRoutes, userNotFound } from './user-relations.js';

/**
 * Metadata as Auth0 accepts it: an object whose property names hold no `.`
 * or `$` at any depth (Auth0's rule), at most 10 levels deep and 16 KiB as JSON.
 */
const metadata = z.record(z.string().min(1).max(255), z.unknown()).superRefine((value, ctx) => {
  const problem = metadataProblem(value, 0);
  if (problem) ctx.addIssue({ code: 'custom', message: problem });
  else if (Buffer.byteLength(JSON.stringify(value)) > 16_384) ctx.addIssue({ code: 'custom', message: 'metadata must be at most 16 KiB as JSON' });
});

function metadataProblem(value: unknown, depth: number): string | undefined {
  if (depth > 10) return 'metadata is nested too deeply';
  if (Array.isArray(value)) return value.map((v) => metadataProblem(v, depth + 1)).find(Boolean);
  if (!value || typeof value !== 'object') return undefined;
  for (const [key, inner] of Object.entries(value)) {
    if (key.includes('.') || key.startsWith('$')) return `metadata property names must not contain "." nor start with "$" ("${key}")`;
    const problem = metadataProblem(inner, depth + 1);
    if (problem) return problem;
  }
  return undefined;
}

/** Auth0's profile field limits. */
const profileFields = {
  name: z.string().min(1).max(300),
  given_name: z.string().min(1).max(150),
  family_name: z.string().min(1).max(150),
  nickname: z.string().min(1).max(300),
  picture: z.url().max(2048),
};

const createBody = z.strictObject({
  connection: z.string().min(1).max(128),
  email: z.string().min(1).max(254),
  password: z.string().min(1).max(1024),
  username: z.string().min(1).max(128).optional(),
  email_verified: z.boolean().optional(),
  // No email is sent here (there is no mailer yet): asking for one is refused rather than ignored.
  verify_email: z.literal(false).optional(),
  phone_number: z.string().min(1).max(32).optional(),
  name: profileFields.name.optional(),
  given_name: profileFields.given_name.optional(),
  family_name: profileFields.family_name.optional(),
  nickname: profileFields.nickname.optional(),
  picture: profileFields.picture.optional(),
  user_metadata: metadata.optional(),
  app_metadata: metadata.optional(),
  blocked: z.boolean().optional(),
});

/** PATCH: Auth0's fields; null clears a profile field. */
const updateBody = z.strictObject({
  blocked: z.boolean().optional(),
  email_verified: z.boolean().optional(),
  email: z.string().min(1).max(254).optional(),
  verify_email: z.literal(false).optional(),
  phone_number: z.string().min(1).max(32).nullable().optional(),
  phone_verified: z.boolean().optional(),
  user_metadata: metadata.optional(),
  app_metadata: metadata.optional(),
  name: profileFields.name.nullable().optional(),
  given_name: profileFields.given_name.nullable().optional(),
  family_name: profileFields.family_name.nullable().optional(),
  nickname: profileFields.nickname.nullable().optional(),
  picture: profileFields.picture.nullable().optional(),
  username: z.string().min(1).max(128).nullable().optional(),
  password: z.string().min(1).max(1024).optional(),
  /** The user's own connection (Auth0 asks for it with a password change); moving users is not supported. */
  connection: z.string().min(1).max(128).optional(),
});
type UpdateBody = z.infer<typeof updateBody>;

/** What a caller holding only `update:users_app_metadata` may change (Auth0). */
const METADATA_ONLY = new Set(['user_metadata', 'app_metadata']);

const identitySchema = z.object({ connection: z.string(), user_id: z.string(), provider: z.string(), isSocial: z.boolean() });

/**
 * The user object in Auth0's shape. Built THROUGH this schema: the password
 * hash is not a property of the store's User, and could only reach an answer
 * if this schema named it.
 */
export const userSchema = z.object({
  user_id: z.string(),
  email: z.string().optional(),
  email_verified: z.boolean(),
  username: z.string().optional(),
  phone_number: z.string().optional(),
  phone_verified: z.boolean().optional(),
  name: z.string().optional(),
  given_name: z.string().optional(),
  family_name: z.string().optional(),
  nickname: z.string().optional(),
  picture: z.string().optional(),
  created_at: z.string(),
  updated_at: z.string(),
  identities: z.array(identitySchema),
  app_metadata: z.record(z.string(), z.unknown()),
  user_metadata: z.record(z.string(), z.unknown()),
  last_ip: z.string().optional(),
  last_login: z.string().optional(),
  logins_count: z.number(),
  blocked: z.boolean(),
});
type UserBody = z.infer<typeof userSchema>;

/** A stored user and its identities as Auth0's user object; absent (null) values are left out, as Auth0 does. */
export function toUserBody(user: User, identities: readonly NamedIdentity[]): UserBody {
  const all = {
    user_id: user.user_id,
    email: user.email,
    email_verified: user.email_verified,
    username: user.username,
    phone_number: user.phone_number,
    phone_verified: user.phone_number === null ? null : user.phone_verified,
    name: user.name,
    given_name: user.given_name,
    family_name: user.family_name,
    nickname: user.nickname,
    picture: user.picture,
    created_at: user.created_at,
    updated_at: user.updated_at,
    identities: identities.map((i) => ({ connection: i.connection, user_id: i.user_id, provider: i.provider, isSocial: i.isSocial })),
    app_metadata: user.app_metadata,
    user_metadata: user.user_metadata,
    last_ip: user.last_ip,
    last_login: user.last_login,
    logins_count: user.logins_count,
    blocked: user.blocked,
  };
  return Object.fromEntries(Object.entries(all).filter(([, value]) => value !== null)) as UserBody;
}

/** A users-service refusal as Auth0's Management API answers it. */
function userErrorToHttp(error: UserError, conflictStatus: 400 | 409): HttpError {
  switch (error.code) {
    case 'user_not_found':
      return userNotFound();
    case 'connection_not_found':
      return new HttpError(400, 'The connection does not exist.', 'inexistent_connection');
    case 'user_exists':
      return new HttpError(conflictStatus, error.message, 'auth0_idp_error');
    case 'password_too_short':
    case 'password_too_long':
    case 'password_common':
      return new HttpError(400, `PasswordStrengthError: ${error.message}`, 'invalid_body');
    case 'not_database_user':
      return new HttpError(400, error.message, 'operation_not_supported');
    case 'password_breached':
      return new HttpError(400, `PasswordBreachedError: ${error.message}`, 'password_leaked');
    default:
      return new HttpError(400, error.message, 'invalid_body');
  }
}

async function asHttp<T>(work: Promise<T>, conflictStatus: 400 | 409 = 409): Promise<T> {
  try {
    return await work;
  } catch (error) {
    if (error instanceof UserError) throw userErrorToHttp(error, conflictStatus);
    if (error instanceof SearchSyntaxError) throw new HttpError(400, `Query validation error: '${error.message}' on property q.`, 'invalid_query_string');
    if (error instanceof UserSearchError) throw new HttpError(400, error.message, error.code === 'invalid_paging' ? 'invalid_paging' : 'invalid_query_string');
    throw error;
  }
}

/**
 * `q` narrowed to one connection (Auth0's `connection` parameter). The
 * caller's own query is parsed alone first, so its errors keep their positions.
 */
function queryWithConnection(q: string | undefined, connection: string | undefined): string | undefined {
  const own = q?.trim() ? q : undefined;
  if (connection === undefined) return own;
  if (own !== undefined) parseSearchQuery(own);
  const only = `identities.connection:${lucenePhrase(connection)}`;
  return own === undefined ? only : `(${own}) AND ${only}`;
}

function toChanges(body: UpdateBody): UserUpdate {
  return {
    ...(body.email !== undefined ? { email: body.email } : {}),
    ...(body.email_verified !== undefined ? { emailVerified: body.email_verified } : {}),
    ...(body.username !== undefined ? { username: body.username } : {}),
    ...(body.phone_number !== undefined ? { phoneNumber: body.phone_number } : {}),
    ...(body.phone_verified !== undefined ? { phoneVerified: body.phone_verified } : {}),
    ...(body.name !== undefined ? { name: body.name } : {}),
    ...(body.given_name !== undefined ? { givenName: body.given_name } : {}),
    ...(body.family_name !== undefined ? { familyName: body.family_name } : {}),
    ...(body.nickname !== undefined ? { nickname: body.nickname } : {}),
    ...(body.picture !== undefined ? { picture: body.picture } : {}),
    ...(body.blocked !== undefined ? { blocked: body.blocked } : {}),
    ...(body.user_metadata !== undefined ? { userMetadata: body.user_metadata } : {}),
    ...(body.app_metadata !== undefined ? { appMetadata: body.app_metadata } : {}),
    ...(body.password !== undefined ? { password: body.password } : {}),
  };
}

/** `/api/v2/users`, `/api/v2/users/{id}`, `/api/v2/users-by-email`, and the user's roles, permissions and logs. */
export function registerUserRoutes(router: ManagementRouter, deps: ManagementDeps): void {
  const { database, services } = deps;
  const stores = (tenantId: string) => tenantStores(database.db, tenantId, services.runtime);
  const params = z.strictObject({ id: pathId });

  /** Users with their identities, read in one query for the lot. */
  async function bodies(tenantId: string, users: readonly User[]): Promise<UserBody[]> {
    const identities = await stores(tenantId).users.identitiesOf(users.map((u) => u.user_id));
    return users.map((u) => toUserBody(u, identities.get(u.user_id) ?? []));
  }
  async function body(tenantId: string, user: User): Promise<UserBody> {
    return (await bodies(tenantId, [user]))[0] as UserBody;
  }

  router.add({
    method: 'GET',
    path: '/users',
    summary: 'List or search users',
    scopes: ['read:users'],
    query: z.object({
      ...pagingQuery,
      ...fieldsQuery,
      sort: z.string().max(64).optional(),
      connection: z.string().min(1).max(128).optional(),
      q: z.string().max(4000).optional(),
      search_engine: z.enum(['v2', 'v3']).optional(),
      primary_order: z.enum(['true', 'false']).optional(),
    }),
    list: { key: 'users', item: userSchema },
    async handler({ query, tenant }) {
      // Lucene search (src/users/search.ts): Auth0's sort fields and its 1000-result cap.
      const result = await asHttp(
        (async () => {
          const q = queryWithConnection(query.q, query.connection);
          return stores(tenant.id).users.search(
            { ...(q !== undefined ? { q } : {}), page: query.page, perPage: query.per_page, includeTotals: query.include_totals, ...(query.sort !== undefined ? { sort: query.sort } : {}) },
            database.capabilities.name,
          );
        })(),
      );
      return { items: await bodies(tenant.id, result.users), start: result.start, limit: result.limit, ...(result.total !== undefined ? { total: result.total } : {}) };
    },
  });

  router.add({
    method: 'GET',
    path: '/users/:id',
    summary: 'Get a user',
    scopes: ['read:users', 'read:user_idp_tokens'],
    params,
    query: z.object(fieldsQuery),
    response: userSchema,
    async handler({ params: { id }, tenant }) {
      const user = await stores(tenant.id).users.findById(id);
      if (!user) throw userNotFound();
      return body(tenant.id, user);
    },
  });

  router.add({
    method: 'GET',
    path: '/users-by-email',
    summary: 'Get users by email',
    scopes: ['read:users'],
    query: z.object({ email: z.string().min(1).max(254), ...fieldsQuery }),
    list: { key: 'users', item: userSchema },
    async handler({ query, tenant }) {
      // Exact address, any case (Auth0 matches email case-insensitively), in every connection.
      const users = await stores(tenant.id).users.findByEmail(query.email.trim());
      return { items: await bodies(tenant.id, users), start: 0, limit: users.length, total: users.length };
    },
  });

  router.add({
    method: 'POST',
    path: '/users',
    summary: 'Create a user',
    scopes: ['create:users'],
    body: createBody,
    status: 201,
    audit: 'Create user',
    response: userSchema,
    async handler({ body: input, tenant }) {
      const user = await asHttp(
        services.users.create({
          tenantId: tenant.id,
          connectionName: input.connection,
          email: input.email,
          password: input.password,
          ...(input.username !== undefined ? { username: input.username } : {}),
          ...(input.email_verified !== undefined ? { emailVerified: input.email_verified } : {}),
          ...(input.phone_number !== undefined ? { phoneNumber: input.phone_number } : {}),
          ...(input.name !== undefined ? { name: input.name } : {}),
          ...(input.given_name !== undefined ? { givenName: input.given_name } : {}),
          ...(input.family_name !== undefined ? { familyName: input.family_name } : {}),
          ...(input.nickname !== undefined ? { nickname: input.nickname } : {}),
          ...(input.picture !== undefined ? { picture: input.picture } : {}),
          ...(input.user_metadata !== undefined ? { userMetadata: input.user_metadata } : {}),
          ...(input.app_metadata !== undefined ? { appMetadata: input.app_metadata } : {}),
          ...(input.blocked !== undefined ? { blocked: input.blocked } : {}),
        }),
      );
      return body(tenant.id, user);
    },
  });

  router.add({
    method: 'PATCH',
    path: '/users/:id',
    summary: 'Update a user',
    scopes: ['update:users', 'update:users_app_metadata'],
    params,
    body: updateBody,
    audit: 'Update user',
    response: userSchema,
    async handler({ params: { id }, body: input, tenant, caller }) {
      if (!caller.scopes.has('update:users') && Object.keys(input).some((key) => !METADATA_ONLY.has(key))) {
        throw new HttpError(403, 'Insufficient scope, expected any of: update:users', 'insufficient_scope');
      }
      const existing = await stores(tenant.id).users.findById(id);
      if (!existing) throw userNotFound();
      if (input.connection !== undefined) {
        const own = await stores(tenant.id).connections.findById(existing.connection_id);
        if (own?.name !== input.connection) throw new HttpError(400, 'Moving a user to another connection is not supported.', 'operation_not_supported');
      }
      // One transaction for profile, metadata (first-level merge) and password; a new password revokes the account's stored tokens.
      const user = await asHttp(services.users.update(tenant.id, id, toChanges(input)), 400);
      // A new password releases the user's brute-force blocks (Auth0), publishing `ublkdu` when there were some.
      if (input.password !== undefined) await deps.protection.releaseUser(tenant.id, id, 'password change');
      return body(tenant.id, user);
    },
  });

  router.add({
    method: 'DELETE',
    path: '/users/:id',
    summary: 'Delete a user',
    scopes: ['delete:users'],
    params,
    status: 204,
    audit: 'Delete user',
    async handler({ params: { id }, tenant, caller, request }) {
      // du (the account is gone) and sdu (the deletion succeeded), or fdu; docs/log-events.md.
      const existing = await stores(tenant.id).users.findById(id);
      const connection = existing ? await stores(tenant.id).connections.findById(existing.connection_id) : undefined;
      const about = {
        tenantId: tenant.id,
        userId: id,
        userName: existing?.email ?? existing?.username ?? undefined,
        connection: connection?.name,
        connectionId: connection?.id,
        strategy: connection?.strategy,
        clientId: caller.clientId,
        ip: request.ip,
        userAgent: request.headers['user-agent'],
      };
      let deleted: boolean;
      try {
        // With the user go its SSO sessions, grants, codes and tokens (users service).
        deleted = existing !== undefined && (await services.users.delete(tenant.id, id));
      } catch (error) {
        await deps.events.publish({ ...about, type: 'fdu', description: 'The user could not be deleted.', details: { error: 'server_error' } });
        throw error;
      }
      if (!deleted) {
        await deps.events.publish({ ...about, type: 'fdu', description: 'The user does not exist.', details: { error: 'inexistent_user' } });
        throw userNotFound();
      }
      await Promise.all([deps.events.publish({ ...about, type: 'sdu' }), deps.events.publish({ ...about, type: 'du', description: 'User has been deleted.' })]);
      return undefined;
    },
  });

  registerUserRelationRoutes(router, deps);
}
