import { randomBytes } from 'node:crypto';
import { SignJWT, decodeJwt } from 'jose';
import * as oidc from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startListeningTestApp, type TestApp } from '../../test/support/app.js';
import { describeEachBackend } from '../../test/support/backends.js';
import { HttpBrowser, loginForm } from '../../test/support/http-browser.js';

/**
 * Negative and edge cases of the Authentication API over real HTTP, with the
 * exact RFC 6749 / OIDC error bodies. openid-client is the relying party where
 * a well-behaved client can make the request; raw fetch where the request has
 * to be malformed on purpose. Every test uses its own users and clients.
 */

const CALLBACK = 'https://app.example.test/callback';
const OTHER_CALLBACK = 'https://app.example.test/other-callback';
const PASSWORD = 'correct horse battery staple';
const FORM = { 'content-type': 'application/x-www-form-urlencoded' };

/** What the engine answers for every invalid_grant (details are logged, not shown: RFC 6749 §5.2). */
const INVALID_GRANT = { error: 'invalid_grant', error_description: 'grant request is invalid' };
const INVALID_TOKEN = { error: 'invalid_token', error_description: 'invalid token provided' };
const INVALID_CLIENT = { error: 'invalid_client', error_description: 'client authentication failed' };

interface TestClient {
  readonly clientId: string;
  readonly clientSecret: string | undefined;
  readonly rp: oidc.Configuration;
}

interface JsonResponse {
  readonly status: number;
  readonly headers: Headers;
  readonly body: Record<string, unknown>;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const basic = (id: string, secret: string) => `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}`;
const b64url = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

async function json(res: Response): Promise<JsonResponse> {
  const text = await res.text();
  let body: Record<string, unknown>;
  try {
    body = JSON.parse(text) as Record<string, unknown>;
  } catch {
    body = { unparsed: text };
  }
  return { status: res.status, headers: res.headers, body };
}

describeEachBackend('protocol negative and edge cases over HTTP', (backend) => {
  let t: TestApp;
  let issuer: string;
  let tenantId: string;
  let sequence = 0;
  const unique = (prefix: string) => `${prefix}-${backend}-${++sequence}-${randomBytes(3).toString('hex')}`;

  beforeAll(async () => {
    ({ t, issuer, tenantId } = await startListeningTestApp(backend));
  });
  afterAll(async () => t?.cleanup());

  /** A confidential web application (client_secret_basic) with two registered callbacks. */
  async function webClient(): Promise<TestClient & { clientSecret: string }> {
    const created = await t.services.clients.create(tenantId, {
      name: unique('Web App'),
      appType: 'regular_web',
      tokenEndpointAuthMethod: 'client_secret_basic',
      config: { callbacks: [CALLBACK, OTHER_CALLBACK], grant_types: ['authorization_code', 'refresh_token'] },
    });
    const clientSecret = created.clientSecret!;
    const rp = await oidc.discovery(new URL(issuer), created.clientId, clientSecret, oidc.ClientSecretBasic(clientSecret), { execute: [oidc.allowInsecureRequests] });
    return { clientId: created.clientId, clientSecret, rp };
  }

  /** A public single-page application (token_endpoint_auth_method none). */
  async function publicClient(): Promise<TestClient> {
    const created = await t.services.clients.create(tenantId, {
      name: unique('SPA'),
      appType: 'spa',
      tokenEndpointAuthMethod: 'none',
      config: { callbacks: [CALLBACK], grant_types: ['authorization_code', 'refresh_token'] },
    });
    const rp = await oidc.discovery(new URL(issuer), created.clientId, undefined, oidc.None(), { execute: [oidc.allowInsecureRequests] });
    return { clientId: created.clientId, clientSecret: undefined, rp };
  }

  async function newUser(): Promise<string> {
    const email = `${unique('user')}@example.test`;
    await t.services.users.signup({ tenantId, connectionName: 'Username-Password-Authentication', email, password: PASSWORD });
    return email;
  }

  /**
   * Starts an authorization request (PKCE S256 unless `pkce: false`) and
   * follows redirects until the login page, an error page or the callback.
   */
  async function authorize(browser: HttpBrowser, client: TestClient, params: Record<string, string> = {}, options: { pkce?: boolean } = {}) {
    const verifier = oidc.randomPKCECodeVerifier();
    const state = oidc.randomState();
    const pkce: Record<string, string> = options.pkce === false ? {} : { code_challenge: await oidc.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256' };
    const url = oidc.buildAuthorizationUrl(client.rp, { redirect_uri: CALLBACK, scope: 'openid', state, ...pkce, ...params });
    return { verifier, state, ...(await browser.follow(url.toString(), CALLBACK)) };
  }

  /** Posts the login form shown by `page`; returns the (unfollowed) response. */
  async function submitLogin(browser: HttpBrowser, page: Response, email: string): Promise<Response> {
    const form = loginForm(await page.text(), issuer);
    return browser.submit(form.action, { csrf: form.csrf, username: email, password: PASSWORD });
  }

  /** A full login through the page; returns the callback URL (with its code) and the PKCE verifier. */
  async function signIn(browser: HttpBrowser, client: TestClient, email: string, params: Record<string, string> = {}) {
    const started = await authorize(browser, client, params);
    expect(started.url, 'expected the login page').toContain('/u/login?state=');
    const submitted = await submitLogin(browser, started.response!, email);
    expect(submitted.status).toBe(303);
    const callback = await browser.follow(new URL(submitted.headers.get('location')!, issuer).toString(), CALLBACK);
    const callbackUrl = new URL(callback.url);
    expect(callbackUrl.searchParams.get('error')).toBeNull();
    expect(callbackUrl.searchParams.get('code')).toBeTruthy();
    return { verifier: started.verifier, state: started.state, callbackUrl };
  }

  const redeem = (client: TestClient, login: { verifier: string; state: string; callbackUrl: URL }) =>
    oidc.authorizationCodeGrant(client.rp, login.callbackUrl, { pkceCodeVerifier: login.verifier, expectedState: login.state });

  async function token(body: Record<string, string> | string, headers: Record<string, string> = {}): Promise<JsonResponse> {
    const encoded = typeof body === 'string' ? body : new URLSearchParams(body).toString();
    return json(await fetch(`${issuer}oauth/token`, { method: 'POST', headers: { ...FORM, ...headers }, body: encoded }));
  }

  async function userinfo(accessToken: string): Promise<JsonResponse> {
    return json(await fetch(`${issuer}userinfo`, { headers: { authorization: `Bearer ${accessToken}` } }));
  }

  /** The authorization error the engine sent to the (valid) redirect_uri. */
  function callbackError(url: string, state: string) {
    expect(url.startsWith(`${CALLBACK}?`), `expected a redirect to the callback, got ${url}`).toBe(true);
    const params = new URL(url).searchParams;
    expect(params.get('state')).toBe(state);
    expect(params.get('iss')).toBe(issuer); // RFC 9207
    expect(params.get('code')).toBeNull();
    return { error: params.get('error'), error_description: params.get('error_description') };
  }

  describe('PKCE (RFC 7636, RFC 9700 §2.1.1)', () => {
    it('refuses a wrong code_verifier with invalid_grant', async () => {
      const client = await webClient();
      const login = await signIn(new HttpBrowser(), client, await newUser());
      const wrong = oidc.randomPKCECodeVerifier();
      await expect(oidc.authorizationCodeGrant(client.rp, login.callbackUrl, { pkceCodeVerifier: wrong, expectedState: login.state })).rejects.toMatchObject({ status: 400, ...INVALID_GRANT });
    });

    it('refuses a redemption without the code_verifier when a code_challenge was sent', async () => {
      const client = await webClient();
      const login = await signIn(new HttpBrowser(), client, await newUser());
      const res = await token({ grant_type: 'authorization_code', code: login.callbackUrl.searchParams.get('code')!, redirect_uri: CALLBACK }, { authorization: basic(client.clientId, client.clientSecret) });
      expect(res).toMatchObject({ status: 400, body: INVALID_GRANT });
    });

    it('refuses a malformed code_verifier with invalid_request', async () => {
      const client = await webClient();
      const login = await signIn(new HttpBrowser(), client, await newUser());
      const res = await token(
        { grant_type: 'authorization_code', code: login.callbackUrl.searchParams.get('code')!, redirect_uri: CALLBACK, code_verifier: 'too-short' },
        { authorization: basic(client.clientId, client.clientSecret) },
      );
      expect(res).toMatchObject({ status: 400, body: { error: 'invalid_request', error_description: 'code_verifier must be a string with a minimum length of 43 characters' } });
    });

    it('stops a PKCE downgrade: a code_verifier for a code issued without a challenge is refused (RFC 9700 §4.8)', async () => {
      const client = await webClient();
      const browser = new HttpBrowser();
      const started = await authorize(browser, client, {}, { pkce: false });
      const submitted = await submitLogin(browser, started.response!, await newUser());
      const callback = await browser.follow(new URL(submitted.headers.get('location')!, issuer).toString(), CALLBACK);
      const code = new URL(callback.url).searchParams.get('code');
      expect(code).toBeTruthy();
      const res = await token({ grant_type: 'authorization_code', code: code!, redirect_uri: CALLBACK, code_verifier: oidc.randomPKCECodeVerifier() }, { authorization: basic(client.clientId, client.clientSecret) });
      expect(res).toMatchObject({ status: 400, body: INVALID_GRANT });
    });

    it('refuses a public client without a code_challenge at /authorize, to its redirect_uri', async () => {
      const client = await publicClient();
      const { url, state } = await authorize(new HttpBrowser(), client, {}, { pkce: false });
      const error = callbackError(url, state);
      expect(error).toEqual({ error: 'invalid_request', error_description: 'Authorization Server policy requires PKCE to be used for this request' });
      // openid-client, as the RP, surfaces the same error from that callback.
      await expect(oidc.authorizationCodeGrant(client.rp, new URL(url), { expectedState: state })).rejects.toMatchObject({ error: 'invalid_request' });
    });

    it('lets a public client with PKCE through (control for the case above)', async () => {
      const client = await publicClient();
      const login = await signIn(new HttpBrowser(), client, await newUser());
      const tokens = await redeem(client, login);
      expect(tokens.access_token).toBeTruthy();
    });

    it('refuses code_challenge_method=plain', async () => {
      for (const client of [await webClient(), await publicClient()]) {
        const verifier = oidc.randomPKCECodeVerifier();
        const { url, state } = await authorize(new HttpBrowser(), client, { code_challenge: verifier, code_challenge_method: 'plain' });
        expect(callbackError(url, state)).toEqual({ error: 'invalid_request', error_description: 'not supported value of code_challenge_method' });
      }
    });
  });

  describe('authorization codes (RFC 6749 §4.1.2, §4.1.3; ASVS 10.4.2)', () => {
    it('refuses a code redeemed twice, and revokes the tokens of the first redemption', async () => {
      const client = await webClient();
      // OIDC Core §11: offline_access is honoured with prompt=consent (first-party clients are not asked).
      const login = await signIn(new HttpBrowser(), client, await newUser(), { scope: 'openid offline_access', prompt: 'consent' });
      const first = await redeem(client, login);
      expect(first.refresh_token).toBeTruthy();
      expect((await userinfo(first.access_token)).status).toBe(200);

      await expect(redeem(client, login)).rejects.toMatchObject({ status: 400, ...INVALID_GRANT });

      const after = await userinfo(first.access_token);
      expect(after).toMatchObject({ status: 401, body: INVALID_TOKEN });
      await expect(oidc.refreshTokenGrant(client.rp, first.refresh_token!)).rejects.toMatchObject({ status: 400, ...INVALID_GRANT });
    });

    it("refuses client B redeeming client A's code", async () => {
      const clientA = await webClient();
      const clientB = await webClient();
      const login = await signIn(new HttpBrowser(), clientA, await newUser());
      await expect(redeem(clientB, login)).rejects.toMatchObject({ status: 400, ...INVALID_GRANT });
      const raw = await token(
        { grant_type: 'authorization_code', code: login.callbackUrl.searchParams.get('code')!, redirect_uri: CALLBACK, code_verifier: login.verifier },
        { authorization: basic(clientB.clientId, clientB.clientSecret) },
      );
      expect(raw).toMatchObject({ status: 400, body: INVALID_GRANT });
    });

    it('refuses a redirect_uri at the token endpoint that differs from the one authorized', async () => {
      const client = await webClient();
      const login = await signIn(new HttpBrowser(), client, await newUser());
      const code = login.callbackUrl.searchParams.get('code')!;
      const auth = { authorization: basic(client.clientId, client.clientSecret) };
      // Another registered callback, an unregistered one, and near-misses of the right one.
      for (const redirectUri of [OTHER_CALLBACK, 'https://evil.example/callback', `${CALLBACK}/`, `${CALLBACK}?x=1`, CALLBACK.toUpperCase()]) {
        const res = await token({ grant_type: 'authorization_code', code, redirect_uri: redirectUri, code_verifier: login.verifier }, auth);
        expect(res, redirectUri).toMatchObject({ status: 400, body: INVALID_GRANT });
      }
      const missing = await token({ grant_type: 'authorization_code', code, code_verifier: login.verifier }, auth);
      expect(missing).toMatchObject({ status: 400, body: { error: 'invalid_request', error_description: "missing required parameter 'redirect_uri'" } });
    });

    it('answers an unregistered redirect_uri at /authorize with an error page, never a redirect (RFC 9700 §2.1)', async () => {
      const client = await webClient();
      for (const redirectUri of ['https://evil.example/callback', `${CALLBACK}/`, `${CALLBACK}/more`, `${CALLBACK}?next=https://evil.example`, 'https://APP.example.test/callback', 'http://app.example.test/callback']) {
        const { response, url } = await authorize(new HttpBrowser(), client, { redirect_uri: redirectUri });
        expect(url.startsWith(issuer), redirectUri).toBe(true);
        expect(response!.status, redirectUri).toBe(400);
        expect(response!.headers.get('location')).toBeNull();
        expect(response!.headers.get('content-type')).toMatch(/^text\/html/);
        expect(await response!.text()).toContain('invalid_redirect_uri');
      }
    });
  });

  describe('client authentication at /oauth/token (RFC 6749 §5.2)', () => {
    it('answers 401 invalid_client for a wrong secret, by Basic or in the body', async () => {
      const client = await webClient();
      const login = await signIn(new HttpBrowser(), client, await newUser());
      const grant = { grant_type: 'authorization_code', code: login.callbackUrl.searchParams.get('code')!, redirect_uri: CALLBACK, code_verifier: login.verifier };
      expect(await token(grant, { authorization: basic(client.clientId, 'wrong-secret') })).toMatchObject({ status: 401, body: INVALID_CLIENT });
      expect(await token({ ...grant, client_id: client.clientId, client_secret: 'wrong-secret' })).toMatchObject({ status: 401, body: INVALID_CLIENT });
      expect(await token({ ...grant, client_id: 'no-such-client', client_secret: 'whatever' })).toMatchObject({ status: 401, body: INVALID_CLIENT });
      // A confidential client cannot pass as public by leaving its secret out.
      expect(await token({ ...grant, client_id: client.clientId })).toMatchObject({ status: 401, body: INVALID_CLIENT });
      const challenged = await token(grant, { authorization: basic(client.clientId, 'wrong-secret') });
      expect(challenged.headers.get('www-authenticate')).toBe(`Basic realm="${issuer}", error="invalid_client", error_description="client authentication failed"`);
      // openid-client with the wrong secret reads the same error from the challenge (RFC 6749 §5.2: 401 + WWW-Authenticate for Basic).
      const wrongRp = await oidc.discovery(new URL(issuer), client.clientId, 'wrong-secret', oidc.ClientSecretBasic('wrong-secret'), { execute: [oidc.allowInsecureRequests] });
      const failure = await oidc.authorizationCodeGrant(wrongRp, login.callbackUrl, { pkceCodeVerifier: login.verifier, expectedState: login.state }).catch((error: unknown) => error);
      expect(failure).toBeInstanceOf(oidc.WWWAuthenticateChallengeError);
      expect((failure as oidc.WWWAuthenticateChallengeError).status).toBe(401);
      expect((failure as oidc.WWWAuthenticateChallengeError).cause[0]).toMatchObject({ scheme: 'basic', parameters: { error: 'invalid_client' } });
      // The code was not spent by the failed attempts.
      expect((await redeem(client, login)).access_token).toBeTruthy();
    });
  });

  describe('bearer tokens at /userinfo (RFC 6750 §3.1)', () => {
    async function tokensFor() {
      const client = await webClient();
      const login = await signIn(new HttpBrowser(), client, await newUser(), { scope: 'openid offline_access', prompt: 'consent' });
      const tokens = await redeem(client, login);
      expect((await userinfo(tokens.access_token)).status).toBe(200);
      return { client, tokens };
    }

    const expectInvalidToken = (res: JsonResponse) => {
      expect(res).toMatchObject({ status: 401, body: INVALID_TOKEN });
      expect(res.headers.get('www-authenticate')).toMatch(/^Bearer /);
      expect(res.headers.get('www-authenticate')).toContain('error="invalid_token"');
    };

    it("refuses an unsigned (alg: none) token with the real token's claims", async () => {
      const { tokens } = await tokensFor();
      const claims = tokens.claims()!;
      const forged = `${b64url({ alg: 'none', typ: 'at+jwt' })}.${b64url({ iss: issuer, sub: claims.sub, aud: `${issuer}userinfo`, scope: 'openid', iat: claims.iat, exp: claims.iat + 3600 })}.`;
      expectInvalidToken(await userinfo(forged));
    });

    it('refuses an HS256 token signed with the client secret', async () => {
      const { client, tokens } = await tokensFor();
      const claims = tokens.claims()!;
      const forged = await new SignJWT({ scope: 'openid', client_id: client.clientId })
        .setProtectedHeader({ alg: 'HS256', typ: 'at+jwt' })
        .setIssuer(issuer)
        .setSubject(claims.sub)
        .setAudience(`${issuer}userinfo`)
        .setIssuedAt()
        .setExpirationTime('1h')
        .sign(new TextEncoder().encode(client.clientSecret));
      expectInvalidToken(await userinfo(forged));
    });

    it('refuses a refresh token and an ID token presented as access tokens', async () => {
      const { tokens } = await tokensFor();
      expect(tokens.refresh_token).toBeTruthy();
      expect(decodeJwt(tokens.id_token!).sub).toBe(tokens.claims()!.sub);
      expectInvalidToken(await userinfo(tokens.refresh_token!));
      expectInvalidToken(await userinfo(tokens.id_token!));
      // The same access token still works: the refusals above were about the token presented.
      expect((await userinfo(tokens.access_token)).status).toBe(200);
    });

    it('refuses a garbage token', async () => {
      expectInvalidToken(await userinfo('not-a-token'));
    });
  });

  describe('oversize, repeated and malformed parameters (never a 500)', () => {
    it('answers 100 kB parameters at /oauth/token with the usual 4xx OAuth errors, not a 500', async () => {
      const client = await webClient();
      const auth = { authorization: basic(client.clientId, client.clientSecret) };
      const big = 'a'.repeat(100 * 1024);
      const verifier = oidc.randomPKCECodeVerifier();
      expect(await token({ grant_type: 'authorization_code', code: big, redirect_uri: CALLBACK, code_verifier: verifier }, auth)).toMatchObject({ status: 400, body: INVALID_GRANT });
      expect(await token({ grant_type: 'authorization_code', code: 'x', redirect_uri: `${CALLBACK}?${big}`, code_verifier: verifier }, auth)).toMatchObject({ status: 400, body: INVALID_GRANT });
      // The verifier is checked against a code that exists (an unknown code is refused first).
      const login = await signIn(new HttpBrowser(), client, await newUser());
      expect(await token({ grant_type: 'authorization_code', code: login.callbackUrl.searchParams.get('code')!, redirect_uri: CALLBACK, code_verifier: big }, auth)).toMatchObject({
        status: 400,
        body: { error: 'invalid_request', error_description: 'code_verifier must be a string with a maximum length of 128 characters' },
      });
      expect(await token({ grant_type: 'refresh_token', refresh_token: big }, auth)).toMatchObject({ status: 400, body: INVALID_GRANT });
      expect(await token({ grant_type: 'client_credentials', client_id: big, client_secret: 'x' })).toMatchObject({ status: 401, body: INVALID_CLIENT });
      expect(await token({ grant_type: 'refresh_token', refresh_token: 'x', padding: big }, auth)).toMatchObject({ status: 400, body: INVALID_GRANT });
    });

    it('answers a body over the size limit with 413, not a 500', async () => {
      const res = await token(`grant_type=client_credentials&padding=${'a'.repeat(2 * 1024 * 1024)}`);
      expect(res.status).toBe(413);
      const login = await fetch(`${issuer}u/login?state=x`, { method: 'POST', headers: FORM, body: `username=${'a'.repeat(100 * 1024)}` });
      expect(login.status).toBe(413);
    });

    it('refuses repeated parameters at /oauth/token with invalid_request, form or JSON', async () => {
      const client = await webClient();
      const login = await signIn(new HttpBrowser(), client, await newUser());
      const code = login.callbackUrl.searchParams.get('code')!;
      const auth = { authorization: basic(client.clientId, client.clientSecret) };
      const form = `grant_type=authorization_code&code=${code}&code=${code}&redirect_uri=${encodeURIComponent(CALLBACK)}&code_verifier=${login.verifier}`;
      expect(await token(form, auth)).toMatchObject({ status: 400, body: { error: 'invalid_request', error_description: "'code' parameter must not be provided twice" } });
      const asJson = await json(
        await fetch(`${issuer}oauth/token`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...auth },
          body: JSON.stringify({ grant_type: 'authorization_code', code, redirect_uri: [CALLBACK, CALLBACK], code_verifier: login.verifier }),
        }),
      );
      expect(asJson).toMatchObject({ status: 400, body: { error: 'invalid_request', error_description: "'redirect_uri' parameter must not be provided twice" } });
      // The refused requests did not spend the code.
      expect((await redeem(client, login)).access_token).toBeTruthy();
    });

    it('refuses repeated parameters at /authorize with invalid_request', async () => {
      const client = await webClient();
      const verifier = oidc.randomPKCECodeVerifier();
      const state = oidc.randomState();
      const url = oidc.buildAuthorizationUrl(client.rp, { redirect_uri: CALLBACK, scope: 'openid', state, code_challenge: await oidc.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256' });
      url.searchParams.append('scope', 'openid profile');
      const { url: landed } = await new HttpBrowser().follow(url.toString(), CALLBACK);
      expect(callbackError(landed, state)).toEqual({ error: 'invalid_request', error_description: "'scope' parameter must not be provided twice" });

      // A repeated redirect_uri cannot be trusted as a target: an error page, no redirect.
      const twice = new URL(url);
      twice.searchParams.delete('scope');
      twice.searchParams.set('scope', 'openid');
      twice.searchParams.append('redirect_uri', OTHER_CALLBACK);
      const res = await new HttpBrowser().fetch(twice.toString());
      expect(res.status).toBe(400);
      expect(res.headers.get('location')).toBeNull();
      expect(await res.text()).toContain('invalid_request');
    });

    it('refuses an access token given twice, or by two mechanisms, at /userinfo with invalid_request (RFC 6750 §2)', async () => {
      const twice = await json(await fetch(`${issuer}userinfo`, { method: 'POST', headers: FORM, body: 'access_token=abc&access_token=abc' }));
      expect(twice).toMatchObject({ status: 400, body: { error: 'invalid_request', error_description: "'access_token' parameter must not be provided twice" } });
      const both = await json(await fetch(`${issuer}userinfo`, { method: 'POST', headers: { ...FORM, authorization: 'Bearer abc' }, body: 'access_token=abc' }));
      expect(both).toMatchObject({ status: 400, body: { error: 'invalid_request', error_description: 'access token must only be provided using one mechanism' } });
      const inQuery = await json(await fetch(`${issuer}userinfo?access_token=abc`));
      expect(inQuery).toMatchObject({ status: 400, body: { error: 'invalid_request', error_description: 'access tokens must not be provided via query parameter' } });
    });

    it('answers malformed token requests with OAuth errors', async () => {
      const client = await webClient();
      const auth = { authorization: basic(client.clientId, client.clientSecret) };
      expect(await token({ code: 'x' }, auth)).toMatchObject({ status: 400, body: { error: 'invalid_request', error_description: "missing required parameter 'grant_type'" } });
      expect(await token({ grant_type: 'urn:example:nope' }, auth)).toMatchObject({ status: 400, body: { error: 'unsupported_grant_type', error_description: 'unsupported grant_type requested' } });
      expect(await token({ grant_type: 'client_credentials' }, { authorization: 'Basic %%%' })).toMatchObject({ status: 400, body: { error: 'invalid_request', error_description: 'invalid authorization header value format' } });
      expect(await token({ grant_type: 'client_credentials' })).toMatchObject({ status: 400, body: { error: 'invalid_request', error_description: 'no client authentication mechanism provided' } });
      // A grant the client is not registered for (this one lists authorization_code and refresh_token).
      expect(await token({ grant_type: 'client_credentials' }, auth)).toMatchObject({ status: 400, body: { error: 'unauthorized_client', error_description: 'requested grant type is not allowed for this client' } });
    });

    it('refuses implicit and hybrid response types (RFC 9700 §2.1.2)', async () => {
      const client = await webClient();
      for (const responseType of ['token', 'id_token', 'code id_token', 'code token']) {
        const { url, state } = await authorize(new HttpBrowser(), client, { response_type: responseType, nonce: oidc.randomNonce() });
        expect(url.startsWith(`${CALLBACK}#`), `${responseType}: ${url}`).toBe(true);
        const params = new URLSearchParams(new URL(url).hash.slice(1));
        expect(Object.fromEntries(params)).toEqual({ error: 'unsupported_response_type', error_description: 'unsupported response_type requested', state, iss: issuer });
      }
    });

    it('answers an oversize query string at /authorize with a 4xx, not a 500', async () => {
      const client = await webClient();
      const { response } = await authorize(new HttpBrowser(), client, { state: 'a'.repeat(20 * 1024) });
      expect(response!.status).toBe(431);
    });

    // Regression: Fastify's JSON parser used to answer first, in the generic error shape.
    it('answers an unparseable JSON token request with invalid_request', async () => {
      const res = await json(await fetch(`${issuer}oauth/token`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"grant_type":' }));
      expect(res.status).toBe(400);
      expect(res.body.error).toBe('invalid_request');
    });
  });

  /**
   * A NUL byte: PostgreSQL text cannot hold one and no OAuth parameter needs
   * it, so every tenant endpoint refuses it up front with invalid_request, on
   * both backends alike (regression: PostgreSQL used to answer 500).
   */
  describe('a NUL byte in a parameter (never a 500)', () => {
    const nul = 'a\u0000b';
    const NUL_REFUSED = { status: 400, body: { error: 'invalid_request', error_description: 'parameters must not contain NUL characters' } };

    it('at /oauth/token (form and JSON), /userinfo, /oauth/revoke and /oauth/introspect', async () => {
      const client = await webClient();
      const auth = { authorization: basic(client.clientId, client.clientSecret) };
      expect(await token({ grant_type: 'client_credentials', client_id: nul, client_secret: 'x' })).toMatchObject(NUL_REFUSED);
      expect(await token({ grant_type: 'authorization_code', code: nul, redirect_uri: CALLBACK, code_verifier: oidc.randomPKCECodeVerifier() }, auth)).toMatchObject(NUL_REFUSED);
      expect(await token({ grant_type: 'refresh_token', refresh_token: nul }, auth)).toMatchObject(NUL_REFUSED);
      const asJson = await json(await fetch(`${issuer}oauth/token`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ grant_type: 'client_credentials', client_id: nul, client_secret: 'x' }) }));
      expect(asJson).toMatchObject(NUL_REFUSED);
      for (const path of ['userinfo', 'oauth/revoke', 'oauth/introspect']) {
        const res = await json(await fetch(`${issuer}${path}`, { method: 'POST', headers: { ...FORM, ...auth }, body: new URLSearchParams({ token: nul, access_token: nul }).toString() }));
        expect(res, path).toMatchObject(NUL_REFUSED);
      }
    });

    it('at /authorize (client_id, state, login_hint), /oidc/logout and /v2/logout', async () => {
      const client = await publicClient();
      const cases: Array<Record<string, string>> = [{ client_id: nul, response_type: 'code', redirect_uri: CALLBACK, scope: 'openid' }, { client_id: client.clientId, state: nul }, { client_id: client.clientId, login_hint: nul }];
      for (const params of cases) {
        const res = await json(await fetch(`${issuer}authorize?${new URLSearchParams(params).toString()}`, { redirect: 'manual' }));
        expect(res, JSON.stringify(params)).toMatchObject(NUL_REFUSED);
      }
      for (const path of ['oidc/logout', 'v2/logout']) {
        const res = await json(await fetch(`${issuer}${path}?${new URLSearchParams({ client_id: nul }).toString()}`, { redirect: 'manual' }));
        expect(res, path).toMatchObject(NUL_REFUSED);
      }
    });
  });

  describe('re-authentication (OIDC Core §3.1.2.1: prompt=login, max_age)', () => {
    it('prompt=login shows the login page despite a session, and the new ID token has a later auth_time', async () => {
      const client = await webClient();
      const email = await newUser();
      const browser = new HttpBrowser();
      // auth_time is in the ID token when max_age or prompt=login is asked (OIDC Core §2).
      const first = await redeem(client, await signIn(browser, client, email, { max_age: '3600' }));
      const firstAuthTime = first.claims()!.auth_time!;
      expect(firstAuthTime).toBeTypeOf('number');

      // Control: the session alone signs in without the page.
      const sso = await authorize(browser, client);
      expect(sso.url.startsWith(`${CALLBACK}?`)).toBe(true);

      await sleep(1100); // auth_time has a resolution of one second
      const again = await redeem(client, await signIn(browser, client, email, { prompt: 'login' }));
      expect(again.claims()!.sub).toBe(first.claims()!.sub);
      expect(again.claims()!.auth_time!).toBeGreaterThan(firstAuthTime);
    });

    it('max_age=1 after more than a second forces the login page again, and auth_time moves', async () => {
      const client = await webClient();
      const email = await newUser();
      const browser = new HttpBrowser();
      const first = await redeem(client, await signIn(browser, client, email, { max_age: '3600' }));
      const firstAuthTime = first.claims()!.auth_time!;
      expect(firstAuthTime).toBeTypeOf('number');

      // Control: a generous max_age is satisfied by the session, and auth_time is reported (OIDC Core §2).
      const sso = await authorize(browser, client, { max_age: '3600' });
      expect(sso.url.startsWith(`${CALLBACK}?`)).toBe(true);
      const ssoTokens = await oidc.authorizationCodeGrant(client.rp, new URL(sso.url), { pkceCodeVerifier: sso.verifier, expectedState: sso.state, maxAge: 3600 });
      expect(ssoTokens.claims()!.auth_time).toBe(firstAuthTime);

      await sleep(2100);
      const login = await signIn(browser, client, email, { max_age: '1' });
      const again = await oidc.authorizationCodeGrant(client.rp, login.callbackUrl, { pkceCodeVerifier: login.verifier, expectedState: login.state, maxAge: 1 });
      expect(again.claims()!.auth_time!).toBeGreaterThan(firstAuthTime);
    });
  });

  describe('login page and authorization endpoint headers (RFC 9700 §4.12, §4.16; no CORS)', () => {
    it('serves the login page with CSP frame-ancestors none, no-store and no CORS; its POST answers 303', async () => {
      const client = await webClient();
      const email = await newUser();
      const browser = new HttpBrowser();
      const origin = { origin: 'https://evil.example' };

      const verifier = oidc.randomPKCECodeVerifier();
      const url = oidc.buildAuthorizationUrl(client.rp, { redirect_uri: CALLBACK, scope: 'openid', state: 's', code_challenge: await oidc.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256' });
      const atAuthorize = await browser.fetch(url.toString(), { headers: origin });
      expect(atAuthorize.status).toBeGreaterThanOrEqual(300);
      expect(atAuthorize.status).toBeLessThan(400);
      expect(atAuthorize.headers.get('access-control-allow-origin')).toBeNull();

      const preflight = await fetch(url.toString(), { method: 'OPTIONS', headers: { ...origin, 'access-control-request-method': 'GET' } });
      expect(preflight.headers.get('access-control-allow-origin')).toBeNull();

      const page = await browser.fetch(new URL(atAuthorize.headers.get('location')!, issuer).toString(), { headers: origin });
      expect(page.status).toBe(200);
      expect(page.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
      expect(page.headers.get('cache-control')).toBe('no-store');
      expect(page.headers.get('access-control-allow-origin')).toBeNull();

      const form = loginForm(await page.text(), issuer);
      const posted = await browser.fetch(form.action, { method: 'POST', headers: { ...FORM, ...origin }, body: new URLSearchParams({ csrf: form.csrf, username: email, password: PASSWORD }).toString() });
      expect(posted.status).toBe(303);
      expect(posted.headers.get('location')).toBeTruthy();
      expect(posted.headers.get('access-control-allow-origin')).toBeNull();
    });

    it('answers a failed login POST with the page again (no redirect), with the same headers', async () => {
      const client = await webClient();
      const browser = new HttpBrowser();
      const started = await authorize(browser, client);
      const form = loginForm(await started.response!.text(), issuer);
      const res = await browser.submit(form.action, { csrf: form.csrf, username: await newUser(), password: 'not the password at all' });
      expect(res.status).toBe(400);
      expect(res.headers.get('location')).toBeNull();
      expect(res.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
      expect(res.headers.get('cache-control')).toBe('no-store');
    });
  });
});
