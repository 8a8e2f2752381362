import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { z } from 'zod';
import { HttpError } from '../http/errors.js';
import type { RequestTenant } from '../tenants/routes.js';
import { requireAnyScope, type ManagementCaller } from './auth.js';

type Method = 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE';

/** What a handler gets: validated input, the caller and its tenant. */
export interface RouteContext<P, Q, B> {
  readonly params: P;
  readonly query: Q;
  readonly body: B;
  readonly caller: ManagementCaller;
  readonly tenant: RequestTenant['tenant'];
  readonly issuer: string;
  readonly request: FastifyRequest;
}

/** A list answer: the items of this page, and the total when `include_totals` was asked. */
export interface Page<T> {
  readonly items: readonly T[];
  readonly start: number;
  readonly limit: number;
  readonly total?: number;
}

interface RouteBase<P, Q, B> {
  readonly method: Method;
  /** Fastify path under /api/v2, e.g. `/clients/:id`. */
  readonly path: string;
  readonly summary: string;
  /** The caller needs any one of these scopes (Auth0's rule). */
  readonly scopes: readonly string[];
  readonly params?: z.ZodType<P>;
  readonly query?: z.ZodType<Q>;
  readonly body?: z.ZodType<B>;
  /** Status of a successful answer (200 unless said). */
  readonly status?: 200 | 201 | 204;
  /** Audit description of a mutation (Auth0's sapi/fapi `description`), e.g. "Create a client". */
  readonly audit?: string;
}

/**
 * A route whose answer is one object (or nothing, for 204). The answer is
 * produced THROUGH `response`: zod drops every property the schema does not
 * declare, so a secret, a hash or an internal column can only reach a caller
 * if a schema names it.
 */
export interface ObjectRoute<P, Q, B, R> extends RouteBase<P, Q, B> {
  readonly response?: z.ZodType<R>;
  readonly handler: (ctx: RouteContext<P, Q, B>) => Promise<R | undefined>;
}

/**
 * A route answering a list: a plain array, or with `include_totals=true`
 * Auth0's `{ start, limit, length, total, <key>: [...] }`.
 */
export interface ListRoute<P, Q, B, R> extends RouteBase<P, Q, B> {
  readonly list: { readonly key: string; readonly item: z.ZodType<R> };
  readonly handler: (ctx: RouteContext<P, Q, B>) => Promise<Page<R>>;
}

export type ManagementRoute = ObjectRoute<any, any, any, any> | ListRoute<any, any, any, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

export interface RouteHooks {
  /** Verifies the bearer token and the route's scopes; throws HttpError 401/403. */
  readonly authenticate: (request: FastifyRequest, scopes: readonly string[]) => Promise<ManagementCaller>;
  /** Records a mutation's outcome (Auth0 `sapi` / `fapi`) before the answer is sent. */
  readonly audit: (request: FastifyRequest, caller: ManagementCaller, route: ManagementRoute, outcome: { statusCode: number; error?: string }) => Promise<void>;
}

/** Registers routes on the Fastify instance (mounted at /api/v2) and keeps them for the OpenAPI document. */
export class ManagementRouter {
  readonly routes: ManagementRoute[] = [];

  constructor(
    private readonly app: FastifyInstance,
    private readonly hooks: RouteHooks,
  ) {}

  add<P, Q, B, R>(route: ObjectRoute<P, Q, B, R> | ListRoute<P, Q, B, R>): void {
    this.routes.push(route as ManagementRoute);
    const hooks = this.hooks;
    this.app.route({
      method: route.method,
      url: route.path,
      handler: async function managementRoute(request: FastifyRequest, reply: FastifyReply) {
        // A bad or missing token is refused before anything (no caller to audit);
        // a valid token without the scope is a refused mutation like any other (fapi).
        const caller = await hooks.authenticate(request, []);
        const mutation = route.method !== 'GET';
        try {
          requireAnyScope(caller, route.scopes);
          const params = parse(route.params, request.params ?? {}, 'invalid_uri', 'Path validation error');
          const query = parse(route.query, request.query ?? {}, 'invalid_query_string', 'Query validation error');
          const body = parse(route.body, request.body ?? {}, 'invalid_body', 'Payload validation error');
          const { tenant, issuer } = request.tenantContext as RequestTenant;
          const context = { params, query, body, caller, tenant, issuer, request } as RouteContext<P, Q, B>;
          const status = route.status ?? 200;
          let payload: unknown;
          if ('list' in route) {
            const page = await route.handler(context);
            payload = listPayload(route.list.key, page.items.map((item) => route.list.item.parse(item)), page, query);
          } else {
            const result = await route.handler(context);
            payload = route.response && result !== undefined ? project(route.response.parse(result), query) : undefined;
          }
          if (mutation) await hooks.audit(request, caller, route as ManagementRoute, { statusCode: status });
          reply.code(status);
          return status === 204 ? reply.send() : reply.send(payload);
        } catch (error) {
          if (mutation && error instanceof HttpError) await hooks.audit(request, caller, route as ManagementRoute, { statusCode: error.statusCode, error: error.message });
          throw error;
        }
      },
    });
  }
}

/** Auth0's validation errors: `Payload validation error: '<what>' on property <path>.` */
function parse<T>(schema: z.ZodType<T> | undefined, value: unknown, errorCode: string, prefix: string): T {
  if (!schema) return value as T;
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const where = issue && issue.path.length > 0 ? ` on property ${issue.path.join('.')}` : '';
  const what = issue?.code === 'unrecognized_keys' ? `Additional properties not allowed: ${issue.keys.join(',')}` : (issue?.message ?? 'invalid');
  throw new HttpError(400, `${prefix}: '${what}'${where}.`, errorCode);
}

/** `fields` + `include_fields` (Auth0): keep only, or drop, the named top-level fields. */
function project(value: unknown, query: unknown): unknown {
  const { fields, include_fields: include } = (query ?? {}) as { fields?: unknown; include_fields?: unknown };
  if (typeof fields !== 'string' || fields.length === 0 || !value || typeof value !== 'object') return value;
  const names = new Set(fields.split(',').map((f) => f.trim()).filter(Boolean));
  const keep = include !== false && include !== 'false';
  return Object.fromEntries(Object.entries(value).filter(([k]) => names.has(k) === keep));
}

function listPayload(key: string, items: unknown[], page: Page<unknown>, query: unknown): unknown {
  const projected = items.map((item) => project(item, query));
  const totals = (query as { include_totals?: unknown } | undefined)?.include_totals;
  if (totals !== true && totals !== 'true') return projected;
  return { start: page.start, limit: page.limit, length: projected.length, total: page.total ?? projected.length, [key]: projected };
}
