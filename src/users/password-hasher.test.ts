import { hash as argon2Hash, parseOptions, verify as argon2Verify } from '@node-rs/argon2';
import { describe, expect, it } from 'vitest';
import { ARGON2_PARAMS, concurrencyLimit, defaultConcurrency, DUMMY_HASH, PasswordHashError, passwordHasher, type Argon2Primitives } from './password-hasher.js';

const PHC_PREFIX = '$argon2id$v=19$m=19456,t=2,p=1$';

/** A promise the test settles by hand, to hold an operation "running". */
function deferred<T>() {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** Lets every already-settled promise chain run. */
const flush = () => new Promise<void>((resolve) => setImmediate(resolve));

/** Argon2 primitives that only finish when the test says so, recording what runs at once. */
function heldPrimitives() {
  const running: { kind: 'hash' | 'verify'; password: string; done: ReturnType<typeof deferred<unknown>> }[] = [];
  let active = 0;
  let maxActive = 0;
  const started: string[] = [];
  function hold<T>(kind: 'hash' | 'verify', password: string): Promise<T> {
    active++;
    maxActive = Math.max(maxActive, active);
    started.push(password);
    const done = deferred<unknown>();
    running.push({ kind, password, done });
    return done.promise.finally(() => active--) as Promise<T>;
  }
  const primitives: Argon2Primitives = { hash: (password) => hold('hash', password), verify: (_hash, password) => hold('verify', password) };
  return { primitives, running, started, stats: () => ({ active, maxActive }) };
}

describe('password hasher', () => {
  const hasher = passwordHasher();

  it('hashes to an argon2id PHC string with m=19456, t=2, p=1 that verifies the password and nothing else', async () => {
    const hash = await hasher.hash('a long enough passphrase');
    expect(hash.startsWith(PHC_PREFIX)).toBe(true);
    expect(await hasher.verify(hash, 'a long enough passphrase')).toBe(true);
    expect(await hasher.verify(hash, 'a long enough passphrasE')).toBe(false);
    expect(await hasher.verify(hash, '')).toBe(false);
  });

  it('salts every hash', async () => {
    const [a, b] = await Promise.all([hasher.hash('same password here'), hasher.hash('same password here')]);
    expect(a).not.toBe(b);
  });

  it('verifies NFKC-equivalent spellings of a password against each other', async () => {
    const ligature = await hasher.hash('ﬁnal answer ﬁfty-two');
    expect(await hasher.verify(ligature, 'final answer fifty-two')).toBe(true);
    const plain = await hasher.hash('final answer fifty-two');
    expect(await hasher.verify(plain, 'ﬁnal answer ﬁfty-two')).toBe(true);
    // Full-width forms and a combining accent vs its precomposed letter.
    const fullWidth = await hasher.hash('ＰＡＳＳ１２３ café');
    expect(await hasher.verify(fullWidth, 'PASS123 cafe\u0301')).toBe(true);
  });

  it('keeps case and does not treat look-alikes outside NFKC as equal', async () => {
    const hash = await hasher.hash('Case Matters Here');
    expect(await hasher.verify(hash, 'case matters here')).toBe(false);
    // Cyrillic "а" is not Latin "a".
    expect(await hasher.verify(hash, 'Cаse Matters Here')).toBe(false);
  });

  it('never truncates: 200-character passwords differing only in their last character do not match', async () => {
    const stem = 'x'.repeat(199);
    const hash = await hasher.hash(`${stem}A`);
    expect(await hasher.verify(hash, `${stem}A`)).toBe(true);
    expect(await hasher.verify(hash, `${stem}B`)).toBe(false);
    expect(await hasher.verify(hash, stem)).toBe(false);
  });

  it('verifyDummy answers false, even for the empty password', async () => {
    expect(await hasher.verifyDummy('anything at all')).toBe(false);
    expect(await hasher.verifyDummy('')).toBe(false);
  });

  it('keeps the dummy hash made with the current parameters (so it costs what a real verification costs)', () => {
    expect(DUMMY_HASH.startsWith(PHC_PREFIX)).toBe(true);
    expect(hasher.needsRehash(DUMMY_HASH)).toBe(false);
    expect(parseOptions(DUMMY_HASH)).toMatchObject({ memoryCost: ARGON2_PARAMS.memoryCost, timeCost: ARGON2_PARAMS.timeCost, parallelism: ARGON2_PARAMS.parallelism, outputLen: 32, saltLen: 16 });
  });

  it('asks for a rehash of hashes made with other parameters or another variant', async () => {
    expect(hasher.needsRehash(await hasher.hash('current parameters'))).toBe(false);
    expect(hasher.needsRehash(await argon2Hash('old', { algorithm: 2, memoryCost: 4096, timeCost: 1, parallelism: 1 }))).toBe(true);
    expect(hasher.needsRehash(await argon2Hash('argon2i', { algorithm: 1, memoryCost: 19456, timeCost: 2, parallelism: 1 }))).toBe(true);
    expect(hasher.needsRehash('not a hash')).toBe(true);
  });

  it('verifies hashes made with older parameters (they are upgraded on login, not refused)', async () => {
    const old = await argon2Hash('older parameters', { algorithm: 2, memoryCost: 4096, timeCost: 1, parallelism: 1 });
    expect(await hasher.verify(old, 'older parameters')).toBe(true);
  });

  it('rejects a stored value that is not an argon2 PHC string, instead of reading it as a wrong password', async () => {
    for (const bad of ['', 'h', 'plaintext', '$2b$10$abcdefghijklmnopqrstuv', '$argon2id$v=19$m=19456,t=2,p=1$short']) {
      const error = await hasher.verify(bad, 'password').catch((e: unknown) => e);
      expect(error, bad).toBeInstanceOf(PasswordHashError);
      expect((error as PasswordHashError).code).toBe('UNSUPPORTED_HASH');
    }
  });
});

describe('argon2 concurrency cap', () => {
  it('defaults to the core count, leaving one libuv threadpool thread free', () => {
    expect(defaultConcurrency(2, 4)).toBe(2);
    expect(defaultConcurrency(8, 4)).toBe(3);
    expect(defaultConcurrency(8, 16)).toBe(8);
    expect(defaultConcurrency(1, 1)).toBe(1);
    expect(defaultConcurrency()).toBeGreaterThanOrEqual(1);
  });

  it('refuses a cap that is not a positive integer', () => {
    for (const bad of [0, -1, 1.5, Number.NaN]) expect(() => concurrencyLimit(bad), String(bad)).toThrow(RangeError);
  });

  it('with a cap of 1, hash, verify and dummy verification never overlap, and run in arrival order', async () => {
    const held = heldPrimitives();
    const hasher = passwordHasher({ maxConcurrent: 1, argon2: held.primitives });
    const results = [hasher.hash('first'), hasher.verify(DUMMY_HASH, 'second'), hasher.verifyDummy('third'), hasher.hash('fourth')];
    for (let i = 0; i < 4; i++) {
      await flush();
      expect(held.stats().active).toBe(1);
      expect(held.running).toHaveLength(i + 1);
      held.running[i]!.done.resolve(held.running[i]!.kind === 'hash' ? `hash-${i}` : true);
    }
    expect(await Promise.all(results)).toEqual(['hash-0', true, false, 'hash-3']);
    expect(held.started).toEqual(['first', 'second', 'third', 'fourth']);
    expect(held.stats()).toEqual({ active: 0, maxActive: 1 });
  });

  it('with a cap of 2, a burst of 10 runs two at a time', async () => {
    const held = heldPrimitives();
    const hasher = passwordHasher({ maxConcurrent: 2, argon2: held.primitives });
    const results = Array.from({ length: 10 }, (_, i) => hasher.hash(`burst ${i}`));
    for (let finished = 0; finished < 10; finished++) {
      await flush();
      expect(held.stats().active).toBe(Math.min(2, 10 - finished));
      held.running[finished]!.done.resolve('h');
    }
    await Promise.all(results);
    expect(held.stats().maxActive).toBe(2);
  });

  it('frees the slot of an operation that fails', async () => {
    const held = heldPrimitives();
    const hasher = passwordHasher({ maxConcurrent: 1, argon2: held.primitives });
    const failing = hasher.hash('fails').catch((e: unknown) => e);
    const next = hasher.hash('runs after');
    await flush();
    held.running[0]!.done.reject(new Error('argon2 blew up'));
    expect(await failing).toEqual(new Error('argon2 blew up'));
    await flush();
    expect(held.running).toHaveLength(2);
    held.running[1]!.done.resolve('ok');
    expect(await next).toBe('ok');
    expect(held.stats().maxActive).toBe(1);
  });

  it('caps the real argon2 too (cap 1: observed overlap stays at 1)', async () => {
    let active = 0;
    let maxActive = 0;
    const track = async <T>(work: () => Promise<T>): Promise<T> => {
      maxActive = Math.max(maxActive, ++active);
      try {
        return await work();
      } finally {
        active--;
      }
    };
    const hasher = passwordHasher({
      maxConcurrent: 1,
      argon2: { hash: (password, options) => track(() => argon2Hash(password, options)), verify: (hash, password) => track(() => argon2Verify(hash, password)) },
    });
    const hashes = await Promise.all([hasher.hash('one one one one'), hasher.hash('two two two two'), hasher.hash('three three three')]);
    expect(await Promise.all([hasher.verify(hashes[0]!, 'one one one one'), hasher.verifyDummy('x'), hasher.verify(hashes[2]!, 'nope')])).toEqual([true, false, false]);
    expect(maxActive).toBe(1);
  });
});
