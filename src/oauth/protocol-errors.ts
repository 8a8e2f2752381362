import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

/** An RFC 6749 §5.2 error body. */
export function oauthError(reply: FastifyReply, status: number, error: string, description: string): FastifyReply {
  return reply.code(status).header('cache-control', 'no-store').send({ error, error_description: description });
}

function containsNul(value: unknown): boolean {
  if (typeof value === 'string') return value.includes('\u0000');
  if (Array.isArray(value)) return value.some(containsNul);
  if (value && typeof value === 'object') return Object.entries(value).some(([k, v]) => k.includes('\u0000') || containsNul(v));
  return false;
}

/**
 * Protocol endpoints answer RFC 6749 errors even for what fails before the
 * engine runs: an unparseable or oversized body is `invalid_request` (with
 * 400 or 413), never the generic error shape. And no parameter may contain a
 * NUL character: PostgreSQL text cannot hold one, and no OAuth parameter
 * needs it (RFC 6749 Appendix A limits them to printable characters).
 */
export function installProtocolErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler(function renderProtocolError(error: FastifyError, request: FastifyRequest, reply: FastifyReply) {
    const status = typeof error.statusCode === 'number' && error.statusCode >= 400 && error.statusCode < 500 ? error.statusCode : 500;
    if (status === 500) {
      request.log.error({ err: error }, 'protocol request failed');
      return oauthError(reply, 500, 'server_error', 'An unexpected error occurred.');
    }
    return oauthError(reply, status, 'invalid_request', error.message);
  });

  app.addHook('preHandler', function refuseNul(request, reply, done) {
    const url = request.raw.url ?? '';
    if (/%00/i.test(url) || url.includes('\u0000') || containsNul(request.body)) {
      oauthError(reply, 400, 'invalid_request', 'parameters must not contain NUL characters');
      return;
    }
    done();
  });
}
