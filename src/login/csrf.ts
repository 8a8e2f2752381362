import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * A form token bound to one interaction: HMAC(secret, interaction uid). The
 * interaction itself is bound to the browser by the engine's interaction
 * cookie (SameSite=Lax), so a POST must carry both the cookie and this token.
 */
export function csrfToken(secret: string, uid: string): string {
  return createHmac('sha256', secret).update(`login-form:${uid}`).digest('base64url');
}

export function csrfValid(secret: string, uid: string, presented: unknown): boolean {
  if (typeof presented !== 'string') return false;
  const expected = Buffer.from(csrfToken(secret, uid));
  const given = Buffer.from(presented);
  return given.length === expected.length && timingSafeEqual(given, expected);
}
