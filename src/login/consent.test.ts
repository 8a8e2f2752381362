import { createRemoteJWKSet, jwtVerify } from 'jose';
import * as oidc from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startListeningTestApp, type TestApp } from '../../test/support/app.js';
import { describeEachBackend } from '../../test/support/backends.js';
import { browserTestsEnabled, launchChromium, watchPage } from '../../test/support/chromium.js';
import { HttpBrowser, loginForm } from '../../test/support/http-browser.js';
import { systemRuntime } from '../storage/runtime.js';
import { tenantStores } from '../tenants/tenant-stores.js';
import { consentPage } from './views.js';

const CALLBACK = 'https://partner.example.test/callback';
const PASSWORD = 'correct horse battery staple';
const EMAIL = 'jane@example.test';
const API = 'https://photos.example.test/';
// Markup in the name proves the page escapes what an application's owner typed.
const PARTNER_NAME = 'Partner & Co <Photos>';

/** A test app on a port, with one user, a third-party and a first-party client, and an API. */
async function consentFixture(backend: 'sqlite' | 'postgres') {
  const { t, issuer, tenantId } = await startListeningTestApp(backend);
  await t.services.users.signup({ tenantId, connectionName: 'Username-Password-Authentication', email: EMAIL, password: PASSWORD });
  await tenantStores(t.database.db, tenantId, systemRuntime).resourceServers.insert({
    identifier: API,
    name: 'Photos',
    scopes: [
      { value: 'read:photos', description: 'Read your photos' },
      { value: 'write:photos', description: null },
    ],
  });
  const rpFor = async (name: string, isFirstParty: boolean) => {
    const created = await t.services.clients.create(tenantId, {
      name,
      appType: 'regular_web',
      isFirstParty,
      tokenEndpointAuthMethod: 'client_secret_basic',
      config: { callbacks: [CALLBACK], grant_types: ['authorization_code', 'refresh_token'] },
    });
    return oidc.discovery(new URL(issuer), created.clientId, created.clientSecret, undefined, { execute: [oidc.allowInsecureRequests] });
  };
  return { t, issuer, partner: await rpFor(PARTNER_NAME, false), firstParty: await rpFor('Own App', true) };
}

/** Follows redirects like HttpBrowser.follow, but keeps every URL visited. */
async function followAll(browser: HttpBrowser, url: string): Promise<{ visited: string[]; response?: Response; url: string }> {
  const visited: string[] = [];
  let current = url;
  for (let hop = 0; hop < 10; hop++) {
    if (current.startsWith(CALLBACK)) return { visited, url: current };
    visited.push(current);
    const res = await browser.fetch(current);
    const location = res.headers.get('location');
    if (res.status < 300 || res.status >= 400 || !location) return { visited, response: res, url: current };
    current = new URL(location, current).toString();
  }
  throw new Error(`too many redirects from ${url}`);
}

function consentForm(page: string, issuer: string) {
  const form = loginForm(page, issuer);
  expect(new URL(form.action).pathname).toBe('/u/login/consent');
  return form;
}

describeEachBackend('consent for third-party applications', (backend) => {
  let t: TestApp;
  let issuer: string;
  let partner: oidc.Configuration;
  let firstParty: oidc.Configuration;

  beforeAll(async () => {
    ({ t, issuer, partner, firstParty } = await consentFixture(backend));
  });
  afterAll(async () => t?.cleanup());

  async function authorize(browser: HttpBrowser, rp: oidc.Configuration, params: Record<string, string> = {}) {
    const verifier = oidc.randomPKCECodeVerifier();
    const state = oidc.randomState();
    const url = oidc.buildAuthorizationUrl(rp, {
      redirect_uri: CALLBACK,
      scope: 'openid profile email',
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state,
      ...params,
    });
    return { verifier, state, ...(await followAll(browser, url.toString())) };
  }

  /** Authorizes, logs in on the login page, and follows on to what comes next (consent page or callback). */
  async function authorizeAndLogIn(browser: HttpBrowser, rp: oidc.Configuration, params: Record<string, string> = {}) {
    const started = await authorize(browser, rp, params);
    const form = loginForm(await started.response!.text(), issuer);
    const submitted = await browser.submit(form.action, { csrf: form.csrf, username: EMAIL, password: PASSWORD });
    expect(submitted.status).toBe(303);
    const next = await followAll(browser, new URL(submitted.headers.get('location')!, issuer).toString());
    return { verifier: started.verifier, state: started.state, ...next };
  }

  async function answer(browser: HttpBrowser, page: string, decision: 'accept' | 'deny') {
    const form = consentForm(page, issuer);
    const res = await browser.submit(form.action, { csrf: form.csrf, decision });
    expect(res.status).toBe(303);
    return followAll(browser, new URL(res.headers.get('location')!, issuer).toString());
  }

  it('shows what a third-party application asks after login; Accept gives a code and the tokens asked for', async () => {
    const browser = new HttpBrowser();
    const flow = await authorizeAndLogIn(browser, partner, { scope: 'openid profile email read:photos', audience: API });
    expect(new URL(flow.url).pathname).toBe('/u/login');
    const res = flow.response!;
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(res.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
    const page = await res.text();
    expect(page).toContain('<h1>Authorize Partner &amp; Co &lt;Photos&gt;</h1>');
    expect(page).not.toContain('<Photos>');
    expect(page).toContain('<li>Your profile: name, nickname and picture</li>');
    expect(page).toContain('<li>Your email address</li>');
    // The API's scope that was asked for, and not the one that was not.
    // The API's name and the scope's description come from the tenant's API.
    expect(page).toContain('<h2 id="consent-api-0">Photos</h2>');
    expect(page).toContain('<span class="scope">read:photos</span><span class="scope-description">Read your photos</span>');
    expect(page).not.toContain('write:photos');
    expect(page).toMatch(/<button type="submit" name="decision" value="deny"[^>]*>Deny<\/button>/);
    expect(page).toMatch(/<button type="submit" name="decision" value="accept">Accept<\/button>/);

    const callback = await answer(browser, page, 'accept');
    const callbackUrl = new URL(callback.url);
    expect(callbackUrl.searchParams.get('iss')).toBe(issuer);
    const tokens = await oidc.authorizationCodeGrant(partner, callbackUrl, { pkceCodeVerifier: flow.verifier, expectedState: flow.state });
    expect(tokens.claims()).toMatchObject({ iss: issuer, email: EMAIL });
    const { payload } = await jwtVerify(tokens.access_token, createRemoteJWKSet(new URL(`${issuer}.well-known/jwks.json`)), { issuer, audience: API });
    const scopes = String(payload.scope).split(' ');
    expect(scopes).toContain('read:photos');
    expect(scopes).not.toContain('write:photos');

    // prompt=consent lists the API's granted scope again.
    const forced = await authorize(browser, partner, { scope: 'openid read:photos', audience: API, prompt: 'consent' });
    const forcedPage = await forced.response!.text();
    expect(forcedPage).toContain('<span class="scope">read:photos</span>');
    expect(forcedPage).not.toContain('Your email address');
  });

  it('Deny sends access_denied, with state and iss, to the callback', async () => {
    const browser = new HttpBrowser();
    const flow = await authorizeAndLogIn(browser, partner);
    const callback = await answer(browser, await flow.response!.text(), 'deny');
    const params = new URL(callback.url).searchParams;
    expect(Object.fromEntries(params)).toEqual({ error: 'access_denied', error_description: 'User did not authorize the request', state: flow.state, iss: issuer });
  });

  it('asks once per session for the same scopes, again for new scopes, and again when prompt=consent', async () => {
    const browser = new HttpBrowser();
    const first = await authorizeAndLogIn(browser, partner, { scope: 'openid profile' });
    const firstPage = await first.response!.text();
    expect(firstPage).toContain('Your profile');
    expect(new URL((await answer(browser, firstPage, 'accept')).url).searchParams.get('code')).toBeTruthy();

    // Same client, same scopes: straight back with a code, no page on the way.
    const again = await authorize(browser, partner, { scope: 'openid profile' });
    expect(again.visited.every((url) => new URL(url).pathname.startsWith('/authorize'))).toBe(true);
    expect(new URL(again.url).searchParams.get('code')).toBeTruthy();
    // prompt=none works now too, where it would need consent before.
    expect(new URL((await authorize(browser, partner, { scope: 'openid profile', prompt: 'none' })).url).searchParams.get('code')).toBeTruthy();

    // A new scope is asked for; the page lists the whole request.
    const wider = await authorize(browser, partner, { scope: 'openid profile email' });
    expect(new URL(wider.url).pathname).toBe('/u/login');
    const widerPage = await wider.response!.text();
    expect(widerPage).toContain('<li>Your email address</li>');
    expect(widerPage).toContain('<li>Your profile: name, nickname and picture</li>');
    expect(new URL((await answer(browser, widerPage, 'accept')).url).searchParams.get('code')).toBeTruthy();

    // prompt=consent asks again for what was granted.
    const forced = await authorize(browser, partner, { scope: 'openid profile email', prompt: 'consent' });
    expect(new URL(forced.url).pathname).toBe('/u/login');
    const forcedPage = await forced.response!.text();
    expect(forcedPage).toContain('<li>Your email address</li>');
    expect(forcedPage).toContain('<li>Your profile: name, nickname and picture</li>');
    expect(new URL((await answer(browser, forcedPage, 'accept')).url).searchParams.get('code')).toBeTruthy();
  });

  it('refuses an answer without its form token (403) or for another interaction (403), then takes the real one', async () => {
    const browser = new HttpBrowser();
    const flow = await authorizeAndLogIn(browser, partner);
    const page = await flow.response!.text();
    const form = consentForm(page, issuer);

    const forgeries: Record<string, string>[] = [{ csrf: 'forged', decision: 'accept' }, { decision: 'accept' }];
    for (const fields of forgeries) {
      const refused = await browser.submit(form.action, fields);
      expect(refused.status).toBe(403);
      expect(refused.headers.get('cache-control')).toBe('no-store');
      expect(await refused.text()).toContain('Request refused');
    }

    // Another browser's consent interaction: its own state and token, posted with this browser's cookie.
    const other = new HttpBrowser();
    const otherForm = consentForm(await (await authorizeAndLogIn(other, partner)).response!.text(), issuer);
    expect(otherForm.action).not.toBe(form.action);
    expect((await browser.submit(otherForm.action, { csrf: otherForm.csrf, decision: 'accept' })).status).toBe(403);
    // No interaction cookie at all: the session has expired, as for the login form.
    expect((await new HttpBrowser().submit(form.action, { csrf: form.csrf, decision: 'accept' })).status).toBe(400);
    // The login form's endpoint does not take a consent interaction.
    expect((await browser.submit(form.action.replace('/u/login/consent', '/u/login'), { csrf: form.csrf, username: EMAIL, password: PASSWORD })).status).toBe(403);

    // Nothing was decided by the refused posts: the real answer still goes through.
    const callback = await answer(browser, page, 'accept');
    expect(new URL(callback.url).searchParams.get('code')).toBeTruthy();
  });

  it('never shows the page to a first-party application, even with prompt=consent', async () => {
    const browser = new HttpBrowser();
    const flow = await authorizeAndLogIn(browser, firstParty, { scope: 'openid profile email read:photos', audience: API });
    expect(flow.visited.every((url) => new URL(url).pathname.startsWith('/authorize'))).toBe(true);
    expect(new URL(flow.url).searchParams.get('code')).toBeTruthy();

    const forced = await authorize(browser, firstParty, { prompt: 'consent' });
    // The engine's interaction URL is visited and answered with a redirect, never a page.
    expect(forced.visited.some((url) => new URL(url).pathname === '/u/login')).toBe(true);
    expect(new URL(forced.url).searchParams.get('code')).toBeTruthy();
  });
});

describe('consent page', () => {
  it("names each API and shows the descriptions of its scopes, escaped, when the API's definition is given", () => {
    const page = consentPage({ tenantName: 'Acme', logoUrl: undefined, primaryColor: undefined }, 'nonce', {
      action: '/u/login/consent?state=abc',
      csrf: 'token',
      clientName: 'Partner',
      account: [],
      apis: [{ name: 'Photos', scopes: [{ value: 'read:photos', description: 'Read <your> photos' }, { value: 'write:photos', description: null }] }],
    });
    expect(page).toContain('<h2 id="consent-api-0">Photos</h2>');
    expect(page).toContain('<li><span class="scope">read:photos</span><span class="scope-description">Read &lt;your&gt; photos</span></li>');
    expect(page).toContain('<li><span class="scope">write:photos</span></li>');
    // Nothing asked of the account: no section for it.
    expect(page).not.toContain('Your account');
  });
});

// Callbacks given to `evaluate` run in Chromium; the project compiles without the DOM lib.
declare const document: { activeElement: { textContent: string | null } | null };

describe.skipIf(!browserTestsEnabled)('consent in a real browser (Chromium, SQLite)', () => {
  let t: TestApp;
  let partner: oidc.Configuration;

  beforeAll(async () => {
    ({ t, partner } = await consentFixture('sqlite'));
  });
  afterAll(async () => t?.cleanup());

  it('logs in and accepts the consent page with the keyboard, and the code redeems', async () => {
    const chromium = await launchChromium();
    try {
      const page = await chromium.context.newPage();
      const watch = watchPage(page);
      const verifier = oidc.randomPKCECodeVerifier();
      const state = oidc.randomState();
      const url = oidc.buildAuthorizationUrl(partner, { redirect_uri: CALLBACK, scope: 'openid email read:photos', audience: API, state, code_challenge: await oidc.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256' });

      await page.goto(url.toString());
      await page.getByLabel('Email address', { exact: true }).fill(EMAIL);
      await page.getByLabel('Password', { exact: true }).fill(PASSWORD);
      await page.keyboard.press('Enter');

      await page.getByRole('heading', { level: 1, name: `Authorize ${PARTNER_NAME}` }).waitFor();
      expect(await page.title()).toBe('Authorize application · Portcullis');
      await expect(page.getByRole('list', { name: 'Your account' }).getByRole('listitem').allTextContents()).resolves.toEqual(['Your user ID, to sign you in', 'Your email address']);
      await expect(page.getByRole('list', { name: 'Photos' }).getByRole('listitem').allTextContents()).resolves.toEqual([expect.stringMatching(/^read:photos\s*Read your photos$/)]);

      // Keyboard only: Tab reaches Deny, then Accept; Enter accepts.
      await page.getByRole('heading', { level: 1 }).click();
      await page.keyboard.press('Tab');
      await expect(page.evaluate(() => document.activeElement?.textContent)).resolves.toBe('Deny');
      await page.keyboard.press('Tab');
      await expect(page.evaluate(() => document.activeElement?.textContent)).resolves.toBe('Accept');
      // The application's callback does not exist: the browser's request to it is what counts.
      const callbackRequest = page.waitForRequest((request) => request.url().startsWith(CALLBACK));
      await page.keyboard.press('Enter');

      const callbackUrl = new URL((await callbackRequest).url());
      expect(callbackUrl.searchParams.get('code')).toBeTruthy();
      const tokens = await oidc.authorizationCodeGrant(partner, callbackUrl, { pkceCodeVerifier: verifier, expectedState: state });
      expect(tokens.claims()).toMatchObject({ email: EMAIL });
      expect(watch.problems()).toEqual([]);
    } finally {
      await chromium.close();
    }
  });
});
