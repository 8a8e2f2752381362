import { z } from 'zod';
import { DEFAULT_DATABASE_CONNECTION, type Connection } from '../connections/store.js';
import { HttpError } from '../http/errors.js';
import { isUniqueViolation } from '../storage/errors.js';
import { writeTransaction } from '../storage/transaction.js';
import { tenantStores } from '../tenants/tenant-stores.js';
import { DATABASE_STRATEGY } from '../users/service.js';
import { DEFAULT_MIN_LENGTH, passwordPolicyOf } from '../users/password-policy.js';
import type { ManagementDeps } from './plugin.js';
import { fieldsQuery, pagingQuery, pathId } from './query.js';
import type { ManagementRouter } from './route.js';

/** Auth0's connection name rule: letters, digits and `-`, not at either end, at most 128. */
const NAME_PATTERN = /^[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?$/;
const connectionName = z
  .string()
  .min(1)
  .max(128)
  .regex(NAME_PATTERN, 'String does not match pattern ^[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?$ (letters, digits and "-", not first or last)');

/**
 * Only database connections exist here; any other strategy is refused with a
 * message that says so, rather than stored and never used.
 */
const strategy = z.literal(DATABASE_STRATEGY, {
  error: (issue) => `strategy "${String(issue.input)}" is not supported: Portcullis has database connections only (strategy "auth0")`,
});

/**
 * Auth0's `passwordPolicy` levels as minimum lengths. Portcullis checks a
 * length range and a list of leaked passwords, never composition rules
 * (NIST SP 800-63B-4 §3.1.1.2), so a level is stored as its length only
 * (decision 010: one representation, `password_complexity_options.min_length`).
 */
const POLICY_MIN_LENGTH = { none: 1, low: 6, fair: 8, good: 8, excellent: 10 } as const;

const clientIds = z.array(z.string().min(1).max(256)).max(1000);

/** The database-connection options Portcullis acts on; anything else is refused, not stored and ignored. */
const optionsBody = z.strictObject({
  passwordPolicy: z.enum(['none', 'low', 'fair', 'good', 'excellent']).nullable().optional(),
  password_complexity_options: z.strictObject({ min_length: z.number().int().min(1).max(128).optional() }).optional(),
  disable_signup: z.boolean().optional(),
  brute_force_protection: z.boolean().optional(),
  requires_username: z.boolean().optional(),
  validation: z
    .strictObject({
      username: z.strictObject({ min: z.number().int().min(1).max(128), max: z.number().int().min(1).max(128) }).refine((u) => u.min <= u.max, 'min must not exceed max'),
    })
    .optional(),
});
type OptionsBody = z.infer<typeof optionsBody>;

const createBody = z.strictObject({ name: connectionName, strategy, options: optionsBody.optional(), enabled_clients: clientIds.optional() });
const updateBody = z.strictObject({ options: optionsBody.nullable().optional(), enabled_clients: clientIds.nullable().optional() });

const optionsSchema = z.object({
  password_complexity_options: z.object({ min_length: z.number() }),
  disable_signup: z.boolean(),
  brute_force_protection: z.boolean(),
  requires_username: z.boolean(),
  validation: z.object({ username: z.object({ min: z.number(), max: z.number() }) }).optional(),
});

/** A connection in Auth0's shape. */
export const connectionSchema = z.object({
  id: z.string(),
  name: z.string(),
  strategy: z.string(),
  options: optionsSchema,
  enabled_clients: z.array(z.string()),
  realms: z.array(z.string()),
  is_domain_connection: z.boolean(),
});
type ConnectionBody = z.infer<typeof connectionSchema>;

/** Items after `fields` selection: any subset of the declared fields, nothing else. */
const selectedConnection = connectionSchema.partial();

/**
 * The stored options of a database connection: every field the users
 * capability reads, with Auth0's defaults (brute-force protection on, signup
 * open, no username) and Portcullis's 12-character minimum. PATCH replaces
 * options as a whole, as Auth0 does, so unspecified ones return to defaults.
 */
export function storedOptions(input: OptionsBody | null | undefined): Record<string, unknown> {
  const policy = input?.passwordPolicy ?? undefined;
  const minLength = input?.password_complexity_options?.min_length ?? (policy ? POLICY_MIN_LENGTH[policy] : DEFAULT_MIN_LENGTH);
  return {
    password_complexity_options: { min_length: minLength },
    disable_signup: input?.disable_signup ?? false,
    brute_force_protection: input?.brute_force_protection ?? true,
    requires_username: input?.requires_username ?? false,
    ...(input?.validation ? { validation: input.validation } : {}),
  };
}

function usernameValidation(options: Record<string, unknown>) {
  const username = (options.validation as { username?: { min?: unknown; max?: unknown } } | undefined)?.username;
  return typeof username?.min === 'number' && typeof username.max === 'number' ? { username: { min: username.min, max: username.max } } : undefined;
}

/** A stored connection as Auth0's object; options as the users capability reads them (effective values). */
function toConnectionBody(connection: Connection, enabledClients: readonly string[]): ConnectionBody {
  const options = connection.options;
  const validation = usernameValidation(options);
  return {
    id: connection.id,
    name: connection.name,
    strategy: connection.strategy,
    options: {
      password_complexity_options: { min_length: passwordPolicyOf(options).minLength },
      disable_signup: options.disable_signup === true,
      brute_force_protection: options.brute_force_protection !== false,
      requires_username: options.requires_username === true,
      ...(validation ? { validation } : {}),
    },
    enabled_clients: [...enabledClients],
    realms: [connection.name],
    is_domain_connection: false,
  };
}

/** `fields` + `include_fields` on one item (the router cannot: this list answers in two shapes). */
function selectFields(item: ConnectionBody, fields: string | undefined, include: boolean): Partial<ConnectionBody> {
  if (!fields) return item;
  const names = new Set(fields.split(',').map((f) => f.trim()).filter(Boolean));
  return Object.fromEntries(Object.entries(item).filter(([k]) => names.has(k) === include));
}

/** Code-point order: the same on both backends, whatever PostgreSQL's collation. */
const byCodePoint = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** Checkpoint cursors are opaque to callers: the last item's sort key, base64url. */
const encodeCursor = (key: string) => Buffer.from(key, 'utf8').toString('base64url');
function decodeCursor(cursor: string): string {
  if (!/^[A-Za-z0-9_-]{1,700}$/.test(cursor)) throw new HttpError(400, "Query validation error: 'Invalid checkpoint' on property from.", 'invalid_query_string');
  return Buffer.from(cursor, 'base64url').toString('utf8');
}

const checkpointQuery = {
  from: z.string().min(1).max(1000).optional(),
  take: z.coerce.number().int().min(1).max(100).optional(),
};

/**
 * The list's query. `fields`/`include_fields` are moved aside (`selection`)
 * because the router's projection applies to a whole answer, and this answer
 * may be `{ connections, next }`: items are projected here instead.
 */
const listQuery = z
  .object({
    ...pagingQuery,
    ...fieldsQuery,
    ...checkpointQuery,
    strategy: z.union([z.string().max(64), z.array(z.string().max(64)).max(20)]).optional(),
    name: z.string().max(128).optional(),
  })
  .transform(({ fields, include_fields, ...rest }) => ({ ...rest, selection: { fields, include: include_fields } }));

const listAnswer = z.union([
  z.object({ start: z.number(), limit: z.number(), length: z.number(), total: z.number(), connections: z.array(selectedConnection) }),
  z.object({ connections: z.array(selectedConnection), next: z.string().optional() }),
  z.array(selectedConnection),
]);

const notFound = () => new HttpError(404, 'The connection does not exist', 'inexistent_connection');
const unknownClient = (clientId: string) => new HttpError(400, `Payload validation error: 'The client "${clientId}" does not exist' on property enabled_clients.`, 'invalid_body');

/**
 * `/api/v2/connections` (database connections) and its enabled clients.
 * Connections are read per request by the users service (signup, login,
 * password change): a change is in force at once, on every node.
 */
export function registerConnectionRoutes(router: ManagementRouter, deps: ManagementDeps): void {
  const { database, services } = deps;
  const stores = (tenantId: string) => tenantStores(database.db, tenantId, services.runtime);
  const params = z.strictObject({ id: pathId });

  async function bodyOf(tenantId: string, connection: Connection): Promise<ConnectionBody> {
    return toConnectionBody(connection, await stores(tenantId).connections.enabledClients(connection.id));
  }

  router.add({
    method: 'GET',
    path: '/connections',
    summary: 'Get all connections',
    scopes: ['read:connections'],
    query: listQuery,
    response: listAnswer,
    async handler({ query, tenant }) {
      const strategies = query.strategy === undefined ? undefined : new Set(Array.isArray(query.strategy) ? query.strategy : [query.strategy]);
      const all = (await stores(tenant.id).connections.list())
        .filter((c) => (!strategies || strategies.has(c.strategy)) && (query.name === undefined || c.name === query.name))
        .sort((a, b) => byCodePoint(a.name, b.name));
      const project = (items: readonly Connection[]) =>
        Promise.all(items.map(async (c) => selectFields(connectionSchema.parse(await bodyOf(tenant.id, c)), query.selection.fields, query.selection.include)));

      // Checkpoint paging (Auth0: `from` + `take`, answered as `{ connections, next }`).
      if (query.from !== undefined || query.take !== undefined) {
        const after = query.from === undefined ? undefined : decodeCursor(query.from);
        const take = query.take ?? 50;
        const rest = after === undefined ? all : all.filter((c) => c.name > after);
        const page = rest.slice(0, take);
        const last = page.at(-1);
        return { connections: await project(page), ...(rest.length > take && last ? { next: encodeCursor(last.name) } : {}) };
      }
      const offset = query.page * query.per_page;
      const items = await project(all.slice(offset, offset + query.per_page));
      return query.include_totals ? { start: offset, limit: query.per_page, length: items.length, total: all.length, connections: items } : items;
    },
  });

  router.add({
    method: 'GET',
    path: '/connections/:id',
    summary: 'Get a connection',
    scopes: ['read:connections'],
    params,
    query: z.object(fieldsQuery),
    response: connectionSchema,
    async handler({ params: { id }, tenant }) {
      const connection = await stores(tenant.id).connections.findById(id);
      if (!connection) throw notFound();
      return bodyOf(tenant.id, connection);
    },
  });

  router.add({
    method: 'POST',
    path: '/connections',
    summary: 'Create a connection',
    scopes: ['create:connections'],
    body: createBody,
    status: 201,
    audit: 'Create connection',
    response: connectionSchema,
    async handler({ body, tenant }) {
      try {
        return await writeTransaction(database, async (trx) => {
          const connections = tenantStores(trx, tenant.id, services.runtime).connections;
          const created = await connections.insert({ name: body.name, strategy: body.strategy, options: storedOptions(body.options) });
          if (body.enabled_clients) {
            const result = await connections.replaceEnabledClients(created.id, body.enabled_clients);
            if (!result.ok) throw unknownClient(result.missing === 'no_connection' ? '' : (result.missing[0] ?? ''));
          }
          return toConnectionBody(created, await connections.enabledClients(created.id));
        });
      } catch (error) {
        // The unique index (tenant, name) is the race-free answer to "does it exist?".
        if (isUniqueViolation(error)) throw new HttpError(409, 'A connection with the same name already exists', 'connection_conflict');
        throw error;
      }
    },
  });

  router.add({
    method: 'PATCH',
    path: '/connections/:id',
    summary: 'Update a connection',
    scopes: ['update:connections'],
    params,
    body: updateBody,
    audit: 'Update connection',
    response: connectionSchema,
    async handler({ params: { id }, body, tenant }) {
      return writeTransaction(database, async (trx) => {
        const connections = tenantStores(trx, tenant.id, services.runtime).connections;
        if (!(await connections.findById(id))) throw notFound();
        // Auth0: `options` replaces the whole options object; what it leaves out returns to its default.
        if (body.options !== undefined) await connections.updateOptions(id, storedOptions(body.options));
        if (body.enabled_clients !== undefined) {
          const result = await connections.replaceEnabledClients(id, body.enabled_clients ?? []);
          if (!result.ok) throw result.missing === 'no_connection' ? notFound() : unknownClient(result.missing[0] ?? '');
        }
        const updated = await connections.findById(id);
        if (!updated) throw notFound();
        return toConnectionBody(updated, await connections.enabledClients(id));
      });
    },
  });

  router.add({
    method: 'DELETE',
    path: '/connections/:id',
    summary: 'Delete a connection',
    scopes: ['delete:connections'],
    params,
    status: 204,
    audit: 'Delete connection',
    async handler({ params: { id }, tenant }) {
      const connection = await stores(tenant.id).connections.findById(id);
      if (!connection) throw notFound();
      // Decision 010: the login pages and /dbconnections default to this connection by name.
      if (connection.name === DEFAULT_DATABASE_CONNECTION) {
        throw new HttpError(400, `The ${DEFAULT_DATABASE_CONNECTION} connection is the one the login pages use and cannot be deleted`, 'operation_not_supported');
      }
      // As Auth0: the connection's users go with it (foreign keys: users, identities, credentials).
      if (!(await stores(tenant.id).connections.delete(id))) throw notFound();
      return undefined;
    },
  });

  router.add({
    method: 'GET',
    path: '/connections/:id/clients',
    summary: 'Get enabled clients for a connection',
    scopes: ['read:connections'],
    params,
    query: z.object(checkpointQuery),
    response: z.object({ clients: z.array(z.object({ client_id: z.string() })), next: z.string().optional() }),
    async handler({ params: { id }, query, tenant }) {
      const connections = stores(tenant.id).connections;
      if (!(await connections.findById(id))) throw notFound();
      const all = (await connections.enabledClients(id)).sort(byCodePoint);
      const after = query.from === undefined ? undefined : decodeCursor(query.from);
      const take = query.take ?? 50;
      const rest = after === undefined ? all : all.filter((clientId) => clientId > after);
      const page = rest.slice(0, take);
      const last = page.at(-1);
      return { clients: page.map((clientId) => ({ client_id: clientId })), ...(rest.length > take && last ? { next: encodeCursor(last) } : {}) };
    },
  });

  router.add({
    method: 'PATCH',
    path: '/connections/:id/clients',
    summary: 'Update enabled clients for a connection',
    scopes: ['update:connections'],
    params,
    // Auth0: at most 50 changes per request.
    body: z.array(z.strictObject({ client_id: z.string().min(1).max(256), status: z.boolean() })).min(1).max(50),
    status: 204,
    audit: 'Update enabled clients for connection',
    async handler({ params: { id }, body, tenant }) {
      await writeTransaction(database, async (trx) => {
        const connections = tenantStores(trx, tenant.id, services.runtime).connections;
        if (!(await connections.findById(id))) throw notFound();
        for (const change of body) {
          if (!change.status) await connections.disableClient(id, change.client_id);
          else if (!(await connections.enableClient(id, change.client_id))) {
            throw new HttpError(400, `Payload validation error: 'The client "${change.client_id}" does not exist'.`, 'invalid_body');
          }
        }
      });
      return undefined;
    },
  });
}
