import type Provider from 'oidc-provider';
import type { EventBus, SecurityEvent } from '../events/bus.js';
import { ACCESS_TOKEN_SCOPE_STATE } from './access-token-claims.js';

const GRANT_NOT_ALLOWED = 'requested grant type is not allowed for this client';

/**
 * Pre- and post-processing around the engine through its documented
 * middleware hook (`provider.use`):
 * - public clients are refused at the introspection endpoint (below);
 * - a client using a grant type it is not registered for gets
 *   `unauthorized_client` (RFC 6749 §5.2; Auth0 answers the same), where the
 *   engine says `invalid_request`;
 * - a JWT access token whose scope our claims customizer changed (OIDC scopes
 *   added, RBAC filtering) is reported with that scope, so `scope` in the
 *   response is what the token carries (RFC 6749 §5.1).
 */
export function installEngineMiddleware(provider: Provider, introspectionPath: string): void {
  // RFC 7662 §2.1: the introspection endpoint is for clients that can
  // authenticate. A public client (auth method `none`) is refused before the
  // engine looks the token up, so the answer never depends on the token.
  provider.use(async function introspectionCallers(ctx, next) {
    if (ctx.method !== 'POST' || ctx.path !== introspectionPath) return next();
    const clientId = basicClientId(ctx.get('authorization')) ?? bodyClientId((ctx.req as { body?: unknown }).body);
    const client = clientId ? await provider.Client.find(clientId) : undefined;
    if (client?.clientAuthMethod === 'none') {
      ctx.status = 401;
      ctx.set('cache-control', 'no-store');
      ctx.body = { error: 'invalid_client', error_description: 'public clients cannot use the introspection endpoint' };
      return undefined;
    }
    return next();
  });

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

/** The publish promises of a request's security events, awaited before it is answered. */
const HELD_EVENTS = new WeakMap<object, SecurityEvent[]>();

/**
 * Holds an event of the request until its answer is ready, to be published
 * with the request's other held events in one turn of the event loop — so
 * the log writer commits them together (a password-grant login's `s` and
 * `sepft` in one transaction, not two). False outside a request: publish it
 * yourself.
 */
export function holdSecurityEvent(ctx: object, event: SecurityEvent): boolean {
  const held = HELD_EVENTS.get(ctx);
  if (!held) return false;
  held.push(event);
  return true;
}

/**
 * Holds every engine answer until the security events of its request are
 * committed (decision 011): the engine emits its events (token issued,
 * logout, silent authentication) during `next()`, its listeners hold them
 * (holdSecurityEvent), and the answer leaves only after they are committed:
 * held events are published here,
 * together, once the engine has answered (or failed). A failed write turns
 * the answer into a 500 with nothing of the original response (no token, no
 * redirect, no cookie), so a client never holds a token whose issuance is
 * missing from the log. The state change (a stored token, an ended session)
 * may have happened: the client sees a failure, as for any server error
 * after a commit.
 */
export function installSecurityEventBarrier(provider: Provider, bus: EventBus, logError: (message: string, error: unknown) => void): void {
  provider.use(async function securityEventsBeforeAnswer(ctx, next) {
    const held: SecurityEvent[] = [];
    HELD_EVENTS.set(ctx, held);
    let thrown: { error: unknown } | undefined;
    try {
      await next();
    } catch (error) {
      thrown = { error };
    }
    HELD_EVENTS.delete(ctx);
    const pending = held.map((event) => bus.publish(event));
    const failed = pending.length === 0 ? undefined : (await Promise.allSettled(pending)).find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (thrown) {
      if (failed) logError('security event not recorded', failed.reason);
      throw thrown.error;
    }
    if (!failed) return;
    logError('security event not recorded; answering 500', failed.reason);
    for (const name of Object.keys(ctx.response.headers)) ctx.remove(name);
    ctx.status = 500;
    ctx.set('cache-control', 'no-store');
    ctx.body = { error: 'server_error', error_description: 'The request could not be completed.' };
  });
}

function basicClientId(header: string): string | undefined {
  const match = /^Basic +([A-Za-z0-9+/=]+)$/i.exec(header);
  if (!match?.[1]) return undefined;
  const decoded = Buffer.from(match[1], 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon <= 0) return undefined;
  try {
    return decodeURIComponent(decoded.slice(0, colon).replace(/\+/g, ' '));
  } catch {
    return undefined;
  }
}

function bodyClientId(body: unknown): string | undefined {
  const value = body && typeof body === 'object' ? (body as Record<string, unknown>).client_id : undefined;
  return typeof value === 'string' && value.length > 0 ? value : undefined;
}
