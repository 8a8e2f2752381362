import { createLocalJWKSet, jwtVerify, type JSONWebKeySet } from 'jose';
import type Provider from 'oidc-provider';
import type { KoaContextWithOIDC } from 'oidc-provider';

interface Account {
  claims(use: string, scope: string, claims: object, rejected: string[]): Promise<Record<string, unknown>>;
}

export interface JwtUserinfoOptions {
  readonly issuer: string;
  /** The tenant's published keys (current, next, previous): tokens signed before a rotation still verify. */
  readonly jwks: JSONWebKeySet;
  readonly algorithms: readonly string[];
  readonly findAccount: (ctx: KoaContextWithOIDC, sub: string) => Promise<Account | undefined>;
}

const JWS = /^[\w-]+\.[\w-]+\.[\w-]*$/;

/**
 * /userinfo for JWT access tokens issued for an API together with `openid`
 * (Auth0: such a token lists the userinfo URL as a second audience and works
 * at /userinfo). The engine only accepts its own opaque tokens there and
 * refuses any token with an audience, so this engine middleware answers for
 * JWTs and hands everything else to the engine unchanged.
 *
 * A JWT is accepted only when it verifies against the tenant's keys with an
 * asymmetric algorithm, `typ` is `at+jwt` (so an ID token is refused), the
 * issuer is this tenant, it is not expired, the userinfo URL is among its
 * audiences, its scope holds `openid`, and its client and user still exist.
 * Like Auth0's, a JWT access token is not revocable before it expires.
 * Claims are released by scope exactly as for opaque tokens.
 */
export function installJwtUserinfo(provider: Provider, options: JwtUserinfoOptions): void {
  const userinfoUrl = `${options.issuer}userinfo`;
  const keys = createLocalJWKSet(options.jwks);

  provider.use(async function jwtUserinfo(ctx, next) {
    if (ctx.path !== '/userinfo' || (ctx.method !== 'GET' && ctx.method !== 'POST')) return next();
    const token = bearerOf(ctx.get('authorization'));
    if (!token || !JWS.test(token)) return next();

    const refuse = (status: number, error: string, description: string) => {
      ctx.status = status;
      ctx.set('cache-control', 'no-store');
      ctx.set('www-authenticate', `Bearer realm="${options.issuer}", error="${error}", error_description="${description}"`);
      ctx.body = { error, error_description: description };
    };

    let payload: Record<string, unknown>;
    try {
      ({ payload } = await jwtVerify(token, keys, { issuer: options.issuer, typ: 'at+jwt', algorithms: [...options.algorithms] }));
    } catch {
      return refuse(401, 'invalid_token', 'invalid token provided');
    }
    const audiences = Array.isArray(payload.aud) ? payload.aud : [payload.aud];
    if (!audiences.includes(userinfoUrl)) return refuse(401, 'invalid_token', 'token audience prevents accessing the userinfo endpoint');
    const scope = typeof payload.scope === 'string' ? payload.scope : '';
    if (!scope.split(' ').includes('openid')) return refuse(403, 'insufficient_scope', 'access token missing openid scope');
    const client = typeof payload.client_id === 'string' ? await provider.Client.find(payload.client_id) : undefined;
    const account = typeof payload.sub === 'string' ? await options.findAccount(ctx as KoaContextWithOIDC, payload.sub) : undefined;
    if (!client || !account) return refuse(401, 'invalid_token', 'invalid token provided');

    const claims = new provider.Claims(await account.claims('userinfo', scope, {}, []), { client });
    claims.scope(scope);
    ctx.set('cache-control', 'no-store');
    ctx.body = await claims.result();
  });
}

function bearerOf(header: string): string | undefined {
  const match = /^Bearer +(\S+)$/i.exec(header);
  return match?.[1];
}
