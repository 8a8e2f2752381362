/**
 * Where an application may send users back (callbacks, logout URLs) and
 * which origins it may call from (web origins): checked when a client is
 * created or changed, so the engine's exact matching (RFC 9700 §2.1) only
 * ever sees safe, absolute values.
 *
 * - https only; plain http only for loopback hosts (localhost, 127.0.0.1,
 *   [::1]) — native and development apps (RFC 8252 §7.3);
 * - no wildcards anywhere (exact matching cannot honour them, and a wildcard
 *   in a path is an open redirect);
 * - no credentials in the URL, no fragment (RFC 6749 §3.1.2);
 * - `javascript:`, `data:` and every other scheme are refused by the first rule.
 */
export type UrlKind = 'callback' | 'logout' | 'origin';

const LOOPBACK = new Set(['localhost', '127.0.0.1', '[::1]']);

/** Returns why the value is refused, or undefined when it is acceptable. */
export function urlProblem(value: string, kind: UrlKind): string | undefined {
  if (value.length > 2048) return 'is longer than 2048 characters';
  if (value.includes('*')) return 'must not contain a wildcard';
  let parsed: URL;
  try {
    parsed = new URL(value);
  } catch {
    return 'is not an absolute URL';
  }
  if (parsed.protocol !== 'https:' && !(parsed.protocol === 'http:' && LOOPBACK.has(parsed.hostname))) return 'must be https (http only for localhost)';
  if (parsed.username || parsed.password) return 'must not contain credentials';
  if (parsed.hash) return 'must not contain a fragment';
  if (kind === 'origin' && (parsed.pathname !== '/' || parsed.search || value.endsWith('/'))) return 'must be an origin (scheme, host and port only)';
  return undefined;
}
