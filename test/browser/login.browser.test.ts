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
 * A person logging into examples/sample-app in a real Chromium, on SQLite:
 * the login page as seen and used with a keyboard, a wrong then a right
 * password, then SSO. The steps share one page and one cookie jar, and run
 * in order: each starts where the previous one left the browser.
 */
describe.skipIf(!browserTestsEnabled)('login in a real browser: examples/sample-app through the login page', () => {
  let browser: ChromiumSession;
  let stack: SampleStack;
  let page: Page;
  let watch: PageWatch;

  beforeAll(async () => {
    browser = await launchChromium();
    stack = await startSampleStack();
    page = await browser.context.newPage();
    watch = watchPage(page);
  });

  afterAll(async () => {
    await browser?.close();
    await stack?.stop();
  });

  beforeEach(({ onTestFailed }) => {
    onTestFailed(async () => {
      await page?.screenshot({ path: FAILURE_SCREENSHOT, fullPage: true }).catch(() => undefined);
      const seen = [`page: ${page?.url()} (screenshot: ${FAILURE_SCREENSHOT})`, ...(watch?.console ?? []), ...(watch?.httpErrors ?? []), ...(watch?.failedRequests ?? [])];
      console.error(`${seen.join('\n')}\n${stack?.output() ?? ''}`);
    });
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
    const shown: string[] = [];
    const onNavigated = (frame: Frame) => {
      if (frame === page.mainFrame()) shown.push(frame.url());
    };
    page.on('framenavigated', onNavigated);
    try {
      await page.goto(`${stack.sampleBase}/login`);
      await page.waitForURL(`${stack.sampleBase}/`);
    } finally {
      page.off('framenavigated', onNavigated);
    }
    expect(shown).toEqual([`${stack.sampleBase}/`]);
    await expect(page.locator('p', { hasText: 'Logged in as' }).textContent()).resolves.toBe(`Logged in as ${stack.user.email}.`);
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
