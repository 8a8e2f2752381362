import { credentialJwks } from '../clients/credentials.js';
import type { StoredClient } from '../clients/store.js';
import { PASSWORD_GRANT, PASSWORD_REALM_GRANT } from './password-grant.js';

/**
 * Grant types the engine runs today. Auth0 client objects may list others
 * (password, password-realm, implicit, device code…); they are dropped from
 * the engine's view until the grant is implemented, so a client that lists
 * them still loads.
 */
const ENGINE_GRANTS = new Set(['authorization_code', 'refresh_token', 'client_credentials', PASSWORD_GRANT, PASSWORD_REALM_GRANT]);

const DEFAULT_GRANTS: Record<string, readonly string[]> = {
  non_interactive: ['client_credentials'],
  spa: ['authorization_code', 'refresh_token'],
  native: ['authorization_code', 'refresh_token'],
  regular_web: ['authorization_code', 'refresh_token', 'client_credentials'],
};

/** Extra client metadata (declared in the engine's `extraClientMetadata`): the ID token lifetime in seconds. */
export const ID_TOKEN_LIFETIME = 'portcullis_id_token_lifetime';

const stringArray = (value: unknown): string[] => (Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : []);

/**
 * Methods that authenticate without the client secret. Such a client is given
 * no secret at all, so that it cannot authenticate with one by any route; the
 * engine also refuses a method other than the registered one (OIDC Core §9).
 */
const SECRETLESS_METHODS = new Set(['none', 'private_key_jwt']);

/**
 * Translates an Auth0-shaped client into oidc-provider client metadata
 * (RFC 7591 names). `secret` is the decrypted client secret, when it has one;
 * `now` decides which private_key_jwt credentials have expired. Called when
 * the engine's per-client cache (provider-factory.ts) misses, not per request.
 */
export function toClientMetadata(client: StoredClient, secret: string | undefined, now: Date = new Date()): Record<string, unknown> {
  const config = client.config;
  const method = client.tokenEndpointAuthMethod;
  const listed = Array.isArray(config.grant_types) ? stringArray(config.grant_types) : [...(DEFAULT_GRANTS[client.appType ?? 'regular_web'] ?? DEFAULT_GRANTS.regular_web ?? [])];
  const grantTypes = listed.filter((g) => ENGINE_GRANTS.has(g));
  const redirectUris = stringArray(config.callbacks);
  const jwt = (config.jwt_configuration ?? {}) as { alg?: unknown; lifetime_in_seconds?: unknown };
  return {
    client_id: client.clientId,
    ...(secret !== undefined && !SECRETLESS_METHODS.has(method) ? { client_secret: secret } : {}),
    // RFC 7523 §2.2 / OIDC Core §9: the public keys its assertions are checked against.
    ...(method === 'private_key_jwt' ? { jwks: { keys: credentialJwks(config, now) } } : {}),
    client_name: client.name,
    grant_types: grantTypes,
    response_types: grantTypes.includes('authorization_code') ? ['code'] : [],
    redirect_uris: redirectUris,
    post_logout_redirect_uris: stringArray(config.allowed_logout_urls),
    token_endpoint_auth_method: method,
    // Unset unless the client chose one: the engine's client default is the
    // tenant's signing algorithm (an RS256 default here broke ES256 tenants).
    ...(typeof jwt.alg === 'string' ? { id_token_signed_response_alg: jwt.alg } : {}),
    // Auth0's per-application ID token lifetime (jwt_configuration.lifetime_in_seconds).
    ...(typeof jwt.lifetime_in_seconds === 'number' && Number.isInteger(jwt.lifetime_in_seconds) && jwt.lifetime_in_seconds > 0 ? { [ID_TOKEN_LIFETIME]: jwt.lifetime_in_seconds } : {}),
    application_type: client.appType === 'native' ? 'native' : 'web',
  };
}

/**
 * Who may introspect a token (RFC 7662), as the engine's
 * `features.introspection.allowedPolicy`; refused callers get the ordinary
 * `{ active: false }`, which tells them nothing.
 * - Only the client the token was issued to: our opaque tokens are refresh
 *   tokens and /userinfo access tokens, which concern no other party (API
 *   tokens are JWTs, validated by the API itself). RFC 7662 §2.2 lets the
 *   server answer according to who asks.
 * - Never a public client: it has no credentials, so an answer to it is an
 *   answer to anyone holding the token (RFC 7662 §2.1 and §4: the endpoint
 *   must authenticate its callers against token scanning).
 */
export function introspectionAllowedPolicy(_ctx: unknown, client: { readonly clientId: string; readonly clientAuthMethod?: string | undefined }, token: { readonly clientId?: string | undefined }): boolean {
  const authenticated = client.clientAuthMethod !== undefined && client.clientAuthMethod !== 'none';
  return authenticated && token.clientId === client.clientId;
}
