import { Writable } from 'node:stream';
import pino from 'pino';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../../test/support/app.js';
import { describeEachBackend } from '../../test/support/backends.js';
import { DEFAULT_DATABASE_CONNECTION } from '../connections/store.js';
import { ticketsService } from './service.js';

describeEachBackend('ticket pages in the request log', (backend) => {
  let t: TestApp;
  const lines: string[] = [];

  beforeAll(async () => {
    const stream = new Writable({
      write(chunk, _encoding, callback) {
        lines.push(String(chunk));
        callback();
      },
    });
    t = await startTestApp(backend, {}, { logger: pino({ level: 'info' }, stream) });
  });
  afterAll(async () => t?.cleanup());

  it('logs ticket page requests by path only: the one-time token never reaches a log line', async () => {
    const tenantId = (await t.services.tenants.resolve(undefined)).id;
    const user = await t.services.users.signup({ tenantId, connectionName: DEFAULT_DATABASE_CONNECTION, email: 'logged@example.test', password: 'correct horse battery staple' });
    const tickets = ticketsService(t.database, t.services.runtime, t.services.users);
    const reset = await tickets.issuePasswordChange({ tenantId, userId: user.user_id });
    const verify = await tickets.issueEmailVerification({ tenantId, userId: user.user_id });
    const shown = await t.app.inject({ method: 'GET', url: `/u/reset-password?ticket=${reset.token}` });
    expect(shown.statusCode).toBe(200);
    expect((await t.app.inject({ method: 'GET', url: `/u/email-verification?ticket=${verify.token}` })).statusCode).toBe(200);
    expect((await t.app.inject({ method: 'GET', url: '/.well-known/openid-configuration?probe=1' })).statusCode).toBe(200);

    const log = lines.join('');
    for (const token of [reset.token, verify.token]) expect(log).not.toContain(token);
    const pages = lines.map((line) => JSON.parse(line) as Record<string, unknown>).filter((entry) => typeof entry.path === 'string');
    expect(pages.map((entry) => [entry.msg, entry.method, entry.path, entry.statusCode])).toEqual([
      ['request completed', 'GET', '/u/reset-password', 200],
      ['request completed', 'GET', '/u/email-verification', 200],
    ]);
    // Other requests keep Fastify's own lines, with their URL.
    expect(log).toContain('/.well-known/openid-configuration?probe=1');
  });
});
