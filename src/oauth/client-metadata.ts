import type { StoredClient } from '../clients/store.js';

/**
 * Grant types the engine runs today. Auth0 client objects may list others
 * (password, password-realm, implicit, device code…); they are dropped from
 * the engine's view until the grant is implemented, so a client that lists
 * them still loads.
 */
const ENGINE_GRANTS = new Set(['authorization_code', 'refresh_token', 'client_credentials']);

const DEFAULT_GRANTS: Record<string, readonly string[]> = {
  non_interactive: ['client_credentials'],
  spa: ['authorization_code', 'refresh_token'],
  native: ['authorization_code', 'refresh_token'],
  regular_web: ['authorization_code', 'refresh_token', 'client_credentials'],
};

const stringArray = (value: unknown): string[] => (Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : []);

/**
 * Translates an Auth0-shaped client into oidc-provider client metadata
 * (RFC 7591 names). `secret` is the decrypted client secret, when it has one.
 */
export function toClientMetadata(client: StoredClient, secret: string | undefined): Record<string, unknown> {
  const config = client.config;
  const listed = Array.isArray(config.grant_types) ? stringArray(config.grant_types) : [...(DEFAULT_GRANTS[client.appType ?? 'regular_web'] ?? DEFAULT_GRANTS.regular_web ?? [])];
  const grantTypes = listed.filter((g) => ENGINE_GRANTS.has(g));
  const redirectUris = stringArray(config.callbacks);
  const jwt = (config.jwt_configuration ?? {}) as { alg?: unknown };
  return {
    client_id: client.clientId,
    ...(secret !== undefined && client.tokenEndpointAuthMethod !== 'none' ? { client_secret: secret } : {}),
    client_name: client.name,
    grant_types: grantTypes,
    response_types: grantTypes.includes('authorization_code') ? ['code'] : [],
    redirect_uris: redirectUris,
    post_logout_redirect_uris: stringArray(config.allowed_logout_urls),
    token_endpoint_auth_method: client.tokenEndpointAuthMethod,
    // Unset unless the client chose one: the engine's client default is the
    // tenant's signing algorithm (an RS256 default here broke ES256 tenants).
    ...(typeof jwt.alg === 'string' ? { id_token_signed_response_alg: jwt.alg } : {}),
    application_type: client.appType === 'native' ? 'native' : 'web',
  };
}
