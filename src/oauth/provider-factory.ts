import Provider, { type Configuration, type KoaContextWithOIDC } from 'oidc-provider';
import { pageCsp } from '../login/csp.js';
import { brandingOf, newNonce } from '../login/page-reply.js';
import { errorPage, loggedOutPage, logoutConfirmPage } from '../login/views.js';
import type { Config } from '../config/config.js';
import type { ClientsService } from '../clients/service.js';
import type { EventBus, SecurityEvent } from '../events/bus.js';
import type { SecretBox } from '../crypto/secret-box.js';
import type { KeySet } from '../keys/service.js';
import type { Database } from '../storage/database.js';
import type { Runtime } from '../storage/runtime.js';
import type { Tenant } from '../tenants/store.js';
import type { ResourceServer } from '../apis/store.js';
import { TtlCache } from '../storage/ttl-cache.js';
import { tenantStores } from '../tenants/tenant-stores.js';
import { accessTokenClaims } from './access-token-claims.js';
import { adapterFactory } from './adapter.js';
import { forwardEngineEvents } from './engine-events.js';
import { passwordLoginEvent } from '../logs/login-events.js';
import { passwordGrantIp } from '../protection/client-ip.js';
import type { AttackProtection } from '../protection/service.js';
import { ID_TOKEN_LIFETIME, introspectionAllowedPolicy, toClientMetadata } from './client-metadata.js';
import { resourceServerInfo } from './resource-servers.js';
import { registerPasswordGrants } from './password-grant.js';
import { installEngineMiddleware } from './engine-middleware.js';
import { installJwtUserinfo } from './jwt-userinfo.js';
import { issueRefreshToken, keepOfflineAccess } from './offline-access.js';
import { DEFAULT_DATABASE_CONNECTION } from '../connections/store.js';
import { UserError } from '../users/errors.js';
import type { UsersService } from '../users/service.js';
import { sessionLifetime, sessionTtlSeconds } from './session-lifetime.js';

/** Auth0's endpoint paths, relative to the tenant's issuer. */
export const AUTH0_ROUTES = {
  authorization: '/authorize',
  token: '/oauth/token',
  userinfo: '/userinfo',
  revocation: '/oauth/revoke',
  introspection: '/oauth/introspect',
  end_session: '/oidc/logout',
  jwks: '/.well-known/jwks.json',
} as const;

export interface ProviderDeps {
  readonly config: Config;
  readonly database: Database;
  readonly runtime: Runtime;
  readonly secretBox: SecretBox;
  readonly clients: ClientsService;
  readonly users: UsersService;
  readonly events: EventBus;
  readonly logError: (message: string, error: unknown) => void;
  readonly protection: AttackProtection;
}

const DEFAULT_ACCESS_TOKEN_TTL = 86_400;
const DEFAULT_ID_TOKEN_TTL = 36_000;

/**
 * Builds the OpenID Connect engine (oidc-provider) for one tenant: its
 * issuer, its current signing key, our storage behind the adapter, and
 * Auth0's paths and behaviours configured through the engine's hooks. No
 * protocol logic is written here.
 */
export function createTenantProvider(deps: ProviderDeps, tenant: Tenant, issuer: string, keys: KeySet): Provider {
  const stores = tenantStores(deps.database.db, tenant.id, deps.runtime);
  // APIs (with their scopes) are read on every token request; a 1-second
  // cache (the same staleness bound as tenant resolution) saves the reads.
  const apiCache = new TtlCache<ResourceServer | undefined>(deps.config.tenantCacheTtlMs, 500);
  const apis = {
    findByIdentifier: (identifier: string) => apiCache.get(identifier, () => stores.resourceServers.findByIdentifier(identifier)),
  };
  const customizeAccessToken = accessTokenClaims({ resourceServers: apis, roles: stores.roles }, `${issuer}userinfo`);
  const sessionSeconds = Math.round(tenant.settings.session_lifetime * 3600);

  // Clients and client grants are read on every token request. Like tenants
  // and APIs they may be served up to TENANT_CACHE_TTL_MS (1 s) old: a rotated
  // secret, a deleted client or a changed grant takes effect on every node
  // within that bound. Bounded; never longer-lived.
  const cacheTtl = deps.config.tenantCacheTtlMs;
  const clientCache = new TtlCache<{ metadata: Record<string, unknown>; firstParty: boolean; ipHeaderTrusted: boolean } | undefined>(cacheTtl, 1000);
  const cachedClient = (clientId: string) =>
    clientCache.get(clientId, async () => {
      const client = await stores.clients.findById(clientId);
      if (!client) return undefined;
      // Auth0's "Trust Token Endpoint IP Header": only for a first-party client that authenticates with its secret.
      const ipHeaderTrusted = client.isFirstParty && client.config.token_endpoint_ip_header_trusted === true && (client.tokenEndpointAuthMethod === 'client_secret_basic' || client.tokenEndpointAuthMethod === 'client_secret_post');
      return { metadata: toClientMetadata(client, await deps.clients.revealSecret(tenant.id, client)), firstParty: client.isFirstParty, ipHeaderTrusted };
    });
  const findClient = async (clientId: string) => (await cachedClient(clientId))?.metadata;
  const grantCache = new TtlCache<Awaited<ReturnType<typeof stores.clientGrants.find>>>(cacheTtl, 1000);
  const clientGrants = {
    find: (clientId: string, audience: string) => grantCache.get(`${clientId} ${audience}`, () => stores.clientGrants.find(clientId, audience)),
  };
  const allowsOfflineAccess = async (audience: string) => (await apis.findByIdentifier(audience))?.allowOfflineAccess ?? false;
  const defaultAudience = () => tenant.settings.default_audience ?? undefined;
  const getResourceServerInfo = resourceServerInfo({ resourceServers: apis, clientGrants }, { defaultTtlSeconds: DEFAULT_ACCESS_TOKEN_TTL, signingAlg: keys.signing.alg });

  /** Claims by scope (OIDC Core §5.4), from the user row in Auth0's shape. */
  const findAccount = async (_ctx: KoaContextWithOIDC, sub: string) => {
    const user = await stores.users.findById(sub);
    if (!user) return undefined;
    return {
      accountId: user.user_id,
      async claims() {
        return {
          sub: user.user_id,
          email: user.email ?? undefined,
          email_verified: user.email_verified,
          name: user.name ?? undefined,
          nickname: user.nickname ?? undefined,
          given_name: user.given_name ?? undefined,
          family_name: user.family_name ?? undefined,
          picture: user.picture ?? undefined,
          updated_at: Math.floor(Date.parse(user.updated_at) / 1000),
        };
      },
    };
  };

  /**
   * Auth0 asks no consent of first-party applications: their grant is created,
   * or extended, with what the request asks for (so SSO with new scopes or
   * another API needs no prompt, even with prompt=none; unchanged grants are
   * not re-written). Third-party applications get the consent
   * prompt; the grant saved when the user accepts is recorded in the session
   * (`grantIdFor`) by the engine, so the next authorization of that client in
   * the same session finds it here and asks again only for what it lacks.
   */
  const loadExistingGrant = async (ctx: KoaContextWithOIDC) => {
    const { oidc } = ctx;
    const clientId = oidc.client?.clientId;
    if (!clientId) return undefined;
    const grantId = oidc.result?.consent?.grantId ?? oidc.session?.grantIdFor(clientId);
    const existing = grantId ? await oidc.provider.Grant.find(grantId) : undefined;
    if (!(await cachedClient(clientId))?.firstParty || !oidc.session?.accountId) return existing;
    // First-party: whatever this request asks (new scopes, another API) is granted without a prompt.
    const grant = existing ?? new oidc.provider.Grant({ clientId, accountId: oidc.session.accountId });
    const before = JSON.stringify([grant.getOIDCScope(), grant.resources]);
    if (oidc.params?.scope) grant.addOIDCScope(String(oidc.params.scope));
    for (const [indicator, resourceServer] of Object.entries(oidc.resourceServers ?? {})) {
      grant.addResourceScope(indicator, resourceServer.scope);
    }
    if (!existing || JSON.stringify([grant.getOIDCScope(), grant.resources]) !== before) await grant.save();
    return grant;
  };

  /**
   * Errors the engine shows in the browser (e.g. an unregistered
   * redirect_uri: never redirected, RFC 9700 §2.1): our error page, with the
   * page CSP. The OAuth error code is shown; internal details are not.
   */
  const branding = brandingOf(tenant);
  const renderPage = (ctx: KoaContextWithOIDC, page: (nonce: string) => string) => {
    const nonce = newNonce();
    ctx.set('content-security-policy', pageCsp(nonce));
    ctx.set('cache-control', 'no-store');
    ctx.type = 'html';
    ctx.body = page(nonce);
  };
  const renderError: Configuration['renderError'] = (ctx, out) => {
    renderPage(ctx, (nonce) => errorPage(branding, nonce, 'Something went wrong', `${out.error}: ${out.error_description ?? 'the request could not be completed'}`));
  };

  const configuration: Configuration = {
    renderError,
    findAccount,
    extraClientMetadata: {
      properties: [ID_TOKEN_LIFETIME],
      validator: (_ctx, key, value) => {
        if (key === ID_TOKEN_LIFETIME && value !== undefined && !(typeof value === 'number' && Number.isInteger(value) && value > 0)) {
          throw new Error(`${ID_TOKEN_LIFETIME} must be a positive integer`);
        }
      },
    },
    loadExistingGrant,
    interactions: { url: (_ctx: KoaContextWithOIDC, interaction) => `/u/login?state=${interaction.uid}` },
    claims: {
      openid: ['sub'],
      profile: ['name', 'nickname', 'given_name', 'family_name', 'picture', 'updated_at'],
      email: ['email', 'email_verified'],
    },
    adapter: adapterFactory({ db: deps.database.db, tenantId: tenant.id, runtime: deps.runtime, findClient }),
    jwks: { keys: [keys.signing.privateJwk as never] },
    cookies: { keys: [deps.secretBox.deriveSecret(`cookies:${tenant.id}`)] },
    routes: AUTH0_ROUTES,
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      introspection: { enabled: true, allowedPolicy: introspectionAllowedPolicy },
      revocation: { enabled: true },
      rpInitiatedLogout: {
        enabled: true,
        logoutSource: (ctx, form) => renderPage(ctx, (nonce) => logoutConfirmPage(branding, nonce, form)),
        postLogoutSuccessSource: (ctx) => renderPage(ctx, (nonce) => loggedOutPage(branding, nonce)),
      },
      userinfo: { enabled: true },
      resourceIndicators: {
        enabled: true,
        // Auth0's `audience` arrives as `resource` (auth0-params.ts); without
        // it, the tenant's default audience applies, as in Auth0.
        defaultResource: defaultAudience,
        getResourceServerInfo,
        useGrantedResource: () => true,
      },
    },
    extraParams: {
      screen_hint: null,
      // The engine calls this on every authorization request, after its scope check (see offline-access.ts).
      audience: (ctx, _value, client) => keepOfflineAccess(ctx, client),
    },
    issueRefreshToken: issueRefreshToken(allowsOfflineAccess, defaultAudience),
    // Refresh tokens rotate on every use; presenting a used one revokes the
    // whole grant and everything issued under it (the engine's reuse
    // detection; RFC 9700 §4.14.2).
    rotateRefreshToken: true,
    // Auth0 puts the scope's profile and email claims in the ID token too.
    conformIdTokenClaims: false,
    // Authorization code only (plus `none`): RFC 9700 §2.1.2, no implicit or hybrid.
    responseTypes: ['code', 'none'],
    // Lifetimes (seconds). The SSO session ends after the tenant's idle period
    // without use and never outlives its absolute lifetime from login (Auth0's
    // `idle_session_lifetime` and `session_lifetime`; session-lifetime.ts). A
    // grant outlives both the sessions that point at it and the refresh tokens
    // issued under it (the engine refuses a refresh token whose grant is gone).
    // The rest are Auth0's defaults: ID token 10 h, code 60 s, refresh token 30 days.
    ttl: {
      ClientCredentials: (_ctx: KoaContextWithOIDC, token) => token.resourceServer?.accessTokenTTL ?? DEFAULT_ACCESS_TOKEN_TTL,
      AccessToken: (_ctx: KoaContextWithOIDC, token) => token.resourceServer?.accessTokenTTL ?? DEFAULT_ACCESS_TOKEN_TTL,
      AuthorizationCode: 60,
      // Auth0's default (10 h), or the application's jwt_configuration.lifetime_in_seconds.
      IdToken: (_ctx: KoaContextWithOIDC, _token, client) => {
        const lifetime = (client as unknown as Record<string, unknown>)[ID_TOKEN_LIFETIME];
        return typeof lifetime === 'number' ? lifetime : DEFAULT_ID_TOKEN_TTL;
      },
      Interaction: 3600,
      Session: (_ctx: KoaContextWithOIDC, session) => sessionTtlSeconds(sessionLifetime(tenant.settings), session.loginTs),
      Grant: Math.max(sessionSeconds, 30 * 86_400),
      RefreshToken: 30 * 86_400,
    },
    formats: {
      customizers: {
        jwt: (ctx, token, jwt) => customizeAccessToken(ctx, token.kind, jwt),
      },
    },
    clientDefaults: { grant_types: ['authorization_code'], response_types: ['code'], token_endpoint_auth_method: 'client_secret_basic', id_token_signed_response_alg: keys.signing.alg as 'RS256' },
    // Client assertions: HS256 for client_secret_jwt; RS256, PS256, ES256 for
    // private_key_jwt, the algorithms a client credential may have (src/clients/credentials.ts).
    enabledJWA: { idTokenSigningAlgValues: ['RS256', 'ES256', 'EdDSA'] as never, clientAuthSigningAlgValues: ['HS256', 'RS256', 'PS256', 'ES256'] },
  };

  const provider = new Provider(issuer, configuration);
  provider.proxy = deps.config.trustProxy !== false;
  installEngineMiddleware(provider, AUTH0_ROUTES.introspection);
  installJwtUserinfo(provider, { issuer, jwks: { keys: keys.jwks as never }, algorithms: ['RS256', 'ES256', 'EdDSA'], findAccount });
  registerPasswordGrants(provider, {
    authenticate: async ({ connection, username, password, ip, clientId, userAgent, audience, scope, hold }) => {
      const loginEvent = { tenantId: tenant.id, identifier: username, clientId, ip, userAgent, audience, scope };
      // The login's own event (s, f, fp, fu) is written with the token exchange's, in one commit, before the answer.
      const record = async (event: SecurityEvent) => {
        if (!hold(event)) await deps.events.publish(event);
      };
      // Brute-force and suspicious-IP protection count the attempt before the password is checked (src/protection).
      const result = await deps.protection.guardLogin({ tenant, connection, identifier: username, ip, clientId, userAgent }, async () => {
        try {
          return await deps.users.authenticate({ tenantId: tenant.id, connectionName: connection, identifier: username, password, ip });
        } catch (error) {
          if (error instanceof UserError && error.code === 'connection_not_found') return { ok: false as const, reason: 'unknown_connection' as const };
          throw error;
        }
      });
      if ('retryAfterSeconds' in result) {
        await record(passwordLoginEvent({ ok: false, reason: result.reason }, loginEvent));
        return result;
      }
      if (!result.ok && result.reason === 'unknown_connection') return { ok: false, reason: 'unknown_connection' };
      if (result.ok) {
        const userId = result.user.user_id;
        if (await deps.protection.breached.atLogin({ tenant, password, userId, userName: username, connection, ip, clientId, userAgent })) {
          await record(passwordLoginEvent({ ok: false, reason: 'password_leaked', userId, connection: result.connection }, loginEvent));
          return { ok: false, reason: 'password_leaked' };
        }
        await record(passwordLoginEvent({ ok: true, userId, email: result.user.email, connection: result.connection }, loginEvent));
        return { ok: true, userId };
      }
      await record(passwordLoginEvent({ ok: false, reason: result.reason, userId: result.user?.user_id, connection: result.connection }, loginEvent));
      return { ok: false, reason: result.reason };
    },
    clientIp: async (ctx, clientId) => passwordGrantIp(ctx.req, ctx.ip, ctx.get('auth0-forwarded-for') || undefined, (await cachedClient(clientId))?.ipHeaderTrusted === true),
    defaultConnection: () => tenant.settings.default_directory ?? DEFAULT_DATABASE_CONNECTION,
    defaultAudience,
    resourceServerInfo: getResourceServerInfo,
    allowsOfflineAccess,
    findAccount,
  });
  forwardEngineEvents(provider, tenant.id, deps.events, deps.logError);
  return provider;
}
