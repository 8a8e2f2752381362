import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HttpBrowser, loginForm } from './support/http-browser.js';
import { startSampleStack, type SampleStack } from './support/sample-app.js';

/** The README's newcomer path: start, create an app and a user, log into the sample app. */
describe('README quick start: log into examples/sample-app', () => {
  let stack: SampleStack;

  beforeAll(async () => {
    stack = await startSampleStack();
  });

  afterAll(async () => {
    await stack?.stop();
  });

  it('logs the new user into the sample app', async () => {
    const { sampleBase, user } = stack;
    const browser = new HttpBrowser();
    const toLogin = await browser.follow(`${sampleBase}/login`);
    expect(toLogin.url).toContain('/u/login?state=');
    const form = loginForm(await toLogin.response!.text(), toLogin.url);
    const submitted = await browser.submit(form.action, { csrf: form.csrf, username: user.email, password: user.password });
    expect(submitted.status).toBe(303);
    const landed = await browser.follow(new URL(submitted.headers.get('location')!, form.action).toString());
    expect(landed.url).toBe(`${sampleBase}/`);
    const page = await landed.response!.text();
    expect(page).toContain(`Logged in as <strong>${user.email}</strong>`);
  });
});
