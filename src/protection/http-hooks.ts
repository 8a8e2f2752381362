import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { errorBody } from '../http/errors.js';
import { brandingOf, sendPage } from '../login/page-reply.js';
import { errorPage } from '../login/views.js';
import { oauthError } from '../oauth/protocol-errors.js';
import type { RequestTenant } from '../tenants/routes.js';
import { rememberClientIp } from './client-ip.js';
import { familyOf, type RateLimitFamily, type RateLimitVerdict } from './rate-limits.js';
import type { AttackProtection, Throttled } from './service.js';
import { SUSPICIOUS_IP_MESSAGE } from './suspicious-ip.js';

/** Auth0's message for a request over its tenant's limit. */
export const RATE_LIMITED = 'Global limit has been reached';

const API_NAMES: Record<RateLimitFamily, string> = { token: 'the token endpoint', login: 'the login pages', management: 'the Management API' };

/** The 429 in the endpoint's own error language. */
function refuse(request: FastifyRequest, reply: FastifyReply, family: RateLimitFamily, retryAfterSeconds: number, message: string, code: string): FastifyReply {
  reply.header('retry-after', String(retryAfterSeconds));
  if (family === 'management') return reply.code(429).send(errorBody(429, message, code));
  if (family === 'token') return oauthError(reply, 429, code, message);
  const path = request.url.split('?')[0];
  if (path === '/dbconnections/signup') return reply.code(429).send({ name: 'TooManyAttemptsError', code, description: message, statusCode: 429 });
  const { tenant } = request.tenantContext as RequestTenant;
  return sendPage(reply, 429, (nonce) => errorPage(brandingOf(tenant), nonce, 'Too many attempts', message));
}

function rateLimitHeaders(reply: FastifyReply, verdict: RateLimitVerdict): void {
  reply.header('x-ratelimit-limit', String(verdict.limit)).header('x-ratelimit-remaining', String(verdict.remaining)).header('x-ratelimit-reset', String(verdict.resetAt));
}

const SIGNUP_POSTS = new Set(['/u/login/signup', '/dbconnections/signup']);

/**
 * The request-level protections of the tenant-scoped routes, in one
 * onRequest hook after tenant resolution: per-tenant rate limits of the
 * token endpoint, the login POSTs and the Management API (429 with
 * Retry-After and Auth0's X-RateLimit-* headers, `api_limit` once per window);
 * suspicious-IP throttling of signups; and the client IP Fastify resolved,
 * kept for the password grants. Other requests pay one string comparison.
 */
export function installProtectionHooks(app: FastifyInstance, protection: AttackProtection): void {
  // Callback style: requests of no protected family (discovery, JWKS, pages)
  // leave at once, without a promise.
  app.addHook('onRequest', function attackProtection(request, reply, done) {
    const family = familyOf(request.method, request.url);
    if (family === undefined) return done();
    protect(request, reply, family).then(
      // An answered request (429) must not go on: done() only when it was let through.
      (answered) => (answered ? undefined : done()),
      (error: unknown) => done(error as Error),
    );
  });

  /** Applies the family's protections; true when it answered the request itself (a 429). */
  async function protect(request: FastifyRequest, reply: FastifyReply, family: RateLimitFamily): Promise<boolean> {
    const { tenant } = request.tenantContext as RequestTenant;
    if (family === 'token') rememberClientIp(request.raw, request.ip);
    const verdict = await protection.rateLimits.check(family, tenant.id);
    if (verdict) {
      rateLimitHeaders(reply, verdict);
      if (!verdict.allowed) {
        if (verdict.firstRefused) {
          await protection.publish({
            tenantId: tenant.id,
            type: 'api_limit',
            ip: request.ip,
            userAgent: request.headers['user-agent'],
            description: `Rate limit exceeded for ${API_NAMES[family]}: ${verdict.limit} requests per second`,
            details: { family, limit: verdict.limit, path: request.url.split('?')[0] },
          });
        }
        protection.onRateLimited();
        refuse(request, reply, family, verdict.retryAfterSeconds, RATE_LIMITED, 'too_many_requests');
        return true;
      }
    }
    if (family === 'login' && SIGNUP_POSTS.has(request.url.split('?')[0] as string)) {
      const throttled: Throttled | undefined = await protection.guardSignup(tenant, request.ip);
      if (throttled) {
        refuse(request, reply, family, throttled.retryAfterSeconds, SUSPICIOUS_IP_MESSAGE, 'too_many_attempts');
        return true;
      }
    }
    return false;
  }
}
