import { z } from 'zod';
import { HttpError } from '../http/errors.js';
import { LOG_PAGE_CAP, LogCheckpointError, logsStore, type LogEvent } from '../logs/store.js';
import { SearchSyntaxError } from '../search/lucene.js';
import type { ManagementDeps } from './plugin.js';
import { fieldsQuery, pagingQuery, pathId } from './query.js';
import type { ManagementRouter } from './route.js';

/** A log event in Auth0's shape: fields without a value are left out, as Auth0 leaves them out. */
export const logEventSchema = z.object({
  log_id: z.string(),
  date: z.string(),
  type: z.string(),
  description: z.string().optional(),
  ip: z.string().optional(),
  user_agent: z.string().optional(),
  client_id: z.string().optional(),
  client_name: z.string().optional(),
  user_id: z.string().optional(),
  user_name: z.string().optional(),
  connection: z.string().optional(),
  connection_id: z.string().optional(),
  audience: z.string().optional(),
  scope: z.string().optional(),
  strategy: z.string().optional(),
  details: z.record(z.string(), z.unknown()),
});
type LogBody = z.infer<typeof logEventSchema>;

function toLogBody(event: LogEvent): LogBody {
  return Object.fromEntries(Object.entries(event).filter(([, value]) => value !== null)) as LogBody;
}

/**
 * `from` + `take` is Auth0's checkpoint paging: events after `from` in the
 * tenant's commit order (tenant_seq, decision 011: a client continuing from
 * its last log_id never misses a late commit nor gets an event twice),
 * oldest first, at most 100, and "any parameter
 * other than from and take is ignored" — so field selection and totals are
 * dropped here before the router sees them.
 */
const listQuery = z
  .object({
    ...pagingQuery,
    ...fieldsQuery,
    sort: z.enum(['date:1', 'date:-1']).optional(),
    q: z.string().max(2000).optional(),
    /** The auth0 SDK (v5+) sends the query as `search`. */
    search: z.string().max(2000).optional(),
    from: z.string().min(1).max(128).optional(),
    take: z.coerce.number().int().min(1).max(100).optional(),
  })
  .transform((query) => (query.from !== undefined ? { ...query, fields: undefined, include_totals: false } : query));

const notFound = () => new HttpError(404, 'The log does not exist', 'inexistent_log');

/** `GET /api/v2/logs` (paged, sorted, searched with Auth0's Lucene syntax, or by checkpoint) and `GET /api/v2/logs/{id}`. */
export function registerLogRoutes(router: ManagementRouter, deps: ManagementDeps): void {
  const { database, services } = deps;
  const logs = (tenantId: string) => logsStore(database.db, tenantId, services.runtime);

  router.add({
    method: 'GET',
    path: '/logs',
    summary: 'Search log events',
    scopes: ['read:logs'],
    query: listQuery,
    list: { key: 'logs', item: logEventSchema },
    async handler({ query, tenant }) {
      if (query.from !== undefined) {
        const take = query.take ?? 50;
        const events = await logs(tenant.id)
          .listFrom(query.from, take)
          .catch((error: unknown) => {
            if (error instanceof LogCheckpointError) throw new HttpError(400, `Query validation error: '${error.message}' on property from.`, 'invalid_query_string');
            throw error;
          });
        return { items: events.map(toLogBody), start: 0, limit: take };
      }
      if (query.q !== undefined && query.search !== undefined) {
        throw new HttpError(400, "Query validation error: 'q and search are the same parameter; give one' on property search.", 'invalid_query_string');
      }
      const offset = query.page * query.per_page;
      // Auth0 pages through the first 1000 events of a search; checkpoint paging reaches the rest.
      if (offset >= LOG_PAGE_CAP) {
        throw new HttpError(400, `You can only page through the first ${LOG_PAGE_CAP} records. Use checkpoint paging (from, take) for more.`, 'invalid_paging');
      }
      const limit = Math.min(query.per_page, LOG_PAGE_CAP - offset);
      try {
        const result = await logs(tenant.id).search(
          { q: query.q ?? query.search, offset, limit, ascending: query.sort === 'date:1', includeTotals: query.include_totals },
          database.capabilities.name,
        );
        return { items: result.events.map(toLogBody), start: offset, limit: query.per_page, ...(result.total !== undefined ? { total: result.total } : {}) };
      } catch (error) {
        if (error instanceof SearchSyntaxError) throw new HttpError(400, `Query validation error: '${error.message}' on property q.`, 'invalid_query_string');
        throw error;
      }
    },
  });

  router.add({
    method: 'GET',
    path: '/logs/:id',
    summary: 'Get a log event by id',
    scopes: ['read:logs'],
    params: z.strictObject({ id: pathId }),
    response: logEventSchema,
    async handler({ params: { id }, tenant }) {
      const event = await logs(tenant.id).get(id);
      if (!event) throw notFound();
      return toLogBody(event);
    },
  });
}
