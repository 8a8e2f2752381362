import type Provider from 'oidc-provider';
import { ACCESS_TOKEN_SCOPE_STATE } from './access-token-claims.js';

const GRANT_NOT_ALLOWED = 'requested grant type is not allowed for this client';

/**
 * Post-processing of the engine's token endpoint answers through its
 * documented middleware hook (`provider.use`):
 * - a client using a grant type it is not registered for gets
 *   `unauthorized_client` (RFC 6749 §5.2; Auth0 answers the same), where the
 *   engine says `invalid_request`;
 * - a JWT access token whose scope our claims customizer changed (OIDC scopes
 *   added, RBAC filtering) is reported with that scope, so `scope` in the
 *   response is what the token carries (RFC 6749 §5.1).
 */
export function installEngineMiddleware(provider: Provider): void {
  provider.use(async function tokenResponses(ctx, next) {
    await next();
    if (ctx.oidc?.route !== 'token') return;
    const body = ctx.body as { error?: unknown; error_description?: unknown; access_token?: unknown; scope?: unknown } | undefined;
    if (!body) return;
    if (ctx.status === 400 && body.error === 'invalid_request' && body.error_description === GRANT_NOT_ALLOWED) body.error = 'unauthorized_client';
    if (ctx.status === 200 && typeof body.access_token === 'string' && ACCESS_TOKEN_SCOPE_STATE in ctx.state) {
      const scope = ctx.state[ACCESS_TOKEN_SCOPE_STATE] as string | undefined;
      if (scope) body.scope = scope;
      else delete body.scope;
    }
  });
}
