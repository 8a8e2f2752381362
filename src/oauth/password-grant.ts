import { randomUUID } from 'node:crypto';
import { errors, type KoaContextWithOIDC, type ResourceServer as EngineResourceServer } from 'oidc-provider';
import type Provider from 'oidc-provider';
import type { SecurityEvent } from '../events/bus.js';
import { holdSecurityEvent } from './engine-middleware.js';

/** Auth0's Resource Owner Password grants (off unless a client lists them in `grant_types`). */
export const PASSWORD_GRANT = 'password';
export const PASSWORD_REALM_GRANT = 'http://auth0.com/oauth/grant-type/password-realm';

/** The OIDC scopes a password grant can carry (the engine's static scopes). */
const OIDC_SCOPES = new Set(['openid', 'profile', 'email', 'offline_access']);

/** Refusals: the password check's, and attack protection's (src/protection; throttled ones carry a Retry-After). */
export type PasswordRefusal = 'wrong_credentials' | 'blocked' | 'unknown_connection' | 'too_many_attempts' | 'ip_blocked' | 'password_leaked';

export type PasswordCheck = { ok: true; userId: string } | { ok: false; reason: PasswordRefusal; retryAfterSeconds?: number };

export interface PasswordGrantDeps {
  /** Checks the credentials against a database connection (the realm); costs one argon2 verify on every path. */
  /**
   * Checks the password. `hold` keeps a security event of this request to be
   * published with the request's others before the answer leaves (one
   * commit for the login and the token exchange); false outside a request.
   */
  readonly authenticate: (input: { connection: string; username: string; password: string; ip: string; clientId: string; userAgent?: string; audience?: string; scope?: string; hold: (event: SecurityEvent) => boolean }) => Promise<PasswordCheck>;
  /**
   * The end user's IP: the one Fastify resolved under TRUST_PROXY, or the
   * `auth0-forwarded-for` header of a client trusted to send it (src/protection/client-ip.ts).
   */
  readonly clientIp: (ctx: KoaContextWithOIDC, clientId: string) => Promise<string>;
  /** The connection used by `grant_type=password` (Auth0's tenant `default_directory`, else the default database connection). */
  readonly defaultConnection: () => string;
  /** The API an `audience` names, with the scopes a user flow may get (the engine's resource-server hook). */
  readonly resourceServerInfo: (ctx: KoaContextWithOIDC, indicator: string, client: { clientId: string }) => Promise<EngineResourceServer>;
  /** The tenant's default audience, used when the request names none (as Auth0). */
  readonly defaultAudience: () => string | undefined;
  /** Whether the API lets refresh tokens be issued for it (Auth0's `allow_offline_access`). */
  readonly allowsOfflineAccess: (audience: string) => Promise<boolean>;
  /** The engine's `findAccount` (claims by scope). */
  readonly findAccount: (ctx: KoaContextWithOIDC, sub: string) => Promise<Account | undefined>;
}

interface Account {
  readonly accountId: string;
  claims(use: string, scope: string, claims: object, rejected: string[]): Promise<Record<string, unknown>>;
}

type Params = { username?: string; password?: string; realm?: string; scope?: string; resource?: string | string[] };

/**
 * Auth0's `password` and `http://auth0.com/oauth/grant-type/password-realm`
 * grants, registered through the engine's documented `registerGrantType`.
 * The engine authenticates the client, rejects duplicate and unknown
 * parameters, and refuses the grant to clients that do not list it; this
 * handler checks the user's password and issues tokens with the engine's own
 * models (Grant, AccessToken, RefreshToken, IdToken), so every later use of
 * them (refresh with rotation, revocation, userinfo, introspection) is the
 * engine's.
 *
 * Wrong email and wrong password give the same answer (403 `invalid_grant`,
 * "Wrong email or password.", as Auth0); `user is blocked` is only answered to
 * a caller that gave the right password.
 */
export function registerPasswordGrants(provider: Provider, deps: PasswordGrantDeps): void {
  const handler = (realmGrant: boolean) =>
    async function passwordGrant(ctx: KoaContextWithOIDC): Promise<void> {
      const params = ctx.oidc.params as Params;
      const { client } = ctx.oidc;
      // The token endpoint authenticates the client before any grant handler runs.
      if (!client) throw new errors.InvalidClient('client authentication failed');
      const missing = ['username', 'password', ...(realmGrant ? ['realm'] : [])].filter((name) => !params[name as keyof Params]);
      if (missing.length > 0) throw new errors.InvalidRequest(`missing required parameter(s) (${missing.join(',')})`);
      const connection = realmGrant ? (params.realm as string) : deps.defaultConnection();
      if (Array.isArray(params.resource)) throw new errors.InvalidTarget('only a single audience is supported');
      const audience = params.resource ?? deps.defaultAudience();
      // The API is checked before the password, so that a bad request costs no hash.
      const resourceServer = audience ? new provider.ResourceServer(audience, await deps.resourceServerInfo(ctx, audience, client)) : undefined;

      const check = await deps.authenticate({
        connection,
        username: params.username as string,
        password: params.password as string,
        ip: await deps.clientIp(ctx, client.clientId),
        clientId: client.clientId,
        userAgent: ctx.get('user-agent') || undefined,
        audience,
        scope: params.scope,
        hold: (event) => holdSecurityEvent(ctx, event),
      });
      if (!check.ok) {
        if (check.retryAfterSeconds !== undefined) ctx.set('retry-after', String(check.retryAfterSeconds));
        throw refusal(check.reason, connection);
      }

      const requested = new Set((params.scope ?? '').split(' ').filter(Boolean));
      const oidcScopes = [...requested].filter((scope) => OIDC_SCOPES.has(scope));
      const apiScopes = resourceServer ? [...requested].filter((scope) => resourceServer.scopes.has(scope)) : [];
      const offline = requested.has('offline_access') && client.grantTypeAllowed('refresh_token') && (!audience || (await deps.allowsOfflineAccess(audience)));
      const grantedOidc = oidcScopes.filter((scope) => scope !== 'offline_access' || offline);

      const grant = new provider.Grant({ accountId: check.userId, clientId: client.clientId });
      if (grantedOidc.length > 0) grant.addOIDCScope(grantedOidc.join(' '));
      if (resourceServer) grant.addResourceScope(audience as string, apiScopes.join(' '));
      // The grant is stored only when something stored refers to it: a refresh
      // token, or an opaque access token (/userinfo checks its grant). A JWT
      // access token alone does not carry the grant id, so one login is one
      // write fewer (the login count is the other).
      const grantId = offline || !resourceServer ? await grant.save() : randomUUID();
      ctx.oidc.entity('Grant', grant);

      const scope = [...grantedOidc, ...apiScopes].join(' ');
      const authTime = Math.floor(Date.now() / 1000);
      const accessToken = new provider.AccessToken({ accountId: check.userId, client, grantId, gty: PASSWORD_GRANT, expiresWithSession: false });
      if (resourceServer) {
        accessToken.resourceServer = resourceServer;
        accessToken.scope = apiScopes.join(' ') || undefined;
      } else {
        accessToken.scope = grantedOidc.join(' ') || undefined;
      }
      ctx.oidc.entity('AccessToken', accessToken);
      const accessTokenValue = await accessToken.save();

      let refreshToken: string | undefined;
      if (offline) {
        const rt = new provider.RefreshToken({
          accountId: check.userId,
          amr: ['pwd'],
          authTime,
          client,
          expiresWithSession: false,
          grantId,
          gty: PASSWORD_GRANT,
          ...(audience ? { resource: audience } : {}),
          rotations: 0,
          scope,
        });
        ctx.oidc.entity('RefreshToken', rt);
        refreshToken = await rt.save();
      }

      let idToken: string | undefined;
      if (grantedOidc.includes('openid')) {
        const account = await deps.findAccount(ctx, check.userId);
        if (!account) throw refusal('wrong_credentials', connection);
        const token = new provider.IdToken({ ...(await account.claims('id_token', scope, {}, [])), sub: check.userId }, { ctx });
        Object.assign(token, { scope: grantedOidc.join(' ') });
        token.set('auth_time', authTime);
        idToken = await token.issue({ use: 'idtoken' });
      }

      ctx.body = {
        access_token: accessTokenValue,
        ...(idToken ? { id_token: idToken } : {}),
        ...(refreshToken ? { refresh_token: refreshToken } : {}),
        // For an API, the engine middleware reports the scope the signed token carries (OIDC + RBAC-filtered API scopes).
        scope: accessToken.scope,
        expires_in: accessToken.expiration,
        token_type: accessToken.tokenType,
      };
    };

  const parameters = new Set(['username', 'password', 'scope', 'resource']);
  provider.registerGrantType(PASSWORD_GRANT, handler(false), parameters);
  provider.registerGrantType(PASSWORD_REALM_GRANT, handler(true), new Set([...parameters, 'realm']));
}

/** Auth0's answers to logins refused by attack protection. */
const PROTECTION_REFUSALS = {
  too_many_attempts: { status: 429, error: 'too_many_attempts', description: 'Your account has been blocked after multiple consecutive login attempts.' },
  ip_blocked: { status: 429, error: 'too_many_attempts', description: 'We have detected suspicious login behavior and further attempts will be blocked. Please contact the administrator.' },
  password_leaked: { status: 403, error: 'password_leaked', description: "This login attempt has been blocked because the password you're using was previously disclosed through a data breach (not in this application)." },
} as const;

function refusal(reason: PasswordRefusal, connection: string): Error {
  if (reason === 'unknown_connection') return new errors.InvalidRequest(`the connection "${connection}" does not exist or is not a database connection`);
  if (reason === 'too_many_attempts' || reason === 'ip_blocked' || reason === 'password_leaked') {
    const answer = PROTECTION_REFUSALS[reason];
    return Object.assign(new errors.OIDCProviderError(answer.status, answer.error), { error_description: answer.description });
  }
  // Auth0 answers both with 403 invalid_grant; the status is Auth0's, the code RFC 6749's.
  const error = new errors.InvalidGrant();
  Object.assign(error, { error_description: reason === 'blocked' ? 'user is blocked' : 'Wrong email or password.', status: 403, statusCode: 403 });
  return error;
}
