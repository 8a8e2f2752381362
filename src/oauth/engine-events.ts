import type Provider from 'oidc-provider';
import type { KoaContextWithOIDC } from 'oidc-provider';
import type { EventBus, LogEventType, SecurityEvent } from '../events/bus.js';
import { holdSecurityEvent, installSecurityEventBarrier } from './engine-middleware.js';

const GRANT_EVENTS: Record<string, readonly [LogEventType, LogEventType]> = {
  authorization_code: ['seacft', 'feacft'],
  client_credentials: ['seccft', 'feccft'],
  refresh_token: ['sertft', 'fertft'],
  password: ['sepft', 'fepft'],
  'http://auth0.com/oauth/grant-type/password-realm': ['sepft', 'fepft'],
};

/** The engine's reason (InvalidGrant's `error_detail`) when a rotated refresh token is presented again. */
const REFRESH_TOKEN_REUSED = 'refresh token already used';

type EngineError = Error & { error?: string; error_description?: string; error_detail?: string };

type Token = { accountId?: string; scope?: string; aud?: unknown; resourceServer?: { audience?: string; identifier(): string } } | undefined;

function audienceOf(token: Token): string | undefined {
  if (!token) return undefined;
  const fromServer = token.resourceServer?.audience ?? token.resourceServer?.identifier();
  if (fromServer) return fromServer;
  return typeof token.aud === 'string' ? token.aud : Array.isArray(token.aud) ? token.aud.join(' ') : undefined;
}

/** The request's facts every event of the engine carries. */
function requestFacts(ctx: KoaContextWithOIDC) {
  const params = (ctx.oidc?.params ?? {}) as Record<string, unknown>;
  const claimed = typeof params.client_id === 'string' ? params.client_id : undefined;
  return {
    ip: ctx.ip,
    userAgent: ctx.get('user-agent') || undefined,
    // The authenticated client, else the one the request names (as Auth0 logs a failed client authentication).
    clientId: ctx.oidc?.client?.clientId ?? claimed,
    // The engine has loaded the authenticated client: its name needs no lookup by the log writer.
    ...(ctx.oidc?.client?.clientName !== undefined ? { clientName: ctx.oidc.client.clientName } : {}),
    params,
  };
}

const str = (value: unknown) => (typeof value === 'string' && value !== '' ? value : undefined);
const silent = (params: Record<string, unknown>) => str(params.prompt)?.split(' ').includes('none') === true;

/**
 * Feeds the engine's events into the event bus: token exchanges and their
 * failures (a rotated refresh token presented again is `ferrt`), silent
 * authentication (prompt=none), RP-initiated logout. Each event is held by
 * its request and committed, with the request's others, before the answer
 * leaves (installSecurityEventBarrier), so the engine never answers a request
 * whose event was lost. Unexpected engine errors go to the log.
 */
export function forwardEngineEvents(provider: Provider, tenantId: string, bus: EventBus, logError: (message: string, error: unknown) => void): void {
  installSecurityEventBarrier(provider, bus, logError);
  const publish = (ctx: KoaContextWithOIDC, event: SecurityEvent) => {
    // In a request: held, and published with the request's other events before its answer leaves.
    if (holdSecurityEvent(ctx, event)) return;
    // Only outside a request (never for the events below); logged, not lost silently.
    bus.publish(event).catch((error: unknown) => logError('security event not recorded', error));
  };
  const tokenFailure = (ctx: KoaContextWithOIDC, error: EngineError) => {
    const { params, ...facts } = requestFacts(ctx);
    const pair = GRANT_EVENTS[String(params.grant_type ?? '')];
    if (!pair) return;
    const reused = params.grant_type === 'refresh_token' && error.error_detail === REFRESH_TOKEN_REUSED;
    const entities = ctx.oidc?.entities ?? {};
    const token = (entities.RefreshToken ?? entities.AuthorizationCode) as Token;
    publish(ctx, {
      tenantId,
      type: reused ? 'ferrt' : pair[1],
      ...facts,
      description: error.error_description ?? 'the exchange failed',
      userId: token?.accountId,
      audience: str(params.resource) ?? str(params.audience),
      scope: str(params.scope),
      details: { error: error.error ?? 'server_error', ...(error.error_detail ? { error_detail: error.error_detail } : {}), grant_type: params.grant_type },
    });
  };
  const silentFailure = (ctx: KoaContextWithOIDC, error: EngineError) => {
    const { params, ...facts } = requestFacts(ctx);
    if (!silent(params)) return;
    publish(ctx, {
      tenantId,
      type: 'fsa',
      ...facts,
      description: error.error_description ?? error.error ?? 'silent authentication failed',
      userId: ctx.oidc?.session?.accountId,
      audience: str(params.resource) ?? str(params.audience),
      scope: str(params.scope),
      details: { error: error.error ?? 'server_error', prompt: 'none' },
    });
  };

  provider.on('grant.success', (ctx: KoaContextWithOIDC) => {
    const { params, ...facts } = requestFacts(ctx);
    const type = GRANT_EVENTS[String(params.grant_type ?? '')]?.[0];
    if (!type) return;
    const entities = ctx.oidc.entities;
    const token = (entities.AccessToken ?? entities.ClientCredentials) as Token;
    publish(ctx, {
      tenantId,
      type,
      ...facts,
      userId: (entities.AccessToken as Token)?.accountId,
      audience: audienceOf(token),
      scope: token?.scope,
      details: { grant_type: params.grant_type, ...(entities.RotatedRefreshToken ? { refresh_token_rotated: true } : {}) },
    });
  });
  provider.on('grant.error', tokenFailure);
  provider.on('authorization.success', (ctx: KoaContextWithOIDC) => {
    const { params, ...facts } = requestFacts(ctx);
    if (!silent(params)) return;
    publish(ctx, {
      tenantId,
      type: 'ssa',
      ...facts,
      userId: ctx.oidc.session?.accountId,
      audience: str(params.resource) ?? str(params.audience),
      scope: str(params.scope),
      details: { prompt: 'none' },
    });
  });
  provider.on('authorization.error', silentFailure);
  provider.on('end_session.success', (ctx: KoaContextWithOIDC) => {
    const { ip, userAgent, clientId } = requestFacts(ctx);
    publish(ctx, { tenantId, type: 'slo', ip, userAgent, clientId, userId: ctx.oidc?.session?.accountId, details: { channel: 'oidc' } });
  });
  const logoutFailure = (ctx: KoaContextWithOIDC, error: EngineError) => {
    const { params, ...facts } = requestFacts(ctx);
    publish(ctx, {
      tenantId,
      type: 'flo',
      ...facts,
      description: error.error_description ?? 'logout failed',
      details: { error: error.error ?? 'server_error', ...(error.error_detail ? { error_detail: error.error_detail } : {}), ...(str(params.post_logout_redirect_uri) ? { post_logout_redirect_uri: str(params.post_logout_redirect_uri) } : {}) },
    });
  };
  provider.on('end_session.error', logoutFailure);
  provider.on('end_session_confirm.error', logoutFailure);
  provider.on('server_error', (ctx: KoaContextWithOIDC, error: EngineError) => {
    logError('protocol engine error', error);
    // A token request or a silent authentication that failed on our side is still a failed one.
    if (ctx?.oidc?.route === 'token') tokenFailure(ctx, error);
    else if (ctx?.oidc?.route === 'authorization') silentFailure(ctx, error);
  });
}
