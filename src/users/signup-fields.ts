import { UserError } from './errors.js';

/** RFC 5321 §4.5.3.1: a path holds at most 254 characters of address, a local part at most 64. */
const MAX_EMAIL = 254;
const MAX_LOCAL_PART = 64;

/**
 * A deliberately loose check (one `@`, a dotted domain, no spaces or control
 * characters): the address is proven by the verification email, not by a
 * regular expression. Returns the address trimmed; its case is kept (lookups
 * are case-insensitive in the store).
 */
export function validEmail(input: string): string {
  const email = input.trim();
  const at = email.indexOf('@');
  const valid =
    email.length <= MAX_EMAIL &&
    at >= 1 &&
    at <= MAX_LOCAL_PART &&
    at === email.lastIndexOf('@') &&
    // eslint-disable-next-line no-control-regex -- control characters are exactly what is refused
    !/[\s\x00-\x1f\x7f]/.test(email) &&
    /^[^.]+(\.[^.]+)+$/.test(email.slice(at + 1));
  if (!valid) throw new UserError('The email address is not valid.', 'invalid_email');
  return email;
}

/**
 * Auth0's username alphabet, less `@`: an identifier with an `@` then always
 * means an email at login, so one user's username can never shadow another
 * user's email. Length from the connection's `validation.username` (Auth0's
 * default 1–15).
 */
const USERNAME = /^[A-Za-z0-9_+\-.!#$'^`~]+$/;

function usernameBounds(options: Readonly<Record<string, unknown>>): { min: number; max: number } {
  const configured = (options.validation as { username?: { min?: unknown; max?: unknown } } | undefined)?.username;
  const min = typeof configured?.min === 'number' && Number.isInteger(configured.min) && configured.min >= 1 ? configured.min : 1;
  const max = typeof configured?.max === 'number' && Number.isInteger(configured.max) && configured.max >= min ? Math.min(configured.max, 128) : 15;
  return { min, max: Math.max(min, max) };
}

/**
 * A username is required exactly when the connection has `requires_username`,
 * and refused otherwise: storing one on such a connection would quietly open
 * a second login identifier the tenant did not configure.
 */
export function validUsername(options: Readonly<Record<string, unknown>>, input: string | undefined): string | undefined {
  const required = options.requires_username === true;
  if (input === undefined || input === '') {
    if (required) throw new UserError('A username is required.', 'invalid_username');
    return undefined;
  }
  if (!required) throw new UserError('This connection does not use usernames.', 'invalid_username');
  const { min, max } = usernameBounds(options);
  if (input.length < min || input.length > max || !USERNAME.test(input)) {
    throw new UserError(`The username must have ${min} to ${max} characters: letters, digits and _ + - . ! # $ ' ^ \` ~`, 'invalid_username');
  }
  return input;
}

/**
 * Auth0's limits on `user_metadata` at /dbconnections/signup: at most ten
 * properties, names of at most 100 characters, string values of at most 500.
 */
export function validSignupMetadata(input: Readonly<Record<string, unknown>> | undefined): Record<string, string> {
  if (input === undefined) return {};
  const invalid = (detail: string) => new UserError(`user_metadata is not valid: ${detail}.`, 'invalid_user_metadata');
  if (typeof input !== 'object' || input === null || Array.isArray(input)) throw invalid('it must be an object');
  const entries = Object.entries(input);
  if (entries.length > 10) throw invalid('at most 10 properties');
  for (const [key, value] of entries) {
    if (key.length > 100) throw invalid('property names have at most 100 characters');
    if (typeof value !== 'string' || value.length > 500) throw invalid('values are strings of at most 500 characters');
  }
  return Object.fromEntries(entries) as Record<string, string>;
}
