import { accessSync, constants, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';

/**
 * Real-browser tests drive the system Chromium (Debian's `chromium` package)
 * through playwright-core: Playwright's own browser downloads are not
 * reachable from CI. Without Chromium the suites are skipped with a visible
 * line, unless REQUIRE_BROWSER=1 (as in CI), when they run and fail.
 */
export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const REQUIRE_BROWSER = process.env.REQUIRE_BROWSER === '1';

function executable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

const chromiumFound = executable(CHROMIUM_PATH);
if (!chromiumFound && !REQUIRE_BROWSER) {
  console.warn(`\n  SKIPPING browser tests: no Chromium at ${CHROMIUM_PATH} (apt-get install -y chromium, or set CHROMIUM_PATH). Set REQUIRE_BROWSER=1 to make this an error.\n`);
}

/** Whether browser suites run: Chromium is there, or it is required (and its absence fails them). */
export const browserTestsEnabled = chromiumFound || REQUIRE_BROWSER;

/**
 * Quiet, deterministic Chromium: no network of its own (updates, sync, field
 * trials), no GPU, no sandbox (CI runs as root). QUIC off so every request is
 * plain HTTP/1.1 to our local servers.
 */
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run', '--disable-sync', '--disable-quic'];

export interface ChromiumSession {
  /** One browser context (one cookie jar) on a fresh profile. */
  readonly context: BrowserContext;
  close(): Promise<void>;
}

/** Launches Chromium on a fresh temporary profile; `close` removes it. */
export async function launchChromium(): Promise<ChromiumSession> {
  if (!chromiumFound) throw new Error(`REQUIRE_BROWSER=1 but there is no Chromium at ${CHROMIUM_PATH}: apt-get install -y chromium`);
  const userDataDir = mkdtempSync(join(tmpdir(), 'portcullis-chromium-'));
  // Playwright refuses --user-data-dir in args: a persistent context is how it takes one.
  const context = await chromium
    .launchPersistentContext(userDataDir, { executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS, headless: true, timeout: 30_000, viewport: { width: 1024, height: 720 } })
    .catch((error: unknown) => {
      rmSync(userDataDir, { recursive: true, force: true });
      throw error;
    });
  // Under vitest's 30 s per test, so a stuck wait fails with Playwright's own message (which URL, which locator).
  context.setDefaultTimeout(10_000);
  context.setDefaultNavigationTimeout(15_000);
  return {
    context,
    async close() {
      await context.close();
      rmSync(userDataDir, { recursive: true, force: true });
    },
  };
}

/** What a page said while a test used it: console lines, uncaught errors, failed requests. */
export interface PageWatch {
  readonly console: string[];
  readonly pageErrors: string[];
  readonly failedRequests: string[];
  /** Responses with a 4xx/5xx status (a 400 is expected when a form is re-shown with an error). */
  readonly httpErrors: string[];
  /**
   * CSP violations and uncaught page errors: each is a test failure. Older
   * Chromium says "Refused to load …"; current Chromium (156 here) says
   * "Loading the stylesheet '…' violates the following Content Security
   * Policy directive … The action has been blocked.": both are matched, and
   * the browser suite checks that a violation is still noticed.
   */
  problems(): string[];
}

const CSP_VIOLATION = /Refused to |Content Security Policy/;

export function watchPage(page: Page): PageWatch {
  const watch: PageWatch = {
    console: [],
    pageErrors: [],
    failedRequests: [],
    httpErrors: [],
    problems: () => [...watch.console.filter((line) => CSP_VIOLATION.test(line)), ...watch.pageErrors.map((e) => `page error: ${e}`)],
  };
  page.on('console', (message) => watch.console.push(`[${message.type()}] ${message.text()} (${message.location().url || page.url()})`));
  page.on('pageerror', (error) => watch.pageErrors.push(`${error.message} (${page.url()})`));
  page.on('requestfailed', (request) => watch.failedRequests.push(`${request.method()} ${request.url()}: ${request.failure()?.errorText ?? 'failed'}`));
  page.on('response', (response) => {
    if (response.status() >= 400) watch.httpErrors.push(`${response.status()} ${response.request().method()} ${response.url()}`);
  });
  return watch;
}
