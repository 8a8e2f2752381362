import type { IncomingMessage } from 'node:http';
import { isIP } from 'node:net';

/**
 * The client's address as Fastify resolved it (TRUST_PROXY decides whether
 * X-Forwarded-For is believed, with proxy-addr's right-to-left rule), kept
 * for the engine's grant handlers: the engine (Koa) has its own idea of
 * `ctx.ip`, which with a proxy hop count would believe the leftmost,
 * client-written X-Forwarded-For entry.
 */
const resolved = new WeakMap<IncomingMessage, string>();

export function rememberClientIp(raw: IncomingMessage, ip: string): void {
  resolved.set(raw, ip);
}

export function clientIpOf(raw: IncomingMessage, fallback: string): string {
  return resolved.get(raw) ?? fallback;
}

/**
 * The end user's IP for a password grant. Auth0 lets a server-side
 * application pass it in `auth0-forwarded-for`, so that brute-force
 * protection counts the user, not the server; the header is believed only
 * when the client is trusted to send it (first party, confidential,
 * authenticated with its secret, and `token_endpoint_ip_header_trusted`).
 * Otherwise, or when the value is not one IP address, it is ignored.
 */
export function passwordGrantIp(raw: IncomingMessage, fallback: string, header: string | undefined, clientTrusted: boolean): string {
  const direct = clientIpOf(raw, fallback);
  if (!clientTrusted || !header) return direct;
  const value = header.trim();
  return isIP(value) ? value : direct;
}
