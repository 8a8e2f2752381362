import type { TenantStores } from '../tenants/tenant-stores.js';

interface JwtParts {
  payload: Record<string, unknown>;
}

/**
 * Auth0's access-token claims, applied to the engine's JWT access tokens
 * (RFC 9068 shape) just before signing:
 * - machine tokens: `sub` = `<client_id>@clients`, `gty: client-credentials`;
 * - every token: `azp` (the client);
 * - APIs with RBAC (`enforce_policies`): user tokens keep only the scopes
 *   the user's permissions allow; with `token_dialect: access_token_authz`
 *   a `permissions` array is added — the user's effective permissions (roles
 *   and direct), or for machine tokens the scopes of the client grant.
 */
export function accessTokenClaims(stores: { resourceServers: Pick<TenantStores['resourceServers'], 'findByIdentifier'>; roles: Pick<TenantStores['roles'], 'effectivePermissions'> }) {
  return async function customize(kind: string, jwt: JwtParts): Promise<void> {
    const clientId = jwt.payload.client_id as string;
    jwt.payload.azp = clientId;
    const machine = kind === 'ClientCredentials';
    if (machine) {
      jwt.payload.sub = `${clientId}@clients`;
      jwt.payload.gty = 'client-credentials';
    }
    const audience = typeof jwt.payload.aud === 'string' ? jwt.payload.aud : undefined;
    if (!audience) return;
    const api = await stores.resourceServers.findByIdentifier(audience);
    if (!api?.enforcePolicies) return;
    const scopes = typeof jwt.payload.scope === 'string' ? jwt.payload.scope.split(' ').filter(Boolean) : [];
    let permissions: string[];
    if (machine) {
      // The client grant already limited the scopes (resource-servers.ts).
      permissions = scopes;
    } else {
      const allowed = new Set(await stores.roles.effectivePermissions(jwt.payload.sub as string, api.identifier));
      permissions = [...allowed].sort();
      const kept = scopes.filter((s) => allowed.has(s) || !api.scopes.some((a) => a.value === s));
      jwt.payload.scope = kept.length > 0 ? kept.join(' ') : undefined;
    }
    if (api.tokenDialect === 'access_token_authz') jwt.payload.permissions = permissions;
  };
}
