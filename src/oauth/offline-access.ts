import type { KoaContextWithOIDC } from 'oidc-provider';

/** What the engine passes to `issueRefreshToken` as the token's source (code or refresh token). */
interface Source {
  readonly scopes: Set<string>;
  readonly resource?: string | string[] | undefined;
}

interface ClientLike {
  grantTypeAllowed(type: string): boolean;
}

/**
 * Auth0's `offline_access`, on top of the engine.
 *
 * OpenID Connect Core §11 lets a provider drop `offline_access` unless
 * `prompt=consent` was asked, "unless other conditions for processing the
 * request permitting offline access to the requested resources are in
 * place"; the engine always drops it. Auth0 keeps it (its SDKs ask
 * `offline_access` with `prompt=none` to get refresh tokens), and decides per
 * API instead: a refresh token is issued when the request asked
 * `offline_access`, the client may use the `refresh_token` grant, and the API
 * named by `audience` allows offline access (`allow_offline_access`); without
 * an audience (tokens for /userinfo) it is allowed.
 *
 * `keepOfflineAccess` puts the scope back after the engine's scope check. It
 * is registered as the validator of an extra authorization parameter: the
 * engine calls every extra parameter's validator on every authorization
 * request, after it has checked the scope (a documented hook). Third-party
 * clients still see `offline_access` on the consent page (it is then a
 * missing scope of their grant); first-party clients are granted it without a
 * prompt, as Auth0 does.
 */
export function keepOfflineAccess(ctx: KoaContextWithOIDC, client: ClientLike | undefined): void {
  const params = ctx.oidc.params as { scope?: string; response_type?: string } | undefined;
  if (!params || !client?.grantTypeAllowed('refresh_token')) return;
  if (typeof params.response_type !== 'string' || !params.response_type.split(' ').includes('code')) return;
  const raw = (ctx.method === 'POST' ? ctx.oidc.body : ctx.query) as Record<string, unknown> | undefined;
  const asked = typeof raw?.scope === 'string' ? raw.scope.split(' ') : [];
  if (!asked.includes('offline_access')) return;
  const scopes = typeof params.scope === 'string' ? params.scope.split(' ').filter(Boolean) : [];
  if (!scopes.includes('offline_access')) params.scope = [...scopes, 'offline_access'].join(' ');
}

/** The engine's `issueRefreshToken` with Auth0's per-API rule. */
export function issueRefreshToken(allowsOfflineAccess: (audience: string) => Promise<boolean>, defaultAudience: () => string | undefined) {
  return async function shouldIssue(_ctx: KoaContextWithOIDC, client: ClientLike, source: Source): Promise<boolean> {
    if (!client.grantTypeAllowed('refresh_token') || !source.scopes.has('offline_access')) return false;
    const resource = (Array.isArray(source.resource) ? source.resource[0] : source.resource) ?? defaultAudience();
    return resource === undefined || allowsOfflineAccess(resource);
  };
}
