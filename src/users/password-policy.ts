import { normalizePassword } from './password-hasher.js';

/**
 * Password rules of a database connection: a length range and a blocklist,
 * with no composition rules (NIST SP 800-63B-4 §3.1.1.2, ASVS 5 V6.2).
 * Lengths are Unicode code points of the NFKC form, the string that is hashed.
 */
export interface PasswordPolicy {
  readonly minLength: number;
  readonly maxLength: number;
}

/**
 * Used when a connection sets no min_length; new tenants' default connection
 * sets 12 too (ASVS 4.0.3 2.1.1). NIST SP 800-63B-4 asks 15 of a password that
 * is the only factor: a tenant can raise it per connection.
 */
export const DEFAULT_MIN_LENGTH = 12;

/**
 * 256 code points is four times the 64 that NIST and ASVS ask us to accept,
 * and bounds the hashed input at 1 KiB of UTF-8. The limit is there against
 * abuse, not for argon2's sake: argon2 pre-hashes its input with BLAKE2b.
 */
export const MAX_LENGTH = 256;

/** Auth0 accepts `password_complexity_options.min_length` from 1 to 128. */
const MIN_LENGTH_CEILING = 128;

export type PasswordPolicyCode = 'password_too_short' | 'password_too_long' | 'password_common';

export type PasswordCheck = { readonly ok: true } | { readonly ok: false; readonly code: PasswordPolicyCode; readonly message: string };

/** The policy of a connection, from its Auth0 options; a missing or malformed min_length means the default. */
export function passwordPolicyOf(connectionOptions: Readonly<Record<string, unknown>>): PasswordPolicy {
  const complexity = connectionOptions.password_complexity_options as { min_length?: unknown } | null | undefined;
  const configured = complexity?.min_length;
  const valid = typeof configured === 'number' && Number.isInteger(configured) && configured >= 1 && configured <= MIN_LENGTH_CEILING;
  return { minLength: valid ? configured : DEFAULT_MIN_LENGTH, maxLength: MAX_LENGTH };
}

/**
 * The bundled list: zxcvbn-ts's "passwords-common" dictionary (about 49,000
 * entries, lower-case, from public breach corpora), loaded on first use so
 * processes that never check a password (CLI, worker) do not pay for it. The
 * set is immutable data, not state, so caching it per process is harmless.
 */
let commonPasswords: Promise<ReadonlySet<string>> | undefined;

function loadCommonPasswords(): Promise<ReadonlySet<string>> {
  commonPasswords ??= import('@zxcvbn-ts/language-common').then((m) => new Set(m.dictionary['passwords-common'].map((p) => p.toLowerCase())));
  return commonPasswords;
}

/** The list's size, for the decision record and tests. */
export async function commonPasswordCount(): Promise<number> {
  return (await loadCommonPasswords()).size;
}

/**
 * NFKC never shrinks a string to less than a fraction of its UTF-16 length
 * (composition merges a few code points into one), so anything longer than
 * this is too long after normalisation too; refusing it early bounds the work
 * an attacker can ask of `normalize`.
 */
export const isObviouslyTooLong = (password: string): boolean => password.length > MAX_LENGTH * 8;

const tooLong = (policy: PasswordPolicy): PasswordCheck => ({
  ok: false,
  code: 'password_too_long',
  message: `Password is too long: use at most ${policy.maxLength} characters.`,
});

export async function checkPassword(policy: PasswordPolicy, password: string): Promise<PasswordCheck> {
  if (isObviouslyTooLong(password)) return tooLong(policy);
  const normalized = normalizePassword(password);
  const length = [...normalized].length;
  if (length < policy.minLength) {
    return { ok: false, code: 'password_too_short', message: `Password is too short: use at least ${policy.minLength} characters.` };
  }
  if (length > policy.maxLength) return tooLong(policy);
  // Case-insensitive: "Password1234" is as guessable as "password1234".
  if ((await loadCommonPasswords()).has(normalized.toLowerCase())) {
    return { ok: false, code: 'password_common', message: 'Password is too common: it appears in lists of leaked passwords. Choose another one.' };
  }
  return { ok: true };
}
