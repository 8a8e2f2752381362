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

/**
 * Authenticates a Management API request: a Bearer access token issued by
 * this tenant (`iss`), for this tenant's Management API (`aud` =
 * `<issuer>api/v2/`), a JWT access token (`typ: at+jwt`, so an ID token is
 * refused), signed with one of the tenant's published keys and not expired.
 * No token or a bad one → 401; a valid token without any of the route's
 * scopes → 403 `insufficient_scope` (Auth0's answers).
 */
export function managementAuthenticator(keysFor: TenantKeys) {
  return async function authenticate(request: FastifyRequest, scopes: readonly string[]): Promise<ManagementCaller> {
    const header = request.headers.authorization;
    if (header === undefined || header === '') throw new HttpError(401, 'Missing authentication', 'missing_authentication');
    const token = /^Bearer +([A-Za-z0-9_.~+/=-]+)$/i.exec(header)?.[1];
    if (!token) throw new HttpError(401, 'Bad HTTP authentication header format', 'invalid_authorization_header');
    const { tenant, issuer } = request.tenantContext as RequestTenant;
    let payload: Record<string, unknown>;
    try {
      ({ payload } = await jwtVerify(token, await keysFor(tenant, issuer), { issuer, audience: managementAudience(issuer), typ: 'at+jwt', algorithms: ALGORITHMS }));
    } catch (error) {
      if (error instanceof joseErrors.JWTExpired) throw new HttpError(401, 'Expired token', 'invalid_token');
      throw new HttpError(401, 'Invalid token', 'invalid_token');
    }
    const clientId = typeof payload.azp === 'string' ? payload.azp : typeof payload.client_id === 'string' ? payload.client_id : undefined;
    if (!clientId || typeof payload.sub !== 'string') throw new HttpError(401, 'Invalid token', 'invalid_token');
    const granted = new Set(typeof payload.scope === 'string' ? payload.scope.split(' ').filter(Boolean) : []);
    const caller = { clientId, subject: payload.sub, scopes: granted };
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
