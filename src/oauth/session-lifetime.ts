import type { TenantSettings } from '../tenants/settings.js';

/** A tenant's two bounds on an SSO session, in seconds. */
export interface SessionLifetime {
  /** Without activity for this long, the session ends (Auth0's `idle_session_lifetime`). */
  readonly idleSeconds: number;
  /** From login, the session never lasts longer than this, activity or not (Auth0's `session_lifetime`). */
  readonly absoluteSeconds: number;
}

export function sessionLifetime(settings: Pick<TenantSettings, 'session_lifetime' | 'idle_session_lifetime'>): SessionLifetime {
  return { idleSeconds: Math.round(settings.idle_session_lifetime * 3600), absoluteSeconds: Math.round(settings.session_lifetime * 3600) };
}

/**
 * How long a session is kept from `now` (epoch seconds) when the engine saves
 * it. The engine saves an existing session on every request that uses it
 * (every /authorize, silent or not, and the interaction's resume), so each
 * use restarts the idle period; the absolute bound counts from `loginTs`, the
 * engine's time of the last login (a new login starts a new bound, as in
 * Auth0). A session saved without a login yet (no `loginTs`) is bounded by
 * both periods from now.
 *
 * The result is at least 1 second because the engine refuses a non-positive
 * TTL. It can only reach that floor when the tenant's lifetimes were
 * shortened while the session was live: the session then ends one second
 * later.
 */
export function sessionTtlSeconds(lifetime: SessionLifetime, loginTs: number | undefined, now: number = Math.floor(Date.now() / 1000)): number {
  const untilAbsolute = (loginTs ?? now) + lifetime.absoluteSeconds - now;
  return Math.max(1, Math.min(lifetime.idleSeconds, untilAbsolute));
}
