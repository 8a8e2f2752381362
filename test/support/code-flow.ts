import * as oidc from 'openid-client';
import { type HttpBrowser, loginForm } from './http-browser.js';

/** What a login through the page yields: the callback URL (with its code) and what redeems it. */
export interface CodeLogin {
  readonly verifier: string;
  readonly state: string;
  readonly callbackUrl: URL;
}

/**
 * The authorization code flow (PKCE S256) as a relying party drives it:
 * openid-client builds the requests, an HttpBrowser follows the redirects and
 * posts the login form. Every user is expected to have `password`.
 */
export function codeFlow(options: { issuer: string; redirectUri: string; password: string }) {
  const { issuer, redirectUri, password } = options;

  /**
   * Starts an authorization request (PKCE S256 unless `pkce: false`; scope
   * `openid` unless `params` says otherwise) and follows redirects until the
   * login page, an error page or the callback.
   */
  async function authorize(browser: HttpBrowser, rp: oidc.Configuration, params: Record<string, string> = {}, flags: { pkce?: boolean } = {}) {
    const verifier = oidc.randomPKCECodeVerifier();
    const state = oidc.randomState();
    const pkce: Record<string, string> = flags.pkce === false ? {} : { code_challenge: await oidc.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256' };
    const url = oidc.buildAuthorizationUrl(rp, { redirect_uri: redirectUri, scope: 'openid', state, ...pkce, ...params });
    return { verifier, state, ...(await browser.follow(url.toString(), redirectUri)) };
  }

  /** Posts the login form shown by `page`; returns the (unfollowed) response. */
  async function submitLogin(browser: HttpBrowser, page: Response, email: string): Promise<Response> {
    const form = loginForm(await page.text(), issuer);
    return browser.submit(form.action, { csrf: form.csrf, username: email, password });
  }

  /**
   * A full login through the page, from the authorization request to the
   * callback; fails (with a message) when it does not end with a code.
   */
  async function signIn(browser: HttpBrowser, rp: oidc.Configuration, email: string, params: Record<string, string> = {}): Promise<CodeLogin> {
    const started = await authorize(browser, rp, params);
    if (!started.url.includes('/u/login?state=')) throw new Error(`expected the login page, got ${started.url}`);
    const submitted = await submitLogin(browser, started.response!, email);
    if (submitted.status !== 303) throw new Error(`expected 303 from the login form, got ${submitted.status}`);
    const callback = await browser.follow(new URL(submitted.headers.get('location')!, issuer).toString(), redirectUri);
    const callbackUrl = new URL(callback.url);
    if (callbackUrl.searchParams.get('error') !== null || !callbackUrl.searchParams.get('code')) throw new Error(`expected a code at the callback, got ${callback.url}`);
    return { verifier: started.verifier, state: started.state, callbackUrl };
  }

  /** Redeems the code of `login` with openid-client. */
  const redeem = (rp: oidc.Configuration, login: CodeLogin) => oidc.authorizationCodeGrant(rp, login.callbackUrl, { pkceCodeVerifier: login.verifier, expectedState: login.state });

  return { authorize, submitLogin, signIn, redeem };
}
