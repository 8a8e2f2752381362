import type Provider from 'oidc-provider';
import type { KoaContextWithOIDC } from 'oidc-provider';
import type { EventBus } from '../events/bus.js';

/**
 * Feeds the engine's events into the event bus (and its unexpected errors
 * into the log): token issuance and failures, logouts, server errors.
 */
export function forwardEngineEvents(provider: Provider, tenantId: string, bus: EventBus, logError: (message: string, error: unknown) => void): void {
  const ip = (ctx: KoaContextWithOIDC) => ctx.ip;
  provider.on('grant.success', (ctx: KoaContextWithOIDC) => {
    const params = ctx.oidc.params ?? {};
    const token = ctx.oidc.entities.AccessToken ?? ctx.oidc.entities.ClientCredentials;
    bus.emit('token.issued', {
      tenantId,
      grantType: String(params.grant_type ?? ''),
      clientId: ctx.oidc.client?.clientId,
      userId: ctx.oidc.entities.AccessToken?.accountId,
      audience: token?.aud !== undefined ? String(token.aud) : undefined,
      scope: token?.scope,
      ip: ip(ctx),
    });
  });
  provider.on('grant.error', (ctx: KoaContextWithOIDC, error: Error & { error?: string; error_description?: string }) => {
    bus.emit('token.failed', {
      tenantId,
      grantType: ctx.oidc?.params?.grant_type !== undefined ? String(ctx.oidc.params.grant_type) : undefined,
      clientId: ctx.oidc?.client?.clientId,
      error: error.error ?? 'server_error',
      description: error.error_description,
      ip: ip(ctx),
    });
  });
  provider.on('end_session.success', (ctx: KoaContextWithOIDC) => {
    bus.emit('logout.succeeded', { tenantId, clientId: ctx.oidc?.client?.clientId, ip: ip(ctx) });
  });
  provider.on('server_error', (_ctx: KoaContextWithOIDC, error: Error) => {
    logError('protocol engine error', error);
    bus.emit('engine.error', { tenantId, message: error.message });
  });
}
