import { AttemptGate, type Admission } from './attempt-gate.js';
import type { CounterStore, MarkSet } from './counters.js';
import { counterIpKey, normalizeIp } from './ip-list.js';
import type { BruteForceSettings } from './settings.js';

/** One blocked pair as Auth0's `blocked_for` lists it. */
export interface BlockedPair {
  readonly identifier: string;
  readonly ip: string;
  readonly connection: string;
}

export interface PairRef {
  readonly tenantId: string;
  readonly connection: string;
  readonly identifier: string;
  readonly ip: string;
}

/** Identifiers match case-insensitively at login (emails and usernames alike), so they are counted that way. */
export const normalizeIdentifier = (identifier: string): string => identifier.trim().toLowerCase();

const SEP = '\u001f';

/**
 * Brute-force protection: failed logins per account identifier and IP
 * (or per identifier alone, in Auth0's `count_per_identifier` mode), counted
 * over a window (BRUTE_FORCE_WINDOW_SECONDS from the first attempt after the
 * last success). At `max_attempts` failures the pair is blocked until the
 * window ends, an administrator releases it (/api/v2/user-blocks), or the
 * user changes the password: an attacker elsewhere never locks the owner out
 * for good, and in the default mode not at all from the owner's own IPs.
 * Unknown identifiers are counted exactly like known ones, so a block says
 * nothing about whether an account exists.
 */
export class BruteForce {
  readonly #gate: AttemptGate;
  readonly #marks: MarkSet;

  constructor(
    store: CounterStore,
    readonly windowSeconds: number,
  ) {
    this.#gate = new AttemptGate(store, 'bf', windowSeconds);
    this.#marks = store.marks('bf-blocks');
  }

  /** The counted key of a pair: the IP is left out in `count_per_identifier` mode. */
  keyOf(ref: PairRef, mode: BruteForceSettings['mode']): string {
    const ip = mode === 'count_per_identifier' ? '*' : counterIpKey(ref.ip);
    return [ref.tenantId, ref.connection, normalizeIdentifier(ref.identifier), ip].join(SEP);
  }

  enter(key: string, settings: BruteForceSettings): Promise<Admission> {
    return this.#gate.enter(key, settings.max_attempts);
  }

  /** A failed attempt; true when it is the one that reached the limit (the pair is now blocked). */
  async fail(key: string, ref: PairRef, settings: BruteForceSettings): Promise<boolean> {
    const failures = await this.#gate.fail(key);
    if (failures !== settings.max_attempts) return false;
    const { resetInMs } = await this.#gate.failures(key);
    const pair: BlockedPair & { key: string } = { identifier: normalizeIdentifier(ref.identifier), ip: normalizeIp(ref.ip), connection: ref.connection, key };
    await this.#marks.add(this.#indexKey(ref.tenantId, pair.identifier), JSON.stringify(pair), Math.max(resetInMs, 1000));
    return true;
  }

  /** An admitted attempt that could not be checked (an error) gives its reservation back. */
  cancel(key: string): Promise<void> {
    return this.#gate.release(key);
  }

  /**
   * A successful login wipes the pair's count. A block mark left behind (a
   * success is only possible where `block` is not a shield) no longer lists
   * the pair, since `blocked` checks the count, and expires with the window.
   */
  async succeed(key: string): Promise<void> {
    await this.#gate.reset(key);
  }

  /** The pairs of an identifier blocked now (failures at or over `max_attempts`). */
  async blocked(tenantId: string, identifier: string, settings: BruteForceSettings): Promise<BlockedPair[]> {
    const pairs: BlockedPair[] = [];
    const index = this.#indexKey(tenantId, normalizeIdentifier(identifier));
    for (const member of await this.#marks.list(index)) {
      const { key, ...pair } = JSON.parse(member) as BlockedPair & { key: string };
      if ((await this.#gate.failures(key)).count >= settings.max_attempts) pairs.push(pair);
      else await this.#marks.remove(index, member);
    }
    return pairs;
  }

  /** Releases the blocked pairs of an identifier (in one connection, or all); returns how many there were. */
  async release(tenantId: string, identifier: string, connection?: string): Promise<number> {
    const index = this.#indexKey(tenantId, normalizeIdentifier(identifier));
    let released = 0;
    for (const member of await this.#marks.list(index)) {
      const pair = JSON.parse(member) as BlockedPair & { key: string };
      if (connection !== undefined && pair.connection !== connection) continue;
      await this.#gate.reset(pair.key);
      await this.#marks.remove(index, member);
      released++;
    }
    return released;
  }

  #indexKey(tenantId: string, identifier: string): string {
    return `${tenantId}${SEP}${identifier}`;
  }
}
