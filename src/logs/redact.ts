/**
 * Keys whose values are credentials. Publishers never put them in an event's
 * details; this is the second line: should one slip in (an error object
 * carrying a request body, say), the value is replaced before it is stored.
 */
const SECRET_KEYS = /^(password|new_?password|old_?password|client_?secret|secret|token|access_?token|refresh_?token|id_?token|id_?token_?hint|authorization_?code|code_?verifier|client_?assertion|assertion|authorization|cookie|otp|recovery_?code)$/i;

const REDACTED = '[redacted]';
const MAX_DEPTH = 6;

/**
 * PostgreSQL refuses NUL in text and jsonb: a NUL a caller typed (an
 * identifier, a client_id) becomes U+FFFD, so it cannot fail the batch of
 * events it is written with.
 */
export const withoutNul = (value: string): string => (value.includes('\u0000') ? value.replaceAll('\u0000', '\uFFFD') : value);

/** A copy of `details` with credential-named keys redacted and NULs replaced, at any depth (bounded). */
export function redactSecrets(details: Record<string, unknown>): Record<string, unknown> {
  return redactObject(details, 0);
}

function redactValue(value: unknown, depth: number): unknown {
  if (depth > MAX_DEPTH) return REDACTED;
  if (Array.isArray(value)) return value.map((item) => redactValue(item, depth + 1));
  if (value && typeof value === 'object') return redactObject(value as Record<string, unknown>, depth + 1);
  return typeof value === 'string' ? withoutNul(value) : value;
}

function redactObject(object: Record<string, unknown>, depth: number): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(object)) out[withoutNul(key)] = SECRET_KEYS.test(key) ? REDACTED : redactValue(value, depth);
  return out;
}
