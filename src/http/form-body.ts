import { parse as parseQuery } from 'node:querystring';
import type { FastifyInstance } from 'fastify';

/**
 * Accepts `application/x-www-form-urlencoded` bodies in this plugin's scope,
 * parsed to an object (repeated names become arrays, which the protocol
 * engine refuses as duplicates). `bodyLimit` overrides the server-wide limit.
 */
export function acceptFormBodies(app: FastifyInstance, options: { bodyLimit?: number } = {}): void {
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string', ...(options.bodyLimit ? { bodyLimit: options.bodyLimit } : {}) }, function parseForm(_request, body, done) {
    done(null, parseQuery(body as string));
  });
}
