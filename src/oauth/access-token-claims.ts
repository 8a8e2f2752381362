import type { KoaContextWithOIDC } from 'oidc-provider';
import type { TenantStores } from '../tenants/tenant-stores.js';

interface JwtParts {
  payload: Record<string, unknown>;
}

/** The OIDC scopes that may appear in a user's API access token next to the API's own. */
const OIDC_SCOPES = new Set(['openid', 'profile', 'email', 'offline_access']);

/** Where the final scope of an access token is left for the token response (see engine-middleware.ts). */
export const ACCESS_TOKEN_SCOPE_STATE = 'portcullisAccessTokenScope';

/**
 * Auth0's access-token claims, applied to the engine's JWT access tokens
 * (RFC 9068 shape) just before signing:
 * - machine tokens: `sub` = `<client_id>@clients`, `gty: client-credentials`;
 * - every token: `azp` (the client);
 * - user tokens for an API carry the OIDC scopes granted with them
 *   (`openid profile email …` before the API's scopes) and, when `openid` is
 *   among them, the tenant's userinfo URL as a second audience — so the same
 *   token calls the API and /userinfo, as with Auth0;
 * - APIs with RBAC (`enforce_policies`): user tokens keep only the scopes
 *   the user's permissions allow; with `token_dialect: access_token_authz`
 *   a `permissions` array is added — the user's effective permissions (roles
 *   and direct), or for machine tokens the scopes of the client grant.
 *
 * The final scope is left in `ctx.state` so that the token response reports
 * what the token carries.
 */
export function accessTokenClaims(stores: { resourceServers: Pick<TenantStores['resourceServers'], 'findByIdentifier'>; roles: Pick<TenantStores['roles'], 'effectivePermissions'> }, userinfoUrl: string) {
  return async function customize(ctx: KoaContextWithOIDC | undefined, kind: string, jwt: JwtParts): Promise<void> {
    const clientId = jwt.payload.client_id as string;
    jwt.payload.azp = clientId;
    const machine = kind === 'ClientCredentials';
    if (machine) {
      jwt.payload.sub = `${clientId}@clients`;
      jwt.payload.gty = 'client-credentials';
    }
    const audience = typeof jwt.payload.aud === 'string' ? jwt.payload.aud : undefined;
    if (!audience) return;
    let scopes = typeof jwt.payload.scope === 'string' ? jwt.payload.scope.split(' ').filter(Boolean) : [];
    const api = await stores.resourceServers.findByIdentifier(audience);
    if (api?.enforcePolicies) {
      let permissions: string[];
      if (machine) {
        // The client grant already limited the scopes (resource-servers.ts).
        permissions = scopes;
      } else {
        const allowed = new Set(await stores.roles.effectivePermissions(jwt.payload.sub as string, api.identifier));
        permissions = [...allowed].sort();
        scopes = scopes.filter((s) => allowed.has(s) || !api.scopes.some((a) => a.value === s));
      }
      if (api.tokenDialect === 'access_token_authz') jwt.payload.permissions = permissions;
    }
    if (!machine && ctx) {
      const oidcScopes = grantedOidcScopes(ctx);
      scopes = [...oidcScopes, ...scopes.filter((s) => !OIDC_SCOPES.has(s))];
      if (oidcScopes.includes('openid')) jwt.payload.aud = [audience, userinfoUrl];
    }
    jwt.payload.scope = scopes.length > 0 ? scopes.join(' ') : undefined;
    if (ctx) ctx.state[ACCESS_TOKEN_SCOPE_STATE] = jwt.payload.scope;
  };
}

/**
 * The OIDC scopes this token request was granted: what it asked (the
 * `scope` parameter, else the code's or refresh token's scope) within what
 * the user's grant holds.
 */
function grantedOidcScopes(ctx: KoaContextWithOIDC): string[] {
  const { entities, params } = ctx.oidc;
  const grant = entities.Grant;
  if (!grant) return [];
  const source = entities.AuthorizationCode ?? entities.RefreshToken ?? entities.DeviceCode;
  const asked = (typeof params?.scope === 'string' ? params.scope : undefined) ?? source?.scope ?? '';
  return grant
    .getOIDCScopeFiltered(new Set(asked.split(' ').filter((s) => OIDC_SCOPES.has(s))))
    .split(' ')
    .filter(Boolean);
}
