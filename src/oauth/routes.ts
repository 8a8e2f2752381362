import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { acceptFormBodies } from '../http/form-body.js';
import type { RequestTenant } from '../tenants/routes.js';
import { toEngineAuthorizeUrl, toEngineTokenBody } from './auth0-params.js';
import { handOverResponse } from './hand-over.js';
import type { CachedBody, ProviderRegistry, TenantEngine } from './provider-registry.js';

/** Public documents: cacheable by browsers and CDNs, revalidated by ETag. */
const PUBLIC_CACHE = 'public, max-age=60, stale-while-revalidate=300';

function serveCached(request: FastifyRequest, reply: FastifyReply, cached: CachedBody): FastifyReply {
  reply.header('cache-control', PUBLIC_CACHE).header('etag', cached.etag).header('access-control-allow-origin', '*');
  if (request.headers['if-none-match'] === cached.etag) return reply.code(304).send();
  return reply.type('application/json; charset=utf-8').send(cached.body);
}

/** Hands the request to the tenant's engine, which writes the response. */
function handOver(engine: TenantEngine, request: FastifyRequest, reply: FastifyReply): void {
  handOverResponse(reply);
  engine.handle(request.raw, reply.raw);
}

/**
 * The Authentication API at Auth0's paths. Discovery and JWKS are served
 * from bodies precomputed per engine build; every protocol endpoint is the
 * engine's own (oidc-provider), reached after Auth0-specific parameters are
 * translated. Registered inside the tenant-scoped plugin.
 */
export async function oauthRoutes(app: FastifyInstance, options: { registry: ProviderRegistry }): Promise<void> {
  const engineFor = (request: FastifyRequest) => {
    const { tenant, issuer } = request.tenantContext as RequestTenant;
    return options.registry.get(tenant, issuer);
  };

  // Protocol bodies are parsed here (form or JSON, as Auth0 accepts) so that
  // Auth0 parameters can be translated; the engine takes the parsed body.
  acceptFormBodies(app);

  // Synchronous when the engine is built and current (the common case): no
  // promise per request on the two most-read documents.
  const readyEngine = (request: FastifyRequest) => {
    const { tenant, issuer } = request.tenantContext as RequestTenant;
    return options.registry.peek(tenant, issuer);
  };
  app.get('/.well-known/openid-configuration', function discovery(request, reply) {
    const engine = readyEngine(request);
    if (engine) return serveCached(request, reply, engine.discovery);
    return engineFor(request).then((built) => serveCached(request, reply, built.discovery));
  });
  app.get('/.well-known/jwks.json', function jwks(request, reply) {
    const engine = readyEngine(request);
    if (engine) return serveCached(request, reply, engine.jwks);
    return engineFor(request).then((built) => serveCached(request, reply, built.jwks));
  });

  const tokenLike = async function engineWithBody(request: FastifyRequest, reply: FastifyReply) {
    const engine = await engineFor(request);
    const raw = request.raw as typeof request.raw & { body?: unknown };
    raw.body = toEngineTokenBody(request.body);
    raw.headers['content-type'] = 'application/x-www-form-urlencoded';
    handOver(engine, request, reply);
  };
  app.post('/oauth/token', tokenLike);
  app.post('/oauth/revoke', tokenLike);
  app.post('/oauth/introspect', tokenLike);

  const passThrough = async function engineAsIs(request: FastifyRequest, reply: FastifyReply) {
    const engine = await engineFor(request);
    if (request.raw.url?.startsWith('/authorize')) request.raw.url = toEngineAuthorizeUrl(request.raw.url);
    if (request.body !== undefined) {
      (request.raw as typeof request.raw & { body?: unknown }).body = request.body;
    }
    handOver(engine, request, reply);
  };
  app.route({ method: ['GET', 'POST'], url: '/authorize', handler: passThrough });
  app.route({ method: ['GET', 'POST'], url: '/authorize/*', handler: passThrough });
  app.route({ method: ['GET', 'POST'], url: '/userinfo', handler: passThrough });
  app.route({ method: ['GET', 'POST'], url: '/oidc/logout', handler: passThrough });
  app.route({ method: ['GET', 'POST'], url: '/oidc/logout/*', handler: passThrough });
}
