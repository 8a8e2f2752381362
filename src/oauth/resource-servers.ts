import { errors, type KoaContextWithOIDC, type ResourceServer as EngineResourceServer } from 'oidc-provider';
import type { ResourceServer } from '../apis/store.js';
import type { TenantStores } from '../tenants/tenant-stores.js';

/**
 * Auth0 semantics for `audience` on top of oidc-provider's resource
 * indicators (RFC 8707). The `audience` parameter is mapped to `resource`
 * before the engine sees the request (auth0-params.ts); here the engine asks
 * what a given API allows:
 *
 * - an unknown API → `invalid_target`;
 * - client_credentials: only the scopes of the client's grant for that API;
 *   no grant → 403 `access_denied` (Auth0's answer); when the request names no
 *   scope, every granted scope (Auth0 issues all of them);
 * - user flows: the scopes the API defines (RBAC filtering comes with users).
 */
export function resourceServerInfo(stores: { resourceServers: Pick<TenantStores['resourceServers'], 'findByIdentifier'>; clientGrants: Pick<TenantStores['clientGrants'], 'find'> }, options: { defaultTtlSeconds: number; signingAlg: string }) {
  return async function getResourceServerInfo(ctx: KoaContextWithOIDC, indicator: string, client: { clientId: string }): Promise<EngineResourceServer> {
    const api = await stores.resourceServers.findByIdentifier(indicator);
    if (!api) throw new errors.InvalidTarget(`Service not found: ${indicator}`);
    let scopes = api.scopes.map((s) => s.value);
    if (ctx.oidc.params?.grant_type === 'client_credentials') {
      const grant = await stores.clientGrants.find(client.clientId, api.identifier);
      if (!grant) {
        const denied = new errors.AccessDenied(`Client is not authorized to access "${api.identifier}". You need to create a "client-grant" associated to this API.`);
        denied.status = 403;
        denied.statusCode = 403;
        throw denied;
      }
      const granted = new Set(grant.scope);
      scopes = scopes.filter((s) => granted.has(s));
      // Auth0: a client_credentials request without `scope` gets every
      // granted scope. The engine reads the requested scope after asking for
      // the resource server, so filling it in here takes effect.
      if (ctx.oidc.params && ctx.oidc.params.scope === undefined && scopes.length > 0) ctx.oidc.params.scope = scopes.join(' ');
    }
    return engineResourceServer(api, scopes, options);
  };
}

/**
 * Access tokens are signed with the tenant's current key, whatever its
 * algorithm (an API's `signing_alg` of RS256 is Auth0's default and is met
 * when the tenant signs with RS256; HS256 APIs are not supported yet).
 */
function engineResourceServer(api: ResourceServer, scopes: readonly string[], options: { defaultTtlSeconds: number; signingAlg: string }): EngineResourceServer {
  return {
    audience: api.identifier,
    scope: scopes.join(' '),
    accessTokenFormat: 'jwt',
    accessTokenTTL: api.tokenLifetime > 0 ? api.tokenLifetime : options.defaultTtlSeconds,
    jwt: { sign: { alg: options.signingAlg as 'RS256' } },
  };
}
