import { availableParallelism } from 'node:os';
import { hash as argon2Hash, parseOptions, verify as argon2Verify, type Algorithm, type Options } from '@node-rs/argon2';

/**
 * Argon2id with OWASP's minimum configuration (Password Storage Cheat Sheet:
 * m = 19 MiB, t = 2, p = 1), about 10 ms of one core per operation here. It is
 * not RFC 9106 §4's "second recommended option" (m = 64 MiB, t = 3, p = 4):
 * see docs/decisions/006. `Algorithm` is an ambient const enum, which
 * isolatedModules cannot read, so Argon2id is written as its value (2).
 */
export const ARGON2_PARAMS = { algorithm: 2 as Algorithm, memoryCost: 19456, timeCost: 2, parallelism: 1 } as const;

/** Argon2 version 0x13 (19), as `parseOptions` reports it. */
const VERSION_0X13 = 1;

/**
 * A hash of 32 random bytes nobody kept, made with ARGON2_PARAMS. Verifying
 * against it costs what verifying a real user's hash costs, because argon2
 * reads its parameters from the PHC string. A test checks they stay current.
 */
export const DUMMY_HASH = '$argon2id$v=19$m=19456,t=2,p=1$tXLJpm893sSbzN6vnQMzcg$LliFHPEADe1USewOfLsJrl3sPRob5dQZKddTFjxF8ps';

export class PasswordHashError extends Error {
  constructor(
    message: string,
    readonly code: 'UNSUPPORTED_HASH',
  ) {
    super(message);
    this.name = 'PasswordHashError';
  }
}

export interface PasswordHasher {
  /** Argon2id PHC string of the NFKC form of `password`, with a fresh salt. */
  hash(password: string): Promise<string>;
  /** Rejects with PasswordHashError(UNSUPPORTED_HASH) when `hash` is not an argon2 PHC string. */
  verify(hash: string, password: string): Promise<boolean>;
  /** Spends one verification's time and answers false: for logins of unknown users. */
  verifyDummy(password: string): Promise<false>;
  /** True when `hash` was made with other parameters than ARGON2_PARAMS (rehash after a successful login). */
  needsRehash(hash: string): boolean;
}

/** The two argon2 calls the hasher makes; tests substitute instrumented ones. */
export interface Argon2Primitives {
  hash(password: string, options: Options): Promise<string>;
  verify(hash: string, password: string): Promise<boolean>;
}

export interface PasswordHasherOptions {
  /** Most argon2 operations running at once (default: `defaultConcurrency()`). */
  readonly maxConcurrent?: number;
  readonly argon2?: Argon2Primitives;
}

/**
 * Cores, but always leaving one libuv threadpool thread free: argon2's async
 * calls run on that pool (default 4 threads), which also serves dns.lookup
 * (new PostgreSQL connections) and fs. On a machine with more cores than pool
 * threads, raise UV_THREADPOOL_SIZE to use them all.
 */
export function defaultConcurrency(cores = availableParallelism(), threadpoolSize = Number(process.env.UV_THREADPOOL_SIZE) || 4): number {
  return Math.max(1, Math.min(cores, threadpoolSize - 1));
}

interface Waiter {
  readonly wake: () => void;
  next?: Waiter;
}

/**
 * A FIFO semaphore. A finishing task hands its slot straight to the oldest
 * waiter, so a newcomer can never overtake the queue and `max` is never
 * exceeded. A rejected task frees its slot like a resolved one.
 */
export function concurrencyLimit(max: number): <T>(task: () => Promise<T>) => Promise<T> {
  if (!Number.isInteger(max) || max < 1) throw new RangeError(`concurrency limit must be a positive integer, got ${max}`);
  let active = 0;
  // A linked queue: a burst of thousands of waiters costs O(1) per hand-over.
  let head: Waiter | undefined;
  let tail: Waiter | undefined;

  function release(): void {
    const waiter = head;
    if (!waiter) {
      active--;
      return;
    }
    head = waiter.next;
    if (!head) tail = undefined;
    waiter.wake();
  }

  return async function run<T>(task: () => Promise<T>): Promise<T> {
    if (active < max) active++;
    else
      await new Promise<void>((wake) => {
        const node: Waiter = { wake };
        if (tail) tail.next = node;
        else head = node;
        tail = node;
      });
    try {
      return await task();
    } finally {
      release();
    }
  };
}

/**
 * NFKC, so that the same password typed on another keyboard or input method
 * (ligatures, full-width forms, composed vs combining accents) verifies
 * (NIST SP 800-63B-4 §3.1.1.2). Never truncated: argon2 pre-hashes the whole
 * input, whatever its length.
 */
export const normalizePassword = (password: string): string => password.normalize('NFKC');

const defaultPrimitives: Argon2Primitives = { hash: argon2Hash, verify: (hash, password) => argon2Verify(hash, password) };

function parsedOrUndefined(hash: string) {
  try {
    return parseOptions(hash);
  } catch {
    return undefined;
  }
}

export function passwordHasher(options: PasswordHasherOptions = {}): PasswordHasher {
  const argon2 = options.argon2 ?? defaultPrimitives;
  const limit = concurrencyLimit(options.maxConcurrent ?? defaultConcurrency());

  function checkedVerify(hash: string, password: string): Promise<boolean> {
    // Parsed before queueing (parseOptions applies verify's own decoding), so a
    // corrupt row fails fast and loudly instead of reading as a wrong password.
    if (parsedOrUndefined(hash) === undefined) {
      return Promise.reject(new PasswordHashError('stored password hash is not an argon2 PHC string', 'UNSUPPORTED_HASH'));
    }
    return limit(() => argon2.verify(hash, normalizePassword(password)));
  }

  return {
    hash: (password) => limit(() => argon2.hash(normalizePassword(password), ARGON2_PARAMS)),
    verify: checkedVerify,
    async verifyDummy(password) {
      await checkedVerify(DUMMY_HASH, password);
      return false;
    },
    needsRehash(hash) {
      const current = parsedOrUndefined(hash);
      return (
        current === undefined ||
        current.algorithm !== ARGON2_PARAMS.algorithm ||
        current.version !== VERSION_0X13 ||
        current.memoryCost !== ARGON2_PARAMS.memoryCost ||
        current.timeCost !== ARGON2_PARAMS.timeCost ||
        current.parallelism !== ARGON2_PARAMS.parallelism
      );
    },
  };
}
