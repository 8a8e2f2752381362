import type Provider from 'oidc-provider';
import type { KoaContextWithOIDC } from 'oidc-provider';
import type { EventBus, LogEventType } from '../events/bus.js';

const GRANT_EVENTS: Record<string, readonly [LogEventType, LogEventType]> = {
  authorization_code: ['seacft', 'feacft'],
  client_credentials: ['seccft', 'feccft'],
  refresh_token: ['sertft', 'fertft'],
  password: ['sepft', 'fepft'],
  'http://auth0.com/oauth/grant-type/password-realm': ['sepft', 'fepft'],
};

/**
 * Feeds the engine's events into the event bus (and its unexpected errors
 * into the log): token issuance and failures, logouts, server errors.
 */
export function forwardEngineEvents(provider: Provider, tenantId: string, bus: EventBus, logError: (message: string, error: unknown) => void): void {
  const ip = (ctx: KoaContextWithOIDC) => ctx.ip;
  const publish = (event: Parameters<EventBus['publish']>[0]) => {
    bus.publish(event).catch((error: unknown) => logError('security event not recorded', error));
  };
  provider.on('grant.success', (ctx: KoaContextWithOIDC) => {
    const params = ctx.oidc.params ?? {};
    const type = GRANT_EVENTS[String(params.grant_type ?? '')]?.[0];
    if (!type) return;
    const token = ctx.oidc.entities.AccessToken ?? ctx.oidc.entities.ClientCredentials;
    publish({
      tenantId,
      type,
      clientId: ctx.oidc.client?.clientId,
      userId: ctx.oidc.entities.AccessToken?.accountId,
      audience: token?.aud !== undefined ? String(token.aud) : undefined,
      scope: token?.scope,
      ip: ip(ctx),
    });
  });
  provider.on('grant.error', (ctx: KoaContextWithOIDC, error: Error & { error?: string; error_description?: string }) => {
    const type = GRANT_EVENTS[String(ctx.oidc?.params?.grant_type ?? '')]?.[1];
    if (!type) return;
    publish({ tenantId, type, clientId: ctx.oidc?.client?.clientId, ip: ip(ctx), description: error.error_description, details: { error: error.error ?? 'server_error' } });
  });
  provider.on('end_session.success', (ctx: KoaContextWithOIDC) => {
    publish({ tenantId, type: 'slo', clientId: ctx.oidc?.client?.clientId, ip: ip(ctx) });
  });
  provider.on('server_error', (_ctx: KoaContextWithOIDC, error: Error) => {
    logError('protocol engine error', error);
  });
}
