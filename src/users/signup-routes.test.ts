import { afterAll, beforeAll, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../../test/support/app.js';
import { describeEachBackend } from '../../test/support/backends.js';

describeEachBackend('POST /dbconnections/signup', (backend) => {
  let t: TestApp;
  let clientId: string;
  beforeAll(async () => {
    t = await startTestApp(backend);
    const tenant = await t.services.tenants.resolve(undefined);
    clientId = (await t.services.clients.create(tenant.id, { name: 'SPA', appType: 'spa', config: { callbacks: ['https://spa.example/cb'] } })).clientId;
  });
  afterAll(async () => t?.cleanup());

  const signup = (payload: Record<string, unknown>) => t.app.inject({ method: 'POST', url: '/dbconnections/signup', payload });
  const base = () => ({ client_id: clientId, connection: 'Username-Password-Authentication', password: 'a long enough passphrase' });

  it('creates a user and answers in Auth0\'s shape', async () => {
    const res = await signup({ ...base(), email: 'New.User@Example.test', user_metadata: { plan: 'free' } });
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body).toEqual({ _id: expect.stringMatching(/^[0-9a-f]{24}$/), email: 'New.User@Example.test', email_verified: false });
    const tenant = await t.services.tenants.resolve(undefined);
    const result = await t.services.users.authenticate({ tenantId: tenant.id, connectionName: 'Username-Password-Authentication', identifier: 'new.user@example.test', password: 'a long enough passphrase', ip: '127.0.0.1' });
    expect(result.ok && result.user.user_id).toBe(`auth0|${body._id}`);
  });

  it('refuses with Auth0 error shapes', async () => {
    const again = await signup({ ...base(), email: 'new.user@example.test' });
    expect(again.statusCode).toBe(400);
    expect(again.json()).toEqual({ name: 'BadRequestError', code: 'user_exists', description: 'The user already exists.', statusCode: 400 });

    const weak = await signup({ ...base(), email: 'weak@example.test', password: 'short' });
    expect(weak.statusCode).toBe(400);
    expect(weak.json()).toMatchObject({ name: 'PasswordStrengthError', code: 'password_too_short', statusCode: 400 });

    const common = await signup({ ...base(), email: 'common@example.test', password: 'password1234' });
    expect(common.json()).toMatchObject({ name: 'PasswordDictionaryError', code: 'password_common' });

    const unknownClient = await signup({ ...base(), client_id: 'nope', email: 'x@example.test' });
    expect(unknownClient.json()).toMatchObject({ code: 'invalid_client', statusCode: 400 });

    const missing = await signup({ client_id: clientId, email: 'y@example.test' });
    expect(missing.json()).toMatchObject({ code: 'invalid_signup', statusCode: 400 });

    const badConnection = await signup({ ...base(), connection: 'Nope', email: 'z@example.test' });
    expect(badConnection.json()).toMatchObject({ code: 'connection_not_found', statusCode: 400 });
  });
});
