import Provider, { type Configuration, type KoaContextWithOIDC } from 'oidc-provider';
import type { Config } from '../config/config.js';
import type { ClientsService } from '../clients/service.js';
import type { SecretBox } from '../crypto/secret-box.js';
import type { KeySet } from '../keys/service.js';
import type { Database } from '../storage/database.js';
import type { Runtime } from '../storage/runtime.js';
import type { Tenant } from '../tenants/store.js';
import { tenantStores } from '../tenants/tenant-stores.js';
import { adapterFactory } from './adapter.js';
import { toClientMetadata } from './client-metadata.js';
import { resourceServerInfo } from './resource-servers.js';

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
}

const DEFAULT_ACCESS_TOKEN_TTL = 86_400;

/**
 * Builds the OpenID Connect engine (oidc-provider) for one tenant: its
 * issuer, its current signing key, our storage behind the adapter, and
 * Auth0's paths and behaviours configured through the engine's hooks. No
 * protocol logic is written here.
 */
export function createTenantProvider(deps: ProviderDeps, tenant: Tenant, issuer: string, keys: KeySet): Provider {
  const stores = tenantStores(deps.database.db, tenant.id, deps.runtime);

  const findClient = async (clientId: string) => {
    const client = await stores.clients.findById(clientId);
    if (!client) return undefined;
    return toClientMetadata(client, await deps.clients.revealSecret(tenant.id, client));
  };

  const configuration: Configuration = {
    adapter: adapterFactory({ db: deps.database.db, tenantId: tenant.id, runtime: deps.runtime, findClient }),
    jwks: { keys: [keys.signing.privateJwk as never] },
    cookies: { keys: [deps.secretBox.deriveSecret(`cookies:${tenant.id}`)] },
    routes: AUTH0_ROUTES,
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      introspection: { enabled: true },
      revocation: { enabled: true },
      rpInitiatedLogout: { enabled: true },
      resourceIndicators: {
        enabled: true,
        // Auth0's `audience` arrives as `resource` (auth0-params.ts); without
        // it, the tenant's default audience applies, as in Auth0.
        defaultResource: () => tenant.settings.default_audience ?? undefined,
        getResourceServerInfo: resourceServerInfo(stores, { defaultTtlSeconds: DEFAULT_ACCESS_TOKEN_TTL, signingAlg: keys.signing.alg }),
        useGrantedResource: () => true,
      },
    },
    extraParams: ['audience'],
    // Authorization code only (plus `none`): RFC 9700 §2.1.2, no implicit or hybrid.
    responseTypes: ['code', 'none'],
    ttl: {
      ClientCredentials: (_ctx: KoaContextWithOIDC, token) => token.resourceServer?.accessTokenTTL ?? DEFAULT_ACCESS_TOKEN_TTL,
    },
    formats: {
      customizers: {
        // Auth0's claims for machine tokens: sub `<client_id>@clients`,
        // `azp`, and `gty: client-credentials`.
        jwt(_ctx, token, jwt) {
          if (token.kind === 'ClientCredentials') {
            const clientId = jwt.payload.client_id as string;
            jwt.payload.sub = `${clientId}@clients`;
            jwt.payload.azp = clientId;
            jwt.payload.gty = 'client-credentials';
          }
        },
      },
    },
    clientDefaults: { grant_types: ['authorization_code'], response_types: ['code'], token_endpoint_auth_method: 'client_secret_basic', id_token_signed_response_alg: keys.signing.alg as 'RS256' },
    enabledJWA: { idTokenSigningAlgValues: ['RS256', 'ES256', 'EdDSA'] as never },
  };

  const provider = new Provider(issuer, configuration);
  provider.proxy = deps.config.trustProxy !== false;
  return provider;
}
