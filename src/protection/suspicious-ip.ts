import { AttemptGate, type Admission } from './attempt-gate.js';
import type { CounterStore } from './counters.js';
import { counterIpKey } from './ip-list.js';
import { stageWindowSeconds, type StageLimit } from './settings.js';

/** Auth0's message for an IP throttled by suspicious IP throttling. */
export const SUSPICIOUS_IP_MESSAGE = 'We have detected suspicious login behavior and further attempts will be blocked. Please contact the administrator.';

const SEP = '\u001f';

/**
 * Suspicious IP throttling: failed logins per IP across all accounts
 * (Auth0's `pre-login` stage) and signups per IP (`pre-user-registration`).
 * Auth0 grants one more attempt every `rate` ms up to `max_attempts`; here
 * the same budget is a fixed window of `max_attempts` attempts per
 * `max_attempts × rate` (100 failed logins per day, 50 signups per minute by
 * default), which never allows more than Auth0's bucket would in a window.
 * A window's length comes from the tenant's settings, so each distinct
 * length has its own counters.
 */
export class SuspiciousIp {
  readonly #loginGates = new Map<number, AttemptGate>();

  constructor(private readonly store: CounterStore) {}

  #loginGate(stage: StageLimit): AttemptGate {
    const window = stageWindowSeconds(stage);
    let gate = this.#loginGates.get(window);
    if (!gate) {
      gate = new AttemptGate(this.store, 'sip-login', window);
      this.#loginGates.set(window, gate);
    }
    return gate;
  }

  keyOf(tenantId: string, ip: string): string {
    return `${tenantId}${SEP}${counterIpKey(ip)}`;
  }

  /** Admits a login attempt from the IP, or refuses it while the IP is throttled. */
  enterLogin(key: string, stage: StageLimit): Promise<Admission> {
    return this.#loginGate(stage).enter(key, stage.max_attempts);
  }

  /** A failed login; true when it is the one that reached the limit (the IP is now throttled). */
  async failLogin(key: string, stage: StageLimit): Promise<boolean> {
    return (await this.#loginGate(stage).fail(key)) === stage.max_attempts;
  }

  /** A successful login gives its reserved attempt back; the IP's failures stay. */
  succeedLogin(key: string, stage: StageLimit): Promise<void> {
    return this.#loginGate(stage).release(key);
  }

  /**
   * Counts one signup attempt of the IP. `count` is this attempt's number in
   * the window: above `max_attempts` it is refused, and exactly one attempt
   * (the first refused) has `max_attempts + 1`.
   */
  async countSignup(key: string, stage: StageLimit): Promise<{ count: number; retryAfterMs: number }> {
    const state = await this.store.counter('sip-signup', stageWindowSeconds(stage)).add(key);
    return { count: state.count, retryAfterMs: Math.max(state.resetInMs, 1000) };
  }

  /** Whether the IP is throttled now at either stage. */
  async isBlocked(key: string, stages: { 'pre-login': StageLimit; 'pre-user-registration': StageLimit }): Promise<boolean> {
    const login = stages['pre-login'];
    const signup = stages['pre-user-registration'];
    const [failures, signups] = await Promise.all([this.#loginGate(login).failures(key), this.store.counter('sip-signup', stageWindowSeconds(signup)).get(key)]);
    return failures.count >= login.max_attempts || signups.count >= signup.max_attempts;
  }

  /** Lifts the IP's throttling at both stages (DELETE /anomaly/blocks/ips/{ip}). */
  async release(key: string, stages: { 'pre-login': StageLimit; 'pre-user-registration': StageLimit }): Promise<void> {
    await Promise.all([this.#loginGate(stages['pre-login']).reset(key), this.store.counter('sip-signup', stageWindowSeconds(stages['pre-user-registration'])).reset(key)]);
  }
}
