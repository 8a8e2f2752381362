import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from './support/backends.js';
import { cliEnv, freePort, ROOT, runCli, spawnServer, waitForStatus, type ServerProcess } from './support/cli.js';
import { HttpBrowser, loginForm } from './support/http-browser.js';

/** The README's newcomer path: start, create an app and a user, log into the sample app. */
describe('README quick start: log into examples/sample-app', () => {
  let testDb: TestDatabase;
  let server: ServerProcess;
  let sample: ReturnType<typeof spawn>;
  let sampleBase: string;

  beforeAll(async () => {
    testDb = await createTestDatabase('sqlite');
    const port = await freePort();
    const env = { DATABASE_URL: testDb.url, PUBLIC_URL: `http://127.0.0.1:${port}` };
    server = await spawnServer([], { ...env, PORT: String(port) });
    await waitForStatus(`${server.base}/readyz`, 200, 20_000);
    const samplePort = await freePort();
    sampleBase = `http://localhost:${samplePort}`;
    const app = JSON.parse((await runCli(['client', 'create', 'Sample app', '--callback', `${sampleBase}/callback`, '--logout-url', `${sampleBase}/`, '--json'], env)).stdout) as Record<string, string>;
    const user = await runCli(['user', 'create', 'newcomer@example.test'], { ...env, PORTCULLIS_PASSWORD: 'correct horse battery staple' });
    expect(user.code).toBe(0);
    sample = spawn(process.execPath, [join(ROOT, 'examples/sample-app/server.mjs')], {
      cwd: ROOT,
      env: cliEnv({ ISSUER: app.issuer!, CLIENT_ID: app.client_id!, CLIENT_SECRET: app.client_secret!, PORT: String(samplePort) }),
      stdio: 'ignore',
    });
    await waitForStatus(`${sampleBase}/`, 200, 20_000);
  });

  afterAll(async () => {
    sample?.kill('SIGTERM');
    await server?.stop();
    await testDb?.drop();
  });

  it('logs the new user into the sample app', async () => {
    const browser = new HttpBrowser();
    const toLogin = await browser.follow(`${sampleBase}/login`);
    expect(toLogin.url).toContain('/u/login?state=');
    const form = loginForm(await toLogin.response!.text(), toLogin.url);
    const submitted = await browser.submit(form.action, { csrf: form.csrf, username: 'newcomer@example.test', password: 'correct horse battery staple' });
    expect(submitted.status).toBe(303);
    const landed = await browser.follow(new URL(submitted.headers.get('location')!, form.action).toString());
    expect(landed.url).toBe(`${sampleBase}/`);
    const page = await landed.response!.text();
    expect(page).toContain('Logged in as <strong>newcomer@example.test</strong>');
  });
});
