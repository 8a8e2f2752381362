import { z } from 'zod';
import { HttpError } from '../http/errors.js';
import { FILTER_CATEGORY_NAMES } from '../logstreams/categories.js';
import type { LogStreamView } from '../logstreams/service.js';
import { StreamConfigError } from '../logstreams/sink-config.js';
import type { ManagementDeps } from './plugin.js';
import { pathId } from './query.js';
import type { ManagementRouter } from './route.js';

const filter = z.strictObject({
  type: z.literal('category', { error: 'only "category" filters exist' }),
  name: z.enum(FILTER_CATEGORY_NAMES, { error: (issue) => `unknown filter category "${String(issue.input)}" (known: ${FILTER_CATEGORY_NAMES.join(', ')})` }),
});
const filters = z.array(filter).max(50);
const name = z.string().min(1).max(255);
/** Validated per type by the service, which names the failing field (`sink.httpEndpoint`, …). */
const sink = z.record(z.string(), z.unknown());

const createBody = z.strictObject({
  name: name.optional(),
  type: z.string().min(1).max(64),
  sink,
  filters: filters.optional(),
  startFrom: z.iso.datetime({ offset: true, error: 'must be an ISO 8601 date and time (e.g. 2026-01-02T03:04:05Z)' }).optional(),
});

const updateBody = z.strictObject({
  name: name.optional(),
  // `suspended` is the worker's verdict, not a caller's choice (Auth0: active|paused).
  status: z.enum(['active', 'paused'], { error: 'status can be set to "active" or "paused"' }).optional(),
  sink: sink.optional(),
  filters: filters.optional(),
});

export const logStreamSchema = z.object({
  id: z.string(),
  name: z.string(),
  type: z.string(),
  status: z.enum(['active', 'paused', 'suspended']),
  sink: z.record(z.string(), z.unknown()),
  filters: z.array(z.object({ type: z.string(), name: z.string() })),
});

const notFound = () => new HttpError(404, 'The log stream does not exist.', 'inexistent_log_stream');

/** A sink or type the service refused: 400 naming the field, in the router's words. */
function asHttpError(error: unknown): unknown {
  return error instanceof StreamConfigError ? new HttpError(400, `Payload validation error: '${error.message}' on property ${error.path}.`, 'invalid_body') : error;
}

async function answering<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    throw asHttpError(error);
  }
}

/**
 * `/api/v2/log-streams` in Auth0's shape (docs/log-streams.md): `http`
 * (custom webhook) and, a Portcullis extension, `nats` (JetStream) sinks.
 * Secrets in a sink are sealed at rest and answered as `********`.
 */
export function registerLogStreamRoutes(router: ManagementRouter, deps: ManagementDeps): void {
  const streams = deps.services.logStreams;
  const params = z.strictObject({ id: pathId });
  const byId = async (tenantId: string, id: string): Promise<LogStreamView> => (await streams.get(tenantId, id)) ?? Promise.reject(notFound());

  router.add({
    method: 'GET',
    path: '/log-streams',
    summary: 'Get log streams',
    scopes: ['read:log_streams'],
    response: z.array(logStreamSchema),
    handler: async ({ tenant }) => streams.list(tenant.id),
  });

  router.add({
    method: 'POST',
    path: '/log-streams',
    summary: 'Create a log stream',
    scopes: ['create:log_streams'],
    body: createBody,
    response: logStreamSchema,
    audit: 'Create a log stream',
    handler: ({ body, tenant }) => answering(() => streams.create(tenant.id, body)),
  });

  router.add({
    method: 'GET',
    path: '/log-streams/:id',
    summary: 'Get a log stream',
    scopes: ['read:log_streams'],
    params,
    response: logStreamSchema,
    handler: ({ params: { id }, tenant }) => byId(tenant.id, id),
  });

  router.add({
    method: 'PATCH',
    path: '/log-streams/:id',
    summary: 'Update a log stream',
    scopes: ['update:log_streams'],
    params,
    body: updateBody,
    response: logStreamSchema,
    audit: 'Update a log stream',
    handler: async ({ params: { id }, body, tenant }) => (await answering(() => streams.update(tenant.id, id, body))) ?? Promise.reject(notFound()),
  });

  router.add({
    method: 'DELETE',
    path: '/log-streams/:id',
    summary: 'Delete a log stream',
    scopes: ['delete:log_streams'],
    params,
    status: 204,
    audit: 'Delete a log stream',
    async handler({ params: { id }, tenant }) {
      if (!(await streams.delete(tenant.id, id))) throw notFound();
      return undefined;
    },
  });
}
