import type { FastifyInstance } from 'fastify';

/**
 * Baseline headers on every response, set once per request from a frozen
 * object (no per-request allocation). Pages (login, consent) set their own,
 * stricter CSP with nonces, overriding this one; everything else is data that
 * must never be framed, sniffed or executed. (X-Frame-Options is not sent:
 * CSP frame-ancestors supersedes it in every supported browser, and ASVS 5
 * §3.4.6 asks for frame-ancestors on every response.)
 */
export const BASELINE_SECURITY_HEADERS = Object.freeze({
  'content-security-policy': "default-src 'none'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
});

/**
 * One synchronous onRequest hook for what every response carries: the request
 * id and the baseline security headers. Callback style: hot paths such as
 * /healthz pay no promise.
 */
export function installResponseHeaders(app: FastifyInstance): void {
  app.addHook('onRequest', function baselineHeaders(request, reply, done) {
    reply.headers(BASELINE_SECURITY_HEADERS);
    reply.header('x-request-id', request.id);
    done();
  });
}
