import type { FastifyReply } from 'fastify';

/**
 * Gives the raw response to the engine, which writes it itself. Headers
 * already set on the Fastify reply (request id, security headers) are copied
 * to the raw response first, or they would be lost.
 */
export function handOverResponse(reply: FastifyReply): void {
  for (const [name, value] of Object.entries(reply.getHeaders())) {
    if (value !== undefined) reply.raw.setHeader(name, value as string);
  }
  reply.hijack();
}
