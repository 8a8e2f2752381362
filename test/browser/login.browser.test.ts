import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Frame, Locator, Page } from 'playwright-core';
import { browserTestsEnabled, launchChromium, watchPage, type ChromiumSession, type PageWatch } from '../support/chromium.js';
import { startSampleStack, type SampleStack } from '../support/sample-app.js';

const LOGIN_PAGE_SCREENSHOT = '/tmp/login-page.png';
const ERROR_SCREENSHOT = '/tmp/login-page-error.png';
const FAILURE_SCREENSHOT = '/tmp/login-browser-failure.png';

// Callbacks given to `evaluate` run in Chromium. The project compiles without
// the DOM lib (server code must not see browser globals), so the one browser
// global used here is declared for this module only.
declare function getComputedStyle(element: unknown): { backgroundColor: string; outlineStyle: string; outlineWidth: string };

async function computedStyle(locator: Locator): Promise<{ background: string; outline: string }> {
  return locator.evaluate((element) => {
    const style = getComputedStyle(element);
    return { background: style.backgroundColor, outline: `${style.outlineStyle} ${style.outlineWidth}` };
  });
}

/**
 * One server and two sample apps for the whole file, started by the first
 * suite that asks: starting processes is most of this file's run time. Each
 * suite has its own Chromium (its own cookie jar), so sharing the server
 * shares no browser state.
 */
let sharedStack: Promise<SampleStack> | undefined;
const sampleStack = (): Promise<SampleStack> => (sharedStack ??= startSampleStack({ secondApp: true }));

afterAll(async () => {
  await (await sharedStack?.catch(() => undefined))?.stop();
});

/** On a failed step: a screenshot, what the page said, and the servers' output. */
async function reportFailure(page: Page | undefined, watch: PageWatch | undefined, stack: SampleStack | undefined): Promise<void> {
  await page?.screenshot({ path: FAILURE_SCREENSHOT, fullPage: true }).catch(() => undefined);
  const seen = [`page: ${page?.url()} (screenshot: ${FAILURE_SCREENSHOT})`, ...(watch?.console ?? []), ...(watch?.httpErrors ?? []), ...(watch?.failedRequests ?? [])];
  console.error(`${seen.join('\n')}\n${stack?.output() ?? ''}`);
}

/**
 * The pages the main frame showed while `act` ran: redirects that the browser
 * followed without rendering (SSO through the server) do not appear.
 */
async function mainFrameNavigations(page: Page, act: () => Promise<void>): Promise<string[]> {
  const shown: string[] = [];
  const onNavigated = (frame: Frame) => {
    if (frame === page.mainFrame()) shown.push(frame.url());
  };
  page.on('framenavigated', onNavigated);
  try {
    await act();
  } finally {
    page.off('framenavigated', onNavigated);
  }
  return shown;
}

/** The ID token claims the sample app shows once logged in. */
async function shownClaims(page: Page): Promise<Record<string, unknown>> {
  return JSON.parse((await page.locator('pre').textContent()) ?? '{}') as Record<string, unknown>;
}

/**
 * A person logging into examples/sample-app in a real Chromium, on SQLite:
 * the login page as seen and used with a keyboard, a wrong then a right
 * password, then SSO into the same app and into a second app (another client,
 * another origin), then logout from the first app, which ends the SSO session
 * for the second too. The steps share one page and one cookie jar, and run in
 * order: each starts where the previous one left the browser.
 */
describe.skipIf(!browserTestsEnabled)('login in a real browser: examples/sample-app through the login page', () => {
  let browser: ChromiumSession;
  let stack: SampleStack;
  let page: Page;
  let watch: PageWatch;

  beforeAll(async () => {
    browser = await launchChromium();
    stack = await sampleStack();
    page = await browser.context.newPage();
    watch = watchPage(page);
  });

  afterAll(async () => {
    await browser?.close();
  });

  beforeEach(({ onTestFailed }) => {
    onTestFailed(() => reportFailure(page, watch, stack));
  });

  /** Every step ends clean: no CSP violation, no uncaught error, on any page so far. */
  function expectNoPageProblems(): void {
    expect(watch.problems(), `console:\n${watch.console.join('\n')}`).toEqual([]);
  }

  it('goes from the sample app to the login page, which renders with its stylesheet', async () => {
    await page.goto(`${stack.sampleBase}/`);
    const stylesheet = page.waitForResponse((r) => /\/u\/assets\/login\.[0-9a-f]{16}\.css$/.test(r.url()));
    await page.getByRole('link', { name: 'Log in with Portcullis' }).click();
    await page.waitForURL((url) => url.pathname === '/u/login' && url.searchParams.has('state'));
    expect(new URL(page.url()).origin).toBe(stack.server.base);

    const css = await stylesheet;
    expect(css.status()).toBe(200);
    expect(css.headers()['content-type']).toMatch(/^text\/css/);
    expect(await page.title()).toBe('Log in · Portcullis');
    await expect(page.getByRole('heading', { level: 1 }).textContent()).resolves.toBe('Welcome');
    // Styles applied: the page background and the primary button colour come from the stylesheet only.
    expect((await computedStyle(page.locator('body'))).background).toBe('rgb(244, 245, 247)');
    expect((await computedStyle(page.getByRole('button', { name: 'Continue' }))).background).toBe('rgb(61, 90, 254)');

    await page.screenshot({ path: LOGIN_PAGE_SCREENSHOT, fullPage: true });
    expectNoPageProblems();
  });

  it('labels its fields and button so they can be found by name', async () => {
    const username = page.getByLabel('Email address', { exact: true });
    const password = page.getByLabel('Password', { exact: true });
    await expect(username.getAttribute('name')).resolves.toBe('username');
    await expect(username.getAttribute('autocomplete')).resolves.toBe('username');
    await expect(password.getAttribute('name')).resolves.toBe('password');
    await expect(password.getAttribute('type')).resolves.toBe('password');
    await expect(password.getAttribute('autocomplete')).resolves.toBe('current-password');
    await expect(page.getByRole('button', { name: 'Continue' }).isVisible()).resolves.toBe(true);
    // autofocus: the first field is ready to type into.
    await expect(page.locator(':focus').getAttribute('id')).resolves.toBe('username');
  });

  it('is usable with the keyboard: Tab goes username → password → button, with a visible focus ring', async () => {
    // Start the sequential focus navigation from the heading, above the form.
    await page.getByRole('heading', { level: 1 }).click();
    const focused = page.locator(':focus');
    const stops: { focused: string | null; focusVisible: boolean; outline: string }[] = [];
    for (let i = 0; i < 3; i++) {
      await page.keyboard.press('Tab');
      stops.push({
        focused: (await focused.getAttribute('id')) ?? (await focused.textContent()),
        focusVisible: (await page.locator(':focus-visible').count()) === 1,
        outline: (await computedStyle(focused)).outline,
      });
    }
    expect(stops).toEqual([
      { focused: 'username', focusVisible: true, outline: 'solid 3px' },
      { focused: 'password', focusVisible: true, outline: 'solid 3px' },
      { focused: 'Continue', focusVisible: true, outline: 'solid 3px' },
    ]);
  });

  it('says "Wrong email or password." as an alert on a wrong password, keeping the email typed', async () => {
    await page.getByLabel('Email address', { exact: true }).click();
    await page.keyboard.type(stack.user.email);
    await page.keyboard.press('Tab');
    await page.keyboard.type('not the password');
    await page.keyboard.press('Enter');
    const alert = page.getByRole('alert');
    await alert.waitFor();
    await expect(alert.textContent()).resolves.toBe('Wrong email or password.');
    expect(new URL(page.url()).pathname).toBe('/u/login');
    await expect(page.getByLabel('Email address', { exact: true }).inputValue()).resolves.toBe(stack.user.email);
    await expect(page.getByLabel('Password', { exact: true }).inputValue()).resolves.toBe('');
    // The error is tied to the field it is about, for screen readers.
    await expect(page.getByLabel('Email address', { exact: true }).getAttribute('aria-describedby')).resolves.toBe(await alert.getAttribute('id'));
    await expect(page.getByLabel('Password', { exact: true }).getAttribute('aria-describedby')).resolves.toBe(await alert.getAttribute('id'));
    await expect(page.getByLabel('Password', { exact: true }).getAttribute('aria-invalid')).resolves.toBe('true');
    // The email is kept, so focus goes to the password; the title says there was an error.
    await expect(page.locator(':focus').getAttribute('id')).resolves.toBe('password');
    expect(await page.title()).toBe('Error: log in · Portcullis');
    await page.screenshot({ path: ERROR_SCREENSHOT, fullPage: true });
    expectNoPageProblems();
  });

  it('returns to the sample app logged in after the right password', async () => {
    await page.getByLabel('Password', { exact: true }).pressSequentially(stack.user.password);
    await page.getByRole('button', { name: 'Continue' }).click();
    await page.waitForURL(`${stack.sampleBase}/`);
    await expect(page.locator('p', { hasText: 'Logged in as' }).textContent()).resolves.toBe(`Logged in as ${stack.user.email}.`);
    expectNoPageProblems();
  });

  it('logs in again by SSO without showing the login page', async () => {
    const shown = await mainFrameNavigations(page, async () => {
      await page.goto(`${stack.sampleBase}/login`);
      await page.waitForURL(`${stack.sampleBase}/`);
    });
    expect(shown).toEqual([`${stack.sampleBase}/`]);
    await expect(page.locator('p', { hasText: 'Logged in as' }).textContent()).resolves.toBe(`Logged in as ${stack.user.email}.`);
    expectNoPageProblems();
  });

  it('logs into a second application by SSO, without showing the login page', async () => {
    const second = stack.secondSampleBase!;
    const firstClaims = await shownClaims(page);
    const shown = await mainFrameNavigations(page, async () => {
      await page.goto(`${second}/login`);
      await page.waitForURL(`${second}/`);
    });
    expect(shown).toEqual([`${second}/`]);
    await expect(page.locator('p', { hasText: 'Logged in as' }).textContent()).resolves.toBe(`Logged in as ${stack.user.email}.`);
    // The same person, in an ID token issued to the other client.
    const secondClaims = await shownClaims(page);
    expect(secondClaims.sub).toBe(firstClaims.sub);
    expect(secondClaims.aud).not.toBe(firstClaims.aud);
    expectNoPageProblems();
  });

  it('logs out from the first application after a confirmation page, reachable by role and name', async () => {
    await page.goto(`${stack.sampleBase}/`);
    // Still logged in there: the second application's login did not touch the first one's session.
    await expect(page.locator('p', { hasText: 'Logged in as' }).textContent()).resolves.toBe(`Logged in as ${stack.user.email}.`);
    await page.getByRole('link', { name: 'Log out' }).click();
    await page.waitForURL((url) => url.origin === stack.server.base && url.pathname === '/oidc/logout');
    expect(await page.title()).toBe('Log out · Portcullis');
    await expect(page.getByRole('heading', { level: 1 }).textContent()).resolves.toBe('Log out?');
    const confirm = page.getByRole('button', { name: 'Yes, log me out' });
    await expect(page.getByRole('button', { name: 'Only leave this application' }).isVisible()).resolves.toBe(true);
    // autofocus: Enter confirms.
    await expect(page.locator(':focus').textContent()).resolves.toBe('Yes, log me out');
    const serverCookies = async () => (await browser.context.cookies(stack.server.base)).map((c) => c.name);
    expect(await serverCookies()).toContain('_session');
    expectNoPageProblems();

    await confirm.click();
    await page.waitForURL(`${stack.sampleBase}/`);
    await expect(page.getByText('You are not logged in.').isVisible()).resolves.toBe(true);
    await expect(page.getByRole('link', { name: 'Log in with Portcullis' }).isVisible()).resolves.toBe(true);
    // The engine's session cookie is gone from the browser, not just the application's session.
    expect(await serverCookies()).not.toContain('_session');
    expectNoPageProblems();
  });

  it('ended the SSO session: the second application now gets the login page', async () => {
    const second = stack.secondSampleBase!;
    await page.goto(`${second}/login`);
    await page.waitForURL((url) => url.origin === stack.server.base && url.pathname === '/u/login' && url.searchParams.has('state'));
    await expect(page.getByRole('heading', { level: 1 }).textContent()).resolves.toBe('Welcome');
    await expect(page.locator('p.lead').textContent()).resolves.toBe('Log in to Portcullis to continue to Second sample app.');
    await expect(page.getByLabel('Email address', { exact: true }).isVisible()).resolves.toBe(true);
    expectNoPageProblems();
  });

  it('notices a CSP violation when there is one (so a silent console means a clean page)', async () => {
    const probe = await browser.context.newPage();
    const probeWatch = watchPage(probe);
    try {
      // An error page served with the login pages' CSP; an inline style without the nonce breaks it.
      await probe.goto(`${stack.server.base}/u/login?state=not-a-login`);
      await probe.addStyleTag({ content: 'body { color: red }' }).catch(() => undefined);
      await expect.poll(() => probeWatch.problems().length).toBeGreaterThan(0);
    } finally {
      await probe.close();
    }
  });
});

/**
 * A newcomer signing up from examples/sample-app in a browser that has never
 * logged in: login page → "Sign up" → a refused password, then a good one →
 * back in the app. The signup page lives under /u/login because the engine
 * scopes its interaction cookie to that path: only a real browser shows the
 * cookie reaching it.
 */
describe.skipIf(!browserTestsEnabled)('signup in a real browser: a fresh browser signs up from examples/sample-app', () => {
  const newcomer = { email: 'first-time@example.test', tooShort: 'short pass', passphrase: 'violet tugboat under paper moons' };
  let browser: ChromiumSession;
  let stack: SampleStack;
  let page: Page;
  let watch: PageWatch;

  beforeAll(async () => {
    browser = await launchChromium();
    stack = await sampleStack();
    page = await browser.context.newPage();
    watch = watchPage(page);
  });

  afterAll(async () => {
    await browser?.close();
  });

  beforeEach(({ onTestFailed }) => {
    onTestFailed(() => reportFailure(page, watch, stack));
  });

  function expectNoPageProblems(): void {
    expect(watch.problems(), `console:\n${watch.console.join('\n')}`).toEqual([]);
  }

  it('reaches the signup page from the login page\'s "Sign up" link, with the interaction cookie', async () => {
    await page.goto(`${stack.sampleBase}/`);
    await page.getByRole('link', { name: 'Log in with Portcullis' }).click();
    await page.waitForURL((url) => url.pathname === '/u/login' && url.searchParams.has('state'));
    const state = new URL(page.url()).searchParams.get('state');
    const signupRequest = page.waitForRequest((request) => new URL(request.url()).pathname === '/u/login/signup');
    await page.getByRole('link', { name: 'Sign up' }).click();
    await page.waitForURL((url) => url.pathname === '/u/login/signup' && url.searchParams.get('state') === state);
    expect(new URL(page.url()).origin).toBe(stack.server.base);
    // The engine scopes its interaction cookie to /u/login; the browser sent it to the signup page below it.
    // (`cookies(url)` would not list it: it only lists the cookies sent to that URL's path.)
    const interactionCookie = (await browser.context.cookies()).find((c) => c.name === '_interaction');
    expect(interactionCookie?.path).toBe('/u/login');
    expect((await (await signupRequest).allHeaders()).cookie).toMatch(/(?:^|; )_interaction=/);
    expect(await page.title()).toBe('Sign up · Portcullis');
    await expect(page.getByRole('heading', { level: 1 }).textContent()).resolves.toBe('Create your account');
    expectNoPageProblems();
  });

  it('labels its fields, says the password rule, and focuses the email', async () => {
    const email = page.getByLabel('Email address', { exact: true });
    const password = page.getByLabel('Password', { exact: true });
    await expect(email.getAttribute('name')).resolves.toBe('email');
    await expect(email.getAttribute('type')).resolves.toBe('email');
    await expect(email.getAttribute('autocomplete')).resolves.toBe('email');
    await expect(password.getAttribute('name')).resolves.toBe('password');
    await expect(password.getAttribute('type')).resolves.toBe('password');
    await expect(password.getAttribute('autocomplete')).resolves.toBe('new-password');
    // The rule is the password field's description, read out with it.
    const rule = page.locator(`#${await password.getAttribute('aria-describedby')}`);
    await expect(rule.textContent()).resolves.toBe('At least 12 characters. Long passphrases are welcome.');
    await expect(page.getByRole('button', { name: 'Sign up' }).isVisible()).resolves.toBe(true);
    await expect(page.getByRole('link', { name: 'Log in', exact: true }).isVisible()).resolves.toBe(true);
    await expect(page.locator(':focus').getAttribute('id')).resolves.toBe(await email.getAttribute('id'));
  });

  it('refuses a too-short password with an alert, keeping the email typed', async () => {
    await page.getByLabel('Email address', { exact: true }).fill(newcomer.email);
    await page.getByLabel('Password', { exact: true }).fill(newcomer.tooShort);
    await page.getByRole('button', { name: 'Sign up' }).click();
    const alert = page.getByRole('alert');
    await alert.waitFor();
    await expect(alert.textContent()).resolves.toBe('Password is too short: use at least 12 characters.');
    expect(new URL(page.url()).pathname).toBe('/u/login/signup');
    expect(await page.title()).toBe('Error: sign up · Portcullis');
    await expect(page.getByLabel('Email address', { exact: true }).inputValue()).resolves.toBe(newcomer.email);
    await expect(page.getByLabel('Password', { exact: true }).inputValue()).resolves.toBe('');
    // Only the password is marked invalid, and the alert describes it (a screen reader reads why).
    await expect(page.getByLabel('Password', { exact: true }).getAttribute('aria-invalid')).resolves.toBe('true');
    await expect(page.getByLabel('Password', { exact: true }).getAttribute('aria-describedby')).resolves.toBe('form-error password-rule');
    await expect(page.getByLabel('Email address', { exact: true }).getAttribute('aria-invalid')).resolves.toBeNull();
    await expect(page.locator(':focus').getAttribute('id')).resolves.toBe('password');
    expectNoPageProblems();
  });

  it('creates the account with a good passphrase and returns to the sample app logged in as it', async () => {
    await page.getByLabel('Password', { exact: true }).fill(newcomer.passphrase);
    await page.getByRole('button', { name: 'Sign up' }).click();
    await page.waitForURL(`${stack.sampleBase}/`);
    await expect(page.locator('p', { hasText: 'Logged in as' }).textContent()).resolves.toBe(`Logged in as ${newcomer.email}.`);
    expectNoPageProblems();
  });
});
