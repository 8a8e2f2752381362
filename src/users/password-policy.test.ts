import { describe, expect, it } from 'vitest';
import { checkPassword, commonPasswordCount, DEFAULT_MIN_LENGTH, MAX_LENGTH, passwordPolicyOf, type PasswordPolicy } from './password-policy.js';

const policy: PasswordPolicy = passwordPolicyOf({});

describe('password policy of a connection', () => {
  it('reads min_length from password_complexity_options, defaulting to 12', () => {
    expect(DEFAULT_MIN_LENGTH).toBe(12);
    expect(passwordPolicyOf({})).toEqual({ minLength: 12, maxLength: MAX_LENGTH });
    expect(passwordPolicyOf({ password_complexity_options: { min_length: 15 } }).minLength).toBe(15);
    expect(passwordPolicyOf({ password_complexity_options: { min_length: 8 } }).minLength).toBe(8);
  });

  it('falls back to the default for a malformed min_length', () => {
    for (const bad of [0, -3, 7.5, '15', null, 129]) {
      expect(passwordPolicyOf({ password_complexity_options: { min_length: bad } }).minLength, String(bad)).toBe(12);
    }
    expect(passwordPolicyOf({ password_complexity_options: null }).minLength).toBe(12);
  });

  it('accepts at least 64 characters (NIST, ASVS) — the limit is 256', () => {
    expect(MAX_LENGTH).toBeGreaterThanOrEqual(64);
    expect(MAX_LENGTH).toBe(256);
  });
});

describe('checkPassword', () => {
  it('accepts a password of exactly the minimum length, with no composition rules', async () => {
    expect(await checkPassword(policy, 'vellum otter')).toEqual({ ok: true });
    expect(await checkPassword(policy, 'alllowercase')).toEqual({ ok: true });
  });

  it('refuses one character less, saying how long it must be', async () => {
    const result = await checkPassword(policy, 'vellum otte');
    expect(result).toEqual({ ok: false, code: 'password_too_short', message: 'Password is too short: use at least 12 characters.' });
    expect(await checkPassword(passwordPolicyOf({ password_complexity_options: { min_length: 20 } }), 'nineteen characters')).toMatchObject({
      code: 'password_too_short',
      message: 'Password is too short: use at least 20 characters.',
    });
  });

  it('counts code points, not UTF-16 units', async () => {
    // 11 emoji are 22 UTF-16 units but 11 characters.
    expect(await checkPassword(policy, '🔒'.repeat(11))).toMatchObject({ code: 'password_too_short' });
    expect(await checkPassword(policy, '🔒'.repeat(12))).toEqual({ ok: true });
  });

  it('counts after NFKC: six "ﬁ" ligatures are twelve characters', async () => {
    expect(await checkPassword(policy, 'ﬁ'.repeat(6))).toEqual({ ok: true });
    // "e" + combining acute composes into one "é": 12 code points become 11.
    const combining = 'cafe\u0301-brûlée';
    expect([...combining]).toHaveLength(12);
    expect(await checkPassword(policy, combining)).toMatchObject({ code: 'password_too_short' });
  });

  it('accepts a 64-character passphrase and anything up to 256 characters', async () => {
    const passphrase = 'the quick brown fox jumps over the lazy dog and keeps running on';
    expect([...passphrase]).toHaveLength(64);
    expect(await checkPassword(policy, passphrase)).toEqual({ ok: true });
    expect(await checkPassword(policy, 'q'.repeat(MAX_LENGTH))).toEqual({ ok: true });
    expect(await checkPassword(policy, '😀'.repeat(MAX_LENGTH))).toEqual({ ok: true });
  });

  it('refuses more than 256 characters, and huge inputs without normalising them', async () => {
    const tooLong = { ok: false, code: 'password_too_long', message: 'Password is too long: use at most 256 characters.' };
    expect(await checkPassword(policy, 'q'.repeat(MAX_LENGTH + 1))).toEqual(tooLong);
    expect(await checkPassword(policy, 'q'.repeat(5_000_000))).toEqual(tooLong);
    // NFKC expands one U+FDFA into 18 characters: 15 of them are 270 after normalisation.
    expect(await checkPassword(policy, '\uFDFA'.repeat(15))).toEqual(tooLong);
  });

  it('refuses passwords from the bundled common-password list, whatever their case or width', async () => {
    const common = { ok: false, code: 'password_common', message: 'Password is too common: it appears in lists of leaked passwords. Choose another one.' };
    expect(await checkPassword(policy, 'password1234')).toEqual(common);
    expect(await checkPassword(policy, 'PassWord1234')).toEqual(common);
    expect(await checkPassword(policy, 'qwerty123456')).toEqual(common);
    expect(await checkPassword(policy, '１qaz２wsx３edc')).toEqual(common);
    const eight = passwordPolicyOf({ password_complexity_options: { min_length: 8 } });
    for (const password of ['password', 'iloveyou', 'Trustno1', 'passw0rd']) expect(await checkPassword(eight, password), password).toEqual(common);
    expect(await checkPassword(eight, 'unusual-words')).toEqual({ ok: true });
  });

  it('checks length before the list', async () => {
    expect(await checkPassword(policy, 'letmein')).toMatchObject({ code: 'password_too_short' });
  });

  it('bundles tens of thousands of common passwords', async () => {
    expect(await commonPasswordCount()).toBeGreaterThan(40_000);
  });
});
