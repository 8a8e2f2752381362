import { errors as joseErrors, jwtVerify, type JWTVerifyGetKey } from 'jose';
import type { FastifyRequest } from 'fastify';
import { HttpError } from '../http/errors.js';
import type { RequestTenant } from '../tenants/routes.js';
import { managementAudience } from './scopes.js';

/** Who calls the Management API: the client of the access token, and what it may do. */
export interface ManagementCaller {
  readonly clientId: string;
  /** `<client_id>@clients` for machine tokens (Auth0's subject). */
  readonly subject: string;
  readonly scopes: ReadonlySet<string>;
}

/** The tenant's current verification keys (next, current, previous), rebuilt with its engine. */
export type TenantKeys = (tenant: RequestTenant['tenant'], issuer: string) => Promise<JWTVerifyGetKey>;

const ALGORITHMS = ['RS256', 'ES256', 'EdDSA'];

/** How many verified tokens one node remembers (a few hundred bytes each). */
const VERIFIED_TOKENS_MAX = 2048;
/** How long a verified token is remembered at most, whatever its expiry. */
const VERIFIED_TOKEN_TTL_MS = 60_000;

interface VerifiedToken {
  readonly keys: JWTVerifyGetKey;
  readonly issuer: string;
  readonly caller: Omit<ManagementCaller, 'scopes'> & { readonly scopes: ReadonlySet<string> };
  /** Epoch ms after which the entry is not used: the token's `exp` or the TTL, whichever comes first. */
  readonly until: number;
}

/**
 * Tokens this node verified recently, so a client calling the API with the
 * same token does not pay a signature verification (RS256: most of a read's
 * CPU) on every request. An entry is used only while the token is unexpired,
 * for at most VERIFIED_TOKEN_TTL_MS, and only with the very key set it was
 * verified against: when the tenant's keys change (rotation, revocation —
 * the engine and its key set are rebuilt), every entry of the old key set
 * misses and the token is verified again. Bounded; oldest entries go first.
 */
class VerifiedTokens {
  readonly #entries = new Map<string, VerifiedToken>();

  constructor(private readonly now: () => number) {}

  get(token: string, keys: JWTVerifyGetKey, issuer: string): VerifiedToken['caller'] | undefined {
    const hit = this.#entries.get(token);
    if (!hit) return undefined;
    if (hit.keys !== keys || hit.issuer !== issuer || hit.until <= this.now()) {
      this.#entries.delete(token);
      return undefined;
    }
    return hit.caller;
  }

  set(token: string, entry: Omit<VerifiedToken, 'until'>, expSeconds: number | undefined): void {
    const now = this.now();
    const until = Math.min(now + VERIFIED_TOKEN_TTL_MS, expSeconds !== undefined ? expSeconds * 1000 : now);
    if (until <= now) return;
    if (this.#entries.size >= VERIFIED_TOKENS_MAX) this.#entries.delete(this.#entries.keys().next().value as string);
    this.#entries.set(token, { ...entry, until });
  }
}

/**
 * Authenticates a Management API request: a Bearer access token issued by
 * this tenant (`iss`), for this tenant's Management API (`aud` =
 * `<issuer>api/v2/`), a JWT access token (`typ: at+jwt`, so an ID token is
 * refused), signed with one of the tenant's published keys and not expired.
 * No token or a bad one → 401; a valid token without any of the route's
 * scopes → 403 `insufficient_scope` (Auth0's answers).
 */
export function managementAuthenticator(keysFor: TenantKeys, now: () => number = Date.now) {
  const verified = new VerifiedTokens(now);
  return async function authenticate(request: FastifyRequest, scopes: readonly string[]): Promise<ManagementCaller> {
    const header = request.headers.authorization;
    if (header === undefined || header === '') throw new HttpError(401, 'Missing authentication', 'missing_authentication');
    const token = /^Bearer +([A-Za-z0-9_.~+/=-]+)$/i.exec(header)?.[1];
    if (!token) throw new HttpError(401, 'Bad HTTP authentication header format', 'invalid_authorization_header');
    const { tenant, issuer } = request.tenantContext as RequestTenant;
    const keys = await keysFor(tenant, issuer);
    const known = verified.get(token, keys, issuer);
    if (known) {
      requireAnyScope(known, scopes);
      return known;
    }
    let payload: Record<string, unknown>;
    try {
      ({ payload } = await jwtVerify(token, keys, { issuer, audience: managementAudience(issuer), typ: 'at+jwt', algorithms: ALGORITHMS, currentDate: new Date(now()) }));
    } catch (error) {
      if (error instanceof joseErrors.JWTExpired) throw new HttpError(401, 'Expired token', 'invalid_token');
      throw new HttpError(401, 'Invalid token', 'invalid_token');
    }
    const clientId = typeof payload.azp === 'string' ? payload.azp : typeof payload.client_id === 'string' ? payload.client_id : undefined;
    if (!clientId || typeof payload.sub !== 'string') throw new HttpError(401, 'Invalid token', 'invalid_token');
    const granted = new Set(typeof payload.scope === 'string' ? payload.scope.split(' ').filter(Boolean) : []);
    const caller = { clientId, subject: payload.sub, scopes: granted };
    verified.set(token, { keys, issuer, caller }, typeof payload.exp === 'number' ? payload.exp : undefined);
    requireAnyScope(caller, scopes);
    return caller;
  };
}

/** 403 `insufficient_scope` unless the caller holds one of `scopes` (none listed: any valid token). */
export function requireAnyScope(caller: ManagementCaller, scopes: readonly string[]): void {
  if (scopes.length > 0 && !scopes.some((scope) => caller.scopes.has(scope))) {
    throw new HttpError(403, `Insufficient scope, expected any of: ${scopes.join(',')}`, 'insufficient_scope');
  }
}
