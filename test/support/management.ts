import { ManagementClient, ManagementError } from 'auth0';
import { expect } from 'vitest';
import type { TestApp } from './app.js';

/**
 * The official `auth0` SDK's ManagementClient against a plain-http test
 * server, for the per-resource suites. The SDK builds
 * `https://<domain>/api/v2/…`; the one change is a fetch that sends its
 * requests to the loopback server over http — every request and response
 * shape is the SDK's own. The SDK over real TLS, configured only with a domain
 * and client credentials, is src/management/sdk-over-https.test.ts.
 */
export function sdkFor(issuer: string, token: string): ManagementClient {
  const origin = new URL(issuer);
  const plain: typeof fetch = (input, init) => {
    const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
    return fetch(url.replace(`https://${origin.host}/`, `${origin.origin}/`), init);
  };
  return new ManagementClient({ domain: origin.host, token, fetch: plain, telemetry: false });
}

/** A Management API access token by client_credentials for a client that has a grant on the Management API. */
export async function managementToken(issuer: string, client: { clientId: string; clientSecret: string }, scope?: string): Promise<string> {
  const res = await fetch(`${issuer}oauth/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'client_credentials', client_id: client.clientId, client_secret: client.clientSecret, audience: `${issuer}api/v2/`, ...(scope ? { scope } : {}) }).toString(),
  });
  const body = (await res.json()) as { access_token?: string; error_description?: string };
  if (!body.access_token) throw new Error(`no Management API token: ${res.status} ${body.error_description ?? ''}`);
  return body.access_token;
}

/** The admin client (every Management API scope) and an SDK on its token. */
export async function adminSdk(t: TestApp, issuer: string, tenantId: string): Promise<{ sdk: ManagementClient; token: string; clientId: string }> {
  const admin = await t.services.clients.ensureAdminClient(tenantId);
  const token = await managementToken(issuer, admin);
  return { sdk: sdkFor(issuer, token), token, clientId: admin.clientId };
}

/**
 * Raw Management API calls, for exact status codes and error bodies: the
 * Bearer token (the suite's, another one, or `null` for none) and a JSON
 * content type when there is a body. Getters, because suites set issuer and
 * token in `beforeAll`.
 */
export function managementFetch(issuer: () => string, token: () => string) {
  return (path: string, init: RequestInit & { token?: string | null } = {}) => {
    const { token: bearer = token(), ...rest } = init;
    const headers = new Headers(rest.headers);
    if (bearer) headers.set('authorization', `Bearer ${bearer}`);
    if (rest.body) headers.set('content-type', 'application/json');
    return fetch(`${issuer()}api/v2${path}`, { ...rest, headers });
  };
}

/** The ManagementError an SDK call rejects with; fails the test if it resolves or fails otherwise. */
export async function sdkFailure(promise: Promise<unknown>): Promise<ManagementError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ManagementError);
  return error as ManagementError;
}
