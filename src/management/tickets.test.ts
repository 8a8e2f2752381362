import type { ManagementClient } from 'auth0';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startListeningTestApp, type TestApp } from '../../test/support/app.js';
import { describeEachBackend } from '../../test/support/backends.js';
import { adminSdk, managementFetch, managementToken, sdkFailure } from '../../test/support/management.js';
import { DEFAULT_DATABASE_CONNECTION } from '../connections/store.js';
import { systemRuntime } from '../storage/runtime.js';
import { tenantStores, type TenantStores } from '../tenants/tenant-stores.js';
import { DEFAULT_TICKET_TTL_SECONDS, hashTicketToken } from '../tickets/service.js';

const PASSWORD = 'correct horse battery staple';
const REALM = DEFAULT_DATABASE_CONNECTION;

describeEachBackend('Management API /api/v2/tickets', (backend) => {
  let t: TestApp;
  let issuer: string;
  let tenantId: string;
  let sdk: ManagementClient;
  let token: string;
  let stores: TenantStores;
  let userId: string;
  let userEmail: string;

  beforeAll(async () => {
    ({ t, issuer, tenantId } = await startListeningTestApp(backend));
    ({ sdk, token } = await adminSdk(t, issuer, tenantId));
    stores = tenantStores(t.database.db, tenantId, systemRuntime);
    const user = await sdk.users.create({ connection: REALM, email: 'Jane.Doe@example.test', password: PASSWORD });
    userId = user.user_id!;
    userEmail = user.email!;
  });
  afterAll(async () => t?.cleanup());

  const api = managementFetch(() => issuer, () => token);
  const post = async (path: string, body: unknown, bearer?: string) => {
    const res = await api(path, { method: 'POST', body: JSON.stringify(body), ...(bearer ? { token: bearer } : {}) });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };
  const tokenOf = (link: string) => new URL(link).searchParams.get('ticket')!;
  const stored = (link: string) => t.database.db.selectFrom('user_tickets').selectAll().where('tenant_id', '=', tenantId).where('token_hash', '=', hashTicketToken(tokenOf(link))).executeTakeFirstOrThrow();
  const lifetime = (row: { created_at: string; expires_at: string }) => (Date.parse(row.expires_at) - Date.parse(row.created_at)) / 1000;

  it('creates both tickets with the official SDK: 201 and Auth0’s { ticket } naming our pages', async () => {
    const reset = await post('/tickets/password-change', { user_id: userId });
    expect(reset.status).toBe(201);
    expect(Object.keys(reset.body)).toEqual(['ticket']);
    expect(reset.body.ticket).toMatch(new RegExp(`^${issuer}u/reset-password\\?ticket=[A-Za-z0-9_-]{43}$`));

    const viaSdk = await sdk.tickets.changePassword({ user_id: userId, result_url: 'https://app.example.test/done', ttl_sec: 600, mark_email_as_verified: true, includeEmailInRedirect: false });
    const row = await stored(viaSdk.ticket);
    expect(row).toMatchObject({ kind: 'password_change', user_id: userId, email: 'jane.doe@example.test', result_url: 'https://app.example.test/done' });
    expect(lifetime(row)).toBe(600);

    const verify = await sdk.tickets.verifyEmail({ user_id: userId, result_url: 'http://localhost:3000/verified' });
    expect(verify.ticket).toMatch(new RegExp(`^${issuer}u/email-verification\\?ticket=[A-Za-z0-9_-]{43}$`));
    expect(await stored(verify.ticket)).toMatchObject({ kind: 'email_verification', user_id: userId });
    // Two tickets never share a token.
    expect(new Set([reset.body.ticket, viaSdk.ticket, verify.ticket].map((l) => tokenOf(l as string))).size).toBe(3);
  });

  it('names the user by connection_id and email (any case), and applies Auth0’s default lifetime for an absent or zero ttl_sec', async () => {
    const connection = await stores.connections.findByName(REALM);
    const byEmail = await sdk.tickets.changePassword({ connection_id: connection!.id, email: userEmail.toUpperCase() });
    expect((await stored(byEmail.ticket)).user_id).toBe(userId);
    expect(lifetime(await stored(byEmail.ticket))).toBe(DEFAULT_TICKET_TTL_SECONDS);
    const zero = await sdk.tickets.verifyEmail({ user_id: userId, ttl_sec: 0 });
    expect(lifetime(await stored(zero.ticket))).toBe(432_000);
    const identity = await sdk.tickets.verifyEmail({ user_id: userId, identity: { user_id: userId.split('|')[1]!, provider: 'auth0' } });
    expect((await stored(identity.ticket)).user_id).toBe(userId);
  });

  it('refuses malformed bodies with 400 naming the field', async () => {
    const invalid = (message: string) => ({ status: 400, body: { statusCode: 400, error: 'Bad Request', message, errorCode: 'invalid_body' } });
    expect(await post('/tickets/password-change', {})).toEqual(invalid("Payload validation error: 'user_id, or connection_id and email, are required' on property connection_id."));
    expect(await post('/tickets/password-change', { connection_id: 'con_x' })).toEqual(invalid("Payload validation error: 'user_id, or connection_id and email, are required' on property email."));
    expect(await post('/tickets/password-change', { user_id: userId, email: userEmail })).toEqual(invalid("Payload validation error: 'user_id cannot be sent with connection_id or email' on property user_id."));
    for (const [url, problem] of [
      ['http://app.example.test/done', 'must be https (http only for localhost)'],
      ['javascript:alert(1)', 'must be https (http only for localhost)'],
      ['https://*.example.test/', 'must not contain a wildcard'],
      ['https://app.example.test/#frag', 'must not contain a fragment'],
      ['/relative', 'is not an absolute URL'],
    ]) {
      expect(await post('/tickets/password-change', { user_id: userId, result_url: url })).toEqual(invalid(`Payload validation error: 'result_url ${problem}' on property result_url.`));
    }
    for (const ttl of [-1, 1.5, 2_592_001, '60']) {
      const answer = await post('/tickets/email-verification', { user_id: userId, ttl_sec: ttl });
      expect(answer.status).toBe(400);
      expect(answer.body.message).toMatch(/on property ttl_sec\.$/);
    }
    expect(await post('/tickets/email-verification', { user_id: userId, new_password: 'x' })).toEqual(invalid("Payload validation error: 'Additional properties not allowed: new_password'."));
    expect(await post('/tickets/email-verification', { user_id: userId, client_id: 'abc', result_url: 'https://app.example.test/' })).toEqual(
      invalid("Payload validation error: 'result_url cannot be sent with client_id' on property result_url."),
    );
    expect((await post('/tickets/email-verification', {})).body.message).toMatch(/on property user_id\.$/);
    expect(await post('/tickets/email-verification', { user_id: userId, identity: { user_id: 'someone-else', provider: 'auth0' } })).toEqual(invalid('The identity does not belong to the user.'));
    const garbage = await api('/tickets/password-change', { method: 'POST', body: '{"user_id":' });
    expect(garbage.status).toBe(400);
  });

  it('answers 404 for an unknown user, connection or client, and 400 for a user without a password', async () => {
    const missingUser = await sdkFailure(sdk.tickets.changePassword({ user_id: 'auth0|nobody' }));
    expect(missingUser.statusCode).toBe(404);
    expect(missingUser.body).toEqual({ statusCode: 404, error: 'Not Found', message: 'The user does not exist.', errorCode: 'inexistent_user' });
    expect((await post('/tickets/email-verification', { user_id: 'auth0|nobody' })).body).toMatchObject({ statusCode: 404, errorCode: 'inexistent_user' });
    const connection = await stores.connections.findByName(REALM);
    expect((await post('/tickets/password-change', { connection_id: connection!.id, email: 'nobody@example.test' })).body).toMatchObject({ statusCode: 404, errorCode: 'inexistent_user' });
    expect((await post('/tickets/password-change', { connection_id: 'con_nope', email: userEmail })).body).toMatchObject({ statusCode: 404, errorCode: 'inexistent_connection' });
    expect((await post('/tickets/password-change', { user_id: userId, client_id: 'no-such-client' })).body).toEqual({ statusCode: 404, error: 'Not Found', message: 'The client does not exist', errorCode: 'inexistent_client' });

    const social = await stores.connections.insert({ name: 'social-ish', strategy: 'google-oauth2' });
    const federated = (await stores.users.insert({ connectionId: social.id, provider: 'google-oauth2', email: 'fed@example.test' }))!;
    expect((await post('/tickets/password-change', { user_id: federated.user_id })).body).toMatchObject({ statusCode: 400, errorCode: 'operation_not_supported' });
  });

  it('requires create:user_tickets, and the audit trail never holds the ticket', async () => {
    const client = await t.services.clients.create(tenantId, { name: 'Reader', appType: 'non_interactive', config: { grant_types: ['client_credentials'] } });
    await stores.clientGrants.insert({ clientId: client.clientId, audience: `${issuer}api/v2/`, scope: ['read:users'] });
    const reader = await managementToken(issuer, { clientId: client.clientId, clientSecret: client.clientSecret! });
    expect(await post('/tickets/password-change', { user_id: userId }, reader)).toMatchObject({ status: 403, body: { statusCode: 403, errorCode: 'insufficient_scope' } });

    const { ticket } = await sdk.tickets.changePassword({ user_id: userId });
    const audit = await t.database.db.selectFrom('log_events').selectAll().where('tenant_id', '=', tenantId).execute();
    expect(audit.some((e) => e.type === 'sapi' && e.description === 'Create a password change ticket')).toBe(true);
    expect(JSON.stringify(audit)).not.toContain(tokenOf(ticket));
  });

  it('is described in the OpenAPI document', async () => {
    const document = (await (await fetch(`${issuer}api/v2/openapi.json`)).json()) as { paths: Record<string, Record<string, unknown>> };
    expect(Object.keys(document.paths['/tickets/password-change'] ?? {})).toEqual(['post']);
    expect(Object.keys(document.paths['/tickets/email-verification'] ?? {})).toEqual(['post']);
  });
});
