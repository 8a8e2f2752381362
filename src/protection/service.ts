import { connectionsStore } from '../connections/store.js';
import type { EventBus, SecurityEvent } from '../events/bus.js';
import type { Database } from '../storage/database.js';
import type { Runtime } from '../storage/runtime.js';
import { TtlCache } from '../storage/ttl-cache.js';
import type { Tenant } from '../tenants/store.js';
import { tenantsStore } from '../tenants/store.js';
import { tenantStores } from '../tenants/tenant-stores.js';
import { breachedDetection, type BreachedDetection } from './breached-detection.js';
import { BruteForce, type PairRef } from './brute-force.js';
import type { CounterStore } from './counters.js';
import { ipListOf } from './ip-list.js';
import { RateLimits, type RateLimitBudgets } from './rate-limits.js';
import { attackProtectionOf } from './settings.js';
import { SuspiciousIp } from './suspicious-ip.js';

/** What a refused attempt is counted as (portcullis_blocked_attempts_total{kind}). */
export type BlockedKind = 'brute_force' | 'suspicious_ip' | 'rate_limit' | 'breached_password';

export interface AttackProtectionDeps {
  /** False only for benchmarks' "protection off" baseline (ATTACK_PROTECTION=off): every check passes. */
  readonly enabled: boolean;
  readonly counters: CounterStore;
  readonly events: EventBus;
  readonly database: Database;
  readonly runtime: Runtime;
  readonly bruteForceWindowSeconds: number;
  readonly rateLimits: RateLimitBudgets;
  /** How long a connection's `brute_force_protection` option may be served from cache. */
  readonly cacheTtlMs: number;
  readonly onBlocked: (kind: BlockedKind) => void;
}

export interface LoginAttempt {
  readonly tenant: Tenant;
  /** The database connection's name (the realm). */
  readonly connection: string;
  /** The email or username as typed. */
  readonly identifier: string;
  readonly ip: string;
  readonly clientId?: string;
  readonly userAgent?: string;
}

/** A login refused before any password was checked. */
export type Throttled = { readonly ok: false; readonly reason: 'too_many_attempts' | 'ip_blocked'; readonly retryAfterSeconds: number };

const throttled = (reason: Throttled['reason'], retryAfterMs: number): Throttled => ({ ok: false, reason, retryAfterSeconds: Math.max(1, Math.ceil(retryAfterMs / 1000)) });

/**
 * Attack protection (issue 5): brute force per account and IP, suspicious IP
 * throttling, breached passwords and per-tenant rate limits, over one
 * counter store (memory or Redis). docs/attack-protection.md.
 */
export function attackProtection(deps: AttackProtectionDeps) {
  const bruteForce = new BruteForce(deps.counters, deps.bruteForceWindowSeconds);
  const suspiciousIp = new SuspiciousIp(deps.counters);
  const rateLimits = new RateLimits(deps.counters, deps.enabled ? deps.rateLimits : { token: 0, login: 0, management: 0 });
  const tenantOf = (tenantId: string) => tenantsStore(deps.database.db, deps.runtime).findById(tenantId);
  const detection = breachedDetection({ events: deps.events, tenantOf, onBlocked: () => deps.onBlocked('breached_password') });
  const breached: BreachedDetection = deps.enabled ? detection : { screen: async () => undefined, atLogin: async () => false };

  // A connection may turn brute-force protection off (Auth0's connection option).
  const connectionCache = new TtlCache<boolean>(deps.cacheTtlMs, 1000);
  const connectionProtected = (tenantId: string, name: string) =>
    connectionCache.get(`${tenantId} ${name}`, async () => (await connectionsStore(deps.database.db, tenantId, deps.runtime).findByName(name))?.options.brute_force_protection !== false);

  const publish = (event: SecurityEvent) => deps.events.publish(event);

  /**
   * Runs one password check under brute-force and suspicious-IP protection.
   * The attempt is counted BEFORE `check` runs (see AttemptGate); a refused
   * attempt never reaches `check`. `check` answers `ok: true` for a login
   * whose password verified, anything else is a failure. `limit_wc` and
   * `limit_mu` are published (awaited) by the failure that reaches a limit.
   */
  async function guardLogin<T extends { readonly ok: boolean }>(attempt: LoginAttempt, check: () => Promise<T>): Promise<T | Throttled> {
    if (!deps.enabled) return check();
    const settings = attackProtectionOf(attempt.tenant);
    const sip = settings.suspicious_ip_throttling;
    const bf = settings.brute_force_protection;
    const ipCounted = sip.enabled && !ipListOf(sip.allowlist).has(attempt.ip);
    const pairCounted = bf.enabled && !ipListOf(bf.allowlist).has(attempt.ip) && (await connectionProtected(attempt.tenant.id, attempt.connection));
    const ipBlocks = ipCounted && sip.shields.includes('block');
    const pairBlocks = pairCounted && bf.shields.includes('block');
    const stage = sip.stage['pre-login'];
    const ipKey = suspiciousIp.keyOf(attempt.tenant.id, attempt.ip);
    const pair: PairRef = { tenantId: attempt.tenant.id, connection: attempt.connection, identifier: attempt.identifier, ip: attempt.ip };
    const pairKey = bruteForce.keyOf(pair, bf.mode);

    if (ipBlocks) {
      const admission = await suspiciousIp.enterLogin(ipKey, stage);
      if (!admission.admitted) {
        deps.onBlocked('suspicious_ip');
        return throttled('ip_blocked', admission.retryAfterMs);
      }
    }
    let outcome: 'success' | 'failure' | 'error' = 'error';
    try {
      if (pairBlocks) {
        const admission = await bruteForce.enter(pairKey, bf);
        if (!admission.admitted) {
          deps.onBlocked('brute_force');
          outcome = 'failure';
          return throttled('too_many_attempts', admission.retryAfterMs);
        }
      }
      const result = await check();
      outcome = result.ok ? 'success' : 'failure';
      if (pairCounted) {
        if (result.ok) await bruteForce.succeed(pairKey);
        else if (await bruteForce.fail(pairKey, pair, bf)) {
          await publish({
            tenantId: attempt.tenant.id,
            type: 'limit_wc',
            ip: attempt.ip,
            userName: attempt.identifier,
            connection: attempt.connection,
            clientId: attempt.clientId,
            userAgent: attempt.userAgent,
            description: `Blocked account: ${bf.max_attempts} failed login attempts${bf.mode === 'count_per_identifier' ? '' : ' from this IP address'}`,
            details: { mode: bf.mode, max_attempts: bf.max_attempts, shields: bf.shields },
          });
        }
      }
      return result;
    } finally {
      if (outcome === 'error' && pairBlocks) await bruteForce.cancel(pairKey);
      if (ipCounted) {
        if (outcome === 'failure') {
          if (await suspiciousIp.failLogin(ipKey, stage)) {
            await publish({
              tenantId: attempt.tenant.id,
              type: 'limit_mu',
              ip: attempt.ip,
              clientId: attempt.clientId,
              userAgent: attempt.userAgent,
              description: `Blocked IP address: ${stage.max_attempts} failed logins`,
              details: { stage: 'pre-login', max_attempts: stage.max_attempts, rate: stage.rate, shields: sip.shields },
            });
          }
        } else if (ipBlocks) {
          await suspiciousIp.succeedLogin(ipKey, stage);
        }
      }
    }
  }

  /** Counts a signup attempt from an IP (the `pre-user-registration` stage); refused when over the limit with `block`. */
  async function guardSignup(tenant: Tenant, ip: string): Promise<Throttled | undefined> {
    if (!deps.enabled) return undefined;
    const sip = attackProtectionOf(tenant).suspicious_ip_throttling;
    if (!sip.enabled || ipListOf(sip.allowlist).has(ip)) return undefined;
    const stage = sip.stage['pre-user-registration'];
    const { count, retryAfterMs } = await suspiciousIp.countSignup(suspiciousIp.keyOf(tenant.id, ip), stage);
    if (count === stage.max_attempts + 1) {
      await publish({
        tenantId: tenant.id,
        type: 'limit_mu',
        ip,
        description: `Blocked IP address: ${stage.max_attempts} signups`,
        details: { stage: 'pre-user-registration', max_attempts: stage.max_attempts, rate: stage.rate, shields: sip.shields },
      });
    }
    if (count <= stage.max_attempts || !sip.shields.includes('block')) return undefined;
    deps.onBlocked('suspicious_ip');
    return throttled('ip_blocked', retryAfterMs);
  }

  /**
   * Releases the brute-force blocks of a user (all of its identifiers, in its
   * connection): after a password change, or DELETE /user-blocks/{id}.
   * Publishes `ublkdu` when something was released; returns how many pairs.
   */
  async function releaseUser(tenantId: string, userId: string, reason: string): Promise<number> {
    const found = await userIdentifiers(tenantId, userId);
    if (!found) return 0;
    let released = 0;
    for (const identifier of found.identifiers) released += await bruteForce.release(tenantId, identifier, found.connection);
    if (released > 0) {
      await publish({ tenantId, type: 'ublkdu', userId, userName: found.identifiers[0], connection: found.connection, description: 'User login block released', details: { reason, released } });
    }
    return released;
  }

  /** The identifiers a user logs in with (email, username) and its connection's name; undefined for an unknown user. */
  async function userIdentifiers(tenantId: string, userId: string): Promise<{ identifiers: string[]; connection: string } | undefined> {
    const stores = tenantStores(deps.database.db, tenantId, deps.runtime);
    const user = await stores.users.findById(userId);
    if (!user) return undefined;
    const connection = (await stores.connections.findById(user.connection_id))?.name ?? '';
    return { identifiers: [user.email, user.username].filter((v): v is string => typeof v === 'string' && v.length > 0), connection };
  }

  return {
    counters: deps.counters,
    /** A request refused by a rate limit (counted in the blocked-attempts metric). */
    onRateLimited: () => deps.onBlocked('rate_limit'),
    publish,
    bruteForce, suspiciousIp, rateLimits, breached, guardLogin, guardSignup, releaseUser, userIdentifiers };
}

export type AttackProtection = ReturnType<typeof attackProtection>;
