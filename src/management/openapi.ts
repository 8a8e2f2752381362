import { z } from 'zod';
import type { ManagementRoute } from './route.js';

type JsonSchema = Record<string, unknown>;

const ERROR_SCHEMA: JsonSchema = {
  type: 'object',
  required: ['statusCode', 'error', 'message'],
  properties: { statusCode: { type: 'integer' }, error: { type: 'string' }, message: { type: 'string' }, errorCode: { type: 'string' } },
};

const schemaOf = (schema: z.ZodType, io: 'input' | 'output'): JsonSchema => {
  const json = z.toJSONSchema(schema, { io, unrepresentable: 'any' }) as JsonSchema;
  delete json.$schema; // the document's dialect is OpenAPI 3.1's (JSON Schema 2020-12)
  return json;
};

/** Path and query parameters from an object schema's properties. */
function parameters(schema: z.ZodType | undefined, where: 'path' | 'query'): JsonSchema[] {
  if (!schema) return [];
  const json = schemaOf(schema, 'input');
  const properties = (json.properties ?? {}) as Record<string, JsonSchema>;
  const required = new Set((json.required ?? []) as string[]);
  return Object.entries(properties).map(([name, property]) => ({
    name,
    in: where,
    required: where === 'path' || required.has(name),
    ...(typeof property.description === 'string' ? { description: property.description } : {}),
    schema: property,
  }));
}

function successResponse(route: ManagementRoute): JsonSchema {
  const status = route.status ?? 200;
  if (status === 204) return { 204: { description: 'Done' } };
  if ('list' in route) {
    const item = schemaOf(route.list.item, 'output');
    const page = {
      type: 'object',
      required: ['start', 'limit', 'length', 'total', route.list.key],
      properties: { start: { type: 'integer' }, limit: { type: 'integer' }, length: { type: 'integer' }, total: { type: 'integer' }, [route.list.key]: { type: 'array', items: item } },
    };
    return { [status]: { description: 'A page of results (an object with totals when include_totals=true)', content: { 'application/json': { schema: { oneOf: [{ type: 'array', items: item }, page] } } } } };
  }
  return { [status]: { description: 'Success', content: { 'application/json': { schema: route.response ? schemaOf(route.response, 'output') : {} } } } };
}

/**
 * The OpenAPI 3.1 document of /api/v2, generated from the same zod schemas
 * that validate requests and shape responses (one source of truth).
 */
export function openApiDocument(routes: readonly ManagementRoute[], baseUrl: string): JsonSchema {
  const paths: Record<string, Record<string, JsonSchema>> = {};
  for (const route of routes) {
    const path = route.path.replace(/:([A-Za-z_]+)/g, '{$1}');
    const error = (description: string) => ({ description, content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } });
    (paths[path] ??= {})[route.method.toLowerCase()] = {
      summary: route.summary,
      security: [{ bearerAuth: [...route.scopes] }],
      'x-required-scopes': { anyOf: [...route.scopes] },
      parameters: [...parameters(route.params, 'path'), ...parameters(route.query, 'query')],
      ...(route.body ? { requestBody: { required: true, content: { 'application/json': { schema: schemaOf(route.body, 'input') } } } } : {}),
      responses: {
        ...successResponse(route),
        400: error('Invalid request (validation error)'),
        401: error('Missing or invalid token'),
        403: error('Insufficient scope'),
        ...(route.params ? { 404: error('Not found') } : {}),
      },
    };
  }
  return {
    openapi: '3.1.0',
    info: { title: 'Portcullis Management API', version: '2', description: 'Auth0-compatible Management API v2.' },
    servers: [{ url: baseUrl }],
    paths,
    components: {
      securitySchemes: { bearerAuth: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } },
      schemas: { Error: ERROR_SCHEMA },
    },
  };
}
