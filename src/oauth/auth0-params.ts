/**
 * Auth0 request parameters the engine does not know, translated to the
 * standard ones before the engine sees the request:
 * - `audience` (Auth0) is the RFC 8707 `resource` indicator;
 * - token requests may be JSON (Auth0 accepts both); the engine's token
 *   endpoint takes form bodies, so a parsed JSON body is handed over as form
 *   parameters (the engine re-encodes a pre-parsed body itself).
 */
export function toEngineTokenBody(body: unknown): Record<string, unknown> {
  const params: Record<string, unknown> = body && typeof body === 'object' && !Array.isArray(body) ? { ...(body as Record<string, unknown>) } : {};
  if (params.audience !== undefined && params.resource === undefined) params.resource = params.audience;
  delete params.audience;
  // Only strings (or repeated strings, which the engine rejects as
  // duplicates) are parameters; JSON numbers and booleans become strings,
  // nested objects are not parameters at all.
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(params)) {
    if (typeof value === 'number' || typeof value === 'boolean') out[key] = String(value);
    else if (value === null || typeof value !== 'object' || Array.isArray(value)) out[key] = value;
  }
  return out;
}

/** Adds `resource` from Auth0's `audience` to an authorization request URL. */
export function toEngineAuthorizeUrl(url: string): string {
  const questionMark = url.indexOf('?');
  if (questionMark === -1) return url;
  const query = new URLSearchParams(url.slice(questionMark + 1));
  const audience = query.getAll('audience');
  if (audience.length !== 1 || query.has('resource')) return url;
  query.set('resource', audience[0] as string);
  return `${url.slice(0, questionMark)}?${query.toString()}`;
}
