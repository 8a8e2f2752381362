import type { Counter, CounterStore } from './counters.js';

interface LocalKey {
  entering: number;
  finished: number;
  readonly waiting: Array<() => void>;
}

export type Admission = { readonly admitted: true; readonly attempt: number } | { readonly admitted: false; readonly retryAfterMs: number };

export interface AttemptGateOptions {
  /**
   * How often a waiting attempt looks again while earlier ones of the same
   * key are still being checked. Attempts finishing on this node wake a
   * waiter at once; the poll only catches those finishing on other nodes.
   */
  readonly pollMs?: number;
  /** How long it waits at most before it is refused like a blocked one. */
  readonly maxWaitMs?: number;
}

/**
 * Lets at most `max` attempts of a key be checked per window, counting each
 * one BEFORE it is checked, so that concurrent attempts cannot race past
 * the limit (50 wrong passwords sent at once get at most `max` password
 * verifications).
 *
 * Two counters per key, in one window: `attempts` = failures + attempts in
 * flight, `failures` = failed attempts. `enter` adds to `attempts` (atomic,
 * docs of Counter.add): a total ≤ max is admitted. Above max the attempt
 * gives its point back and looks at `failures`: ≥ max means the key is
 * blocked (refused at once); otherwise attempts still in flight may yet
 * succeed, and it waits for them (a person's own parallel logins are delayed,
 * never refused, while no failure limit is reached).
 *
 * A success either gives its point back (`release`: suspicious-IP counting,
 * where failures stay) or resets the key (`reset`: brute force, where a
 * success wipes the failures). A new window resets `failures` too, so both
 * counters always describe the same window.
 *
 * Waiting is event-driven on this node: each attempt that finishes (release,
 * reset, fail) wakes the longest-waiting attempt of its key, which looks
 * again at once; a slow poll covers attempts finishing on other nodes. (A
 * tight poll cost ~1 ms of CPU per login with 50 concurrent logins of one
 * user from one address.)
 */
export class AttemptGate {
  readonly #attempts: Counter;
  readonly #failures: Counter;
  readonly #pollMs: number;
  readonly #maxWaitMs: number;
  /** Keys with attempts entering on this node: how many, how many attempts finished since, who waits (oldest first). */
  readonly #local = new Map<string, LocalKey>();

  constructor(store: CounterStore, name: string, windowSeconds: number, options: AttemptGateOptions = {}) {
    this.#attempts = store.counter(`${name}:attempts`, windowSeconds);
    this.#failures = store.counter(`${name}:failures`, windowSeconds);
    this.#pollMs = options.pollMs ?? 200;
    this.#maxWaitMs = options.maxWaitMs ?? 5000;
  }

  async enter(key: string, max: number): Promise<Admission> {
    const deadline = Date.now() + this.#maxWaitMs;
    const local = this.#join(key);
    try {
      for (;;) {
        const seen = local.finished;
        const added = await this.#attempts.add(key);
        // The first point of a window: failures left from an earlier window no longer count.
        if (added.count === 1) await this.#failures.reset(key);
        if (added.count <= max) return { admitted: true, attempt: added.count };
        await this.#attempts.subtract(key);
        const failures = await this.#failures.get(key);
        if (failures.count >= max || Date.now() >= deadline) return { admitted: false, retryAfterMs: Math.max(added.resetInMs, 1000) };
        // An attempt that finished while this one was looking would not wake it: look again at once.
        if (local.finished !== seen) continue;
        await this.#wait(local, Math.min(this.#pollMs, Math.max(1, deadline - Date.now())));
      }
    } finally {
      this.#leave(key, local);
    }
  }

  /** This node's bookkeeping of a key while attempts of it are entering. */
  #join(key: string): LocalKey {
    let local = this.#local.get(key);
    if (!local) {
      local = { entering: 0, finished: 0, waiting: [] };
      this.#local.set(key, local);
    }
    local.entering++;
    return local;
  }

  #leave(key: string, local: LocalKey): void {
    if (--local.entering === 0 && this.#local.get(key) === local) this.#local.delete(key);
  }

  /** Until an attempt of the key finishes on this node, or `ms` pass. */
  #wait(local: LocalKey, ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        const i = local.waiting.indexOf(wake);
        if (i >= 0) local.waiting.splice(i, 1);
        resolve();
      };
      const timer = setTimeout(wake, ms);
      local.waiting.push(wake);
    });
  }

  /** An attempt of `key` finished: counted for those looking, and the longest-waiting one looks again. */
  #wakeOne(key: string): void {
    const local = this.#local.get(key);
    if (!local) return;
    local.finished++;
    local.waiting[0]?.();
  }

  /** Records the failure of an admitted attempt; returns the failures counted in the window. */
  async fail(key: string): Promise<number> {
    try {
      return (await this.#failures.add(key)).count;
    } finally {
      this.#wakeOne(key);
    }
  }

  /** An admitted attempt succeeded and gives its point back; failures stay. */
  async release(key: string): Promise<void> {
    try {
      await this.#attempts.subtract(key);
    } finally {
      this.#wakeOne(key);
    }
  }

  /** An admitted attempt succeeded and wipes the key: attempts and failures start from 0. */
  async reset(key: string): Promise<void> {
    try {
      await Promise.all([this.#attempts.reset(key), this.#failures.reset(key)]);
    } finally {
      this.#wakeOne(key);
    }
  }

  /** Failures counted now, and when the window ends. */
  async failures(key: string): Promise<{ count: number; resetInMs: number }> {
    return this.#failures.get(key);
  }
}
