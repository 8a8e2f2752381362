import type { ManagementClient } from 'auth0';
import * as oidc from 'openid-client';
import { afterAll, beforeAll, beforeEach, expect, it } from 'vitest';
import { startListeningTestApp, type TestApp } from '../../test/support/app.js';
import { describeEachBackend } from '../../test/support/backends.js';
import { testRuntime } from '../../test/support/clock.js';
import { codeFlow } from '../../test/support/code-flow.js';
import { HttpBrowser, loginForm } from '../../test/support/http-browser.js';
import { adminSdk } from '../../test/support/management.js';
import { DEFAULT_DATABASE_CONNECTION } from '../connections/store.js';
import type { SecurityEvent } from '../events/bus.js';
import { PASSWORD_REALM_GRANT } from '../oauth/password-grant.js';
import { hashTicketToken, ticketsService, ticketUrl } from './service.js';

const PASSWORD = 'correct horse battery staple';
const NEW_PASSWORD = 'a completely different passphrase';
const REALM = DEFAULT_DATABASE_CONNECTION;
const CALLBACK = 'https://app.example.test/callback';
const RESULT = 'https://app.example.test/after?from=ticket';

/** The reset form of a page: where it posts and its hidden fields. */
function resetForm(page: string, base: string) {
  const { action, csrf } = loginForm(page, base);
  const ticket = /name="ticket" value="([^"]+)"/.exec(page)?.[1];
  if (!ticket) throw new Error('no ticket field on the page');
  return { action, csrf, ticket };
}

/** A page without its per-response nonce, to compare two answers. */
const withoutNonce = (page: string) => page.replace(/nonce="[^"]+"/g, 'nonce=""');

describeEachBackend('ticket pages: password reset and email verification', (backend) => {
  let t: TestApp;
  let issuer: string;
  let tenantId: string;
  let sdk: ManagementClient;
  let rp: oidc.Configuration;
  let legacy: { clientId: string; clientSecret: string };
  const events: SecurityEvent[] = [];
  let counter = 0;
  const email = (label: string) => `${label}-${++counter}@example.test`;

  beforeAll(async () => {
    ({ t, issuer, tenantId } = await startListeningTestApp(backend));
    ({ sdk } = await adminSdk(t, issuer, tenantId));
    t.events.observe((event) => {
      events.push(event);
    });
    const web = await t.services.clients.create(tenantId, { name: 'Web', appType: 'regular_web', tokenEndpointAuthMethod: 'client_secret_basic', config: { callbacks: [CALLBACK], grant_types: ['authorization_code'] } });
    rp = await oidc.discovery(new URL(issuer), web.clientId, web.clientSecret, undefined, { execute: [oidc.allowInsecureRequests] });
    const created = await t.services.clients.create(tenantId, { name: 'Legacy', appType: 'regular_web', tokenEndpointAuthMethod: 'client_secret_post', config: { grant_types: [PASSWORD_REALM_GRANT, 'refresh_token'] } });
    legacy = { clientId: created.clientId, clientSecret: created.clientSecret as string };
  });
  beforeEach(() => {
    events.length = 0;
  });
  afterAll(async () => t?.cleanup());

  const newUser = (label = 'user') => sdk.users.create({ connection: REALM, email: email(label), password: PASSWORD });
  const tokenRequest = (fields: Record<string, string>) =>
    fetch(`${issuer}oauth/token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ client_id: legacy.clientId, client_secret: legacy.clientSecret, ...fields }).toString() });
  const ticketEvents = () => events.filter((e) => ['scp', 'fcp', 'sv', 'fv'].includes(e.type));

  /** Opens a reset link in `browser` and returns the form it shows. */
  async function openReset(browser: HttpBrowser, link: string) {
    const page = await browser.fetch(link);
    expect(page.status).toBe(200);
    return resetForm(await page.text(), issuer);
  }

  it('resets a password through the page: the new one logs in, the old one fails, refresh tokens are revoked, and the link is used up', async () => {
    const user = await newUser();
    const issued = (await (await tokenRequest({ grant_type: PASSWORD_REALM_GRANT, username: user.email!, password: PASSWORD, realm: REALM, scope: 'openid offline_access' })).json()) as { refresh_token: string };
    expect(issued.refresh_token).toEqual(expect.any(String));

    const { ticket: link } = (await sdk.tickets.changePassword({ user_id: user.user_id, result_url: RESULT, mark_email_as_verified: true }));
    expect(link).toMatch(new RegExp(`^${issuer}u/reset-password\\?ticket=[A-Za-z0-9_-]{43}$`));
    const token = new URL(link).searchParams.get('ticket')!;
    // Only the token's hash is stored.
    const rows = await t.database.db.selectFrom('user_tickets').selectAll().where('user_id', '=', user.user_id!).execute();
    expect(rows.map((r) => r.token_hash)).toEqual([hashTicketToken(token)]);
    expect(JSON.stringify(rows)).not.toContain(token);

    const browser = new HttpBrowser();
    const page = await browser.fetch(link);
    expect(page.status).toBe(200);
    const csp = page.headers.get('content-security-policy')!;
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).not.toContain('script-src');
    expect(page.headers.get('cache-control')).toBe('no-store');
    expect(page.headers.get('referrer-policy')).toBe('no-referrer');
    expect(page.headers.get('set-cookie')).toMatch(/^pc_ticket_form=[A-Za-z0-9_-]{22}; Path=\/u\/reset-password; Max-Age=3600; HttpOnly; SameSite=Lax$/);
    const html = await page.text();
    expect(html).not.toContain('<script');
    expect(html).toContain(user.email!);
    expect(html).toContain('autocomplete="new-password"');
    const form = resetForm(html, issuer);
    expect(form.action).toBe(`${issuer}u/reset-password`);

    const done = await browser.submit(form.action, { csrf: form.csrf, ticket: form.ticket, password: NEW_PASSWORD, confirm: NEW_PASSWORD });
    expect(done.status).toBe(303);
    const redirect = new URL(done.headers.get('location')!);
    expect(`${redirect.origin}${redirect.pathname}`).toBe('https://app.example.test/after');
    expect(Object.fromEntries(redirect.searchParams)).toEqual({ from: 'ticket', email: user.email, success: 'true', message: 'You can now login to the application with the new password.' });

    const [changed] = ticketEvents();
    expect(ticketEvents()).toHaveLength(1);
    expect(changed).toMatchObject({ tenantId, type: 'scp', userId: user.user_id, userName: user.email, connection: REALM, connectionId: expect.stringMatching(/^con_/), ip: '127.0.0.1', details: { ticket: 'password_change' } });
    expect(JSON.stringify(events)).not.toContain(NEW_PASSWORD);
    expect(JSON.stringify(events)).not.toContain(token);

    // The real login: the new password works, the old one does not.
    const withNew = codeFlow({ issuer, redirectUri: CALLBACK, password: NEW_PASSWORD });
    const login = await withNew.signIn(new HttpBrowser(), rp, user.email!, { scope: 'openid email' });
    expect((await withNew.redeem(rp, login)).claims()).toMatchObject({ sub: user.user_id, email_verified: true });
    const withOld = codeFlow({ issuer, redirectUri: CALLBACK, password: PASSWORD });
    const oldBrowser = new HttpBrowser();
    const started = await withOld.authorize(oldBrowser, rp);
    expect((await withOld.submitLogin(oldBrowser, started.response!, user.email!)).status).toBe(400);

    // Refresh tokens issued before the change are revoked (as PATCH /users does).
    expect(await (await tokenRequest({ grant_type: 'refresh_token', refresh_token: issued.refresh_token })).json()).toMatchObject({ error: 'invalid_grant' });
    expect((await sdk.users.get(user.user_id!)).email_verified).toBe(true);

    // The link is used up: the page and a replayed form both refuse it.
    events.length = 0;
    const again = await browser.fetch(link);
    expect(again.status).toBe(400);
    expect(await again.text()).toContain('Link not valid');
    const replay = await browser.submit(form.action, { csrf: form.csrf, ticket: form.ticket, password: 'yet another long passphrase', confirm: 'yet another long passphrase' });
    expect(replay.status).toBe(400);
    expect(ticketEvents().map((e) => [e.type, e.userId, e.details])).toEqual([
      ['fcp', user.user_id, { ticket: 'password_change', error: 'invalid_ticket', ticket_state: 'used' }],
      ['fcp', user.user_id, { ticket: 'password_change', error: 'invalid_ticket', ticket_state: 'used' }],
    ]);
    await withNew.signIn(new HttpBrowser(), rp, user.email!);

    // The log writer recorded them: GET /api/v2/users/{id}/logs (newest first) has the change and both refusals, without secrets.
    const logged = await sdk.users.logs.list(user.user_id!, { sort: 'date:1' });
    const ticketLogs = logged.data.filter((e) => ['scp', 'fcp'].includes(e.type!));
    expect(ticketLogs.map((e) => e.type)).toEqual(['scp', 'fcp', 'fcp']);
    expect(ticketLogs[0]).toMatchObject({ user_id: user.user_id, user_name: user.email, connection: REALM, ip: '127.0.0.1', description: 'Success Change Password' });
    expect(JSON.stringify(logged.data)).not.toContain(token);
    expect(JSON.stringify(logged.data)).not.toContain(NEW_PASSWORD);
  });

  it('re-shows the form for a password the policy refuses or a mismatched repeat, keeping the link usable; ends on a page without result_url', async () => {
    const user = await newUser();
    const { ticket: link } = (await sdk.tickets.changePassword({ user_id: user.user_id }));
    const browser = new HttpBrowser();
    const form = await openReset(browser, link);

    const short = await browser.submit(form.action, { csrf: form.csrf, ticket: form.ticket, password: 'tiny', confirm: 'tiny' });
    expect(short.status).toBe(400);
    const shortPage = await short.text();
    expect(shortPage).toContain('role="alert"');
    expect(shortPage).toContain('Password is too short: use at least 12 characters.');
    expect(shortPage).toContain('aria-invalid="true"');
    const common = await browser.submit(form.action, { csrf: form.csrf, ticket: form.ticket, password: 'password1234', confirm: 'password1234' });
    expect(await common.text()).toContain('Password is too common');
    // Breached password detection (on by default at password change) refuses it too, and records pwd_leak.
    const breached = await browser.submit(form.action, { csrf: form.csrf, ticket: form.ticket, password: 'qwertyuiopasdfghjkl', confirm: 'qwertyuiopasdfghjkl' });
    expect(breached.status).toBe(400);
    expect(await breached.text()).toContain('has appeared in a data breach');
    expect(events.some((e) => e.type === 'pwd_leak' && e.userId === user.user_id)).toBe(true);
    const mismatch = await browser.submit(form.action, { csrf: form.csrf, ticket: form.ticket, password: NEW_PASSWORD, confirm: `${NEW_PASSWORD}!` });
    expect(mismatch.status).toBe(400);
    expect(await mismatch.text()).toContain('The two passwords do not match.');
    expect(ticketEvents().map((e) => [e.type, e.details?.error])).toEqual([
      ['fcp', 'password_too_short'],
      ['fcp', 'password_common'],
      ['fcp', 'password_breached'],
    ]);

    const done = await browser.submit(form.action, { csrf: form.csrf, ticket: form.ticket, password: NEW_PASSWORD, confirm: NEW_PASSWORD });
    expect(done.status).toBe(200);
    expect(await done.text()).toContain('Password changed');
    expect((await t.services.users.authenticate({ tenantId, connectionName: REALM, identifier: user.email!, password: NEW_PASSWORD, ip: null })).ok).toBe(true);
  });

  it('refuses a form without its CSRF token or from a browser without the form cookie', async () => {
    const user = await newUser();
    const { ticket: link } = (await sdk.tickets.changePassword({ user_id: user.user_id }));
    const browser = new HttpBrowser();
    const form = await openReset(browser, link);
    const fields = { ticket: form.ticket, password: NEW_PASSWORD, confirm: NEW_PASSWORD };

    expect((await browser.submit(form.action, fields)).status).toBe(403);
    expect((await browser.submit(form.action, { ...fields, csrf: `${form.csrf.slice(0, -2)}AA` })).status).toBe(403);
    // Another browser (an attacker's page posting cross-site) has the token but not the cookie bound to it.
    const elsewhere = await new HttpBrowser().submit(form.action, { ...fields, csrf: form.csrf });
    expect(elsewhere.status).toBe(403);
    expect(await elsewhere.text()).toContain('Request refused');
    // A form token is bound to its ticket too.
    const { ticket: otherLink } = (await sdk.tickets.changePassword({ user_id: user.user_id }));
    expect((await browser.submit(form.action, { ...fields, ticket: new URL(otherLink).searchParams.get('ticket')!, csrf: form.csrf })).status).toBe(403);
    // Nothing was changed.
    expect((await t.services.users.authenticate({ tenantId, connectionName: REALM, identifier: user.email!, password: PASSWORD, ip: null })).ok).toBe(true);
    expect((await browser.submit(form.action, { ...fields, csrf: form.csrf })).status).toBe(200);
  });

  it('lets exactly one of two concurrent submissions change the password', async () => {
    const user = await newUser();
    const { ticket: link } = (await sdk.tickets.changePassword({ user_id: user.user_id }));
    const browser = new HttpBrowser();
    const form = await openReset(browser, link);
    const submit = (password: string) => browser.submit(form.action, { csrf: form.csrf, ticket: form.ticket, password, confirm: password });
    const results = await Promise.all([submit(NEW_PASSWORD), submit('the other concurrent passphrase')]);
    expect(results.map((r) => r.status).sort()).toEqual([200, 400]);
    const winner = results[0]!.status === 200 ? NEW_PASSWORD : 'the other concurrent passphrase';
    const loser = winner === NEW_PASSWORD ? 'the other concurrent passphrase' : NEW_PASSWORD;
    const check = (password: string) => t.services.users.authenticate({ tenantId, connectionName: REALM, identifier: user.email!, password, ip: null });
    expect((await check(winner)).ok).toBe(true);
    expect((await check(loser)).ok).toBe(false);
    expect(ticketEvents().map((e) => e.type).sort()).toEqual(['fcp', 'scp']);
  });

  it('answers an expired link (test clock) and an unknown one with the same page, logging fcp for each', async () => {
    const user = await newUser();
    // Issued by a clock a day behind: its one hour has long passed for the app.
    const yesterday = testRuntime(new Date(Date.now() - 86_400_000));
    const expired = await ticketsService(t.database, yesterday, t.services.users).issuePasswordChange({ tenantId, userId: user.user_id, ttlSeconds: 3600 });
    const expiredPage = await fetch(ticketUrl(issuer, 'password_change', expired.token));
    const unknownPage = await fetch(ticketUrl(issuer, 'password_change', 'A'.repeat(43)));
    const malformedPage = await fetch(`${issuer}u/reset-password?ticket=%3Cscript%3E`);
    expect([expiredPage.status, unknownPage.status, malformedPage.status]).toEqual([400, 400, 400]);
    const expiredHtml = withoutNonce(await expiredPage.text());
    expect(expiredHtml).toContain('Link not valid');
    expect(withoutNonce(await unknownPage.text())).toBe(expiredHtml);
    expect(withoutNonce(await malformedPage.text())).toBe(expiredHtml);
    expect(ticketEvents().map((e) => [e.type, e.userId, e.details?.ticket_state])).toEqual([
      ['fcp', user.user_id, 'expired'],
      ['fcp', undefined, 'unknown'],
      ['fcp', undefined, 'unknown'],
    ]);
  });

  it('verifies an email on GET: email_verified flips, the browser goes to result_url with Auth0’s parameters, and the link is used up', async () => {
    const user = await newUser();
    expect(user.email_verified).toBe(false);
    const { ticket: link } = (await sdk.tickets.verifyEmail({ user_id: user.user_id!, result_url: RESULT, includeEmailInRedirect: false }));
    expect(link).toMatch(new RegExp(`^${issuer}u/email-verification\\?ticket=[A-Za-z0-9_-]{43}$`));
    const verified = await fetch(link, { redirect: 'manual' });
    expect(verified.status).toBe(302);
    expect(Object.fromEntries(new URL(verified.headers.get('location')!).searchParams)).toEqual({
      from: 'ticket',
      success: 'true',
      code: 'success',
      message: 'Your email was verified. You can continue using the application.',
    });
    expect((await sdk.users.get(user.user_id!)).email_verified).toBe(true);

    const reused = await fetch(link, { redirect: 'manual' });
    expect(reused.status).toBe(400);
    expect(await reused.text()).toContain('Link not valid');
    expect(ticketEvents().map((e) => [e.type, e.userId, e.userName, e.details])).toEqual([
      ['sv', user.user_id, user.email, { ticket: 'email_verification' }],
      ['fv', user.user_id, user.email, { ticket: 'email_verification', error: 'invalid_ticket', ticket_state: 'used' }],
    ]);
  });

  it('shows a page when there is no result_url, and does not verify an address changed after the link was made', async () => {
    const user = await newUser();
    const { ticket: link } = (await sdk.tickets.verifyEmail({ user_id: user.user_id! }));
    const page = await fetch(link);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('Email verified');

    const moved = await newUser();
    const { ticket: stale } = (await sdk.tickets.verifyEmail({ user_id: moved.user_id! }));
    await sdk.users.update(moved.user_id!, { email: email('moved') });
    expect((await fetch(stale)).status).toBe(400);
    expect((await sdk.users.get(moved.user_id!)).email_verified).toBe(false);
    expect(ticketEvents().map((e) => [e.type, e.details?.ticket_state])).toEqual([
      ['sv', undefined],
      ['fv', 'email_changed'],
    ]);
  });
});
