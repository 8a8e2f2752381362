import type { FastifyInstance } from 'fastify';

/**
 * Baseline headers on every response. Pages (login, consent) will set their
 * own, stricter CSP with nonces; everything else is data that must never be
 * framed, sniffed or executed.
 */
export function installSecurityHeaders(app: FastifyInstance): void {
  app.addHook('onSend', async function securityHeaders(_request, reply, payload) {
    if (!reply.hasHeader('content-security-policy')) {
      reply.header('content-security-policy', "default-src 'none'; frame-ancestors 'none'");
    }
    reply.header('x-content-type-options', 'nosniff');
    reply.header('x-frame-options', 'DENY');
    reply.header('referrer-policy', 'no-referrer');
    return payload;
  });
}
