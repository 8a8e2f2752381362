import { ManagementError, type ManagementClient } from 'auth0';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startListeningTestApp, type TestApp } from '../../test/support/app.js';
import { describeEachBackend } from '../../test/support/backends.js';
import { testRuntime } from '../../test/support/clock.js';
import { createTenant } from '../../test/support/fixtures.js';
import { adminSdk } from '../../test/support/management.js';
import { logsStore, type LogEvent, type NewLogEvent } from '../logs/store.js';
import { systemRuntime } from '../storage/runtime.js';

const HOUR = 3_600_000;

/** Six events over two days (2031-01-01 and 2031-01-02), oldest first. */
const SEED: readonly NewLogEvent[] = [
  { type: 's', user_id: 'auth0|alice', user_name: 'alice@example.test', client_id: 'app-1', client_name: 'Orders', connection: 'Username-Password-Authentication', ip: '203.0.113.1' },
  { type: 'f', user_id: 'auth0|bob', client_id: 'app-1', client_name: 'Orders', description: 'Wrong email or password.', ip: '203.0.113.2' },
  { type: 'ss', user_id: 'auth0|carol', client_id: 'app-2', client_name: 'Billing', connection: 'Username-Password-Authentication' },
  { type: 's', user_id: 'auth0|bob', client_id: 'app-2', client_name: 'Billing', connection: 'staff-db', details: { prompts: [{ name: 'login' }] } },
  { type: 'pwd_leak', user_id: 'auth0|dave', client_id: 'app-1', client_name: 'Orders' },
  { type: 's', user_id: 'auth0|alice', client_id: 'app-1', client_name: 'Orders', connection: 'Username-Password-Authentication' },
];
const HOURS_AFTER_START = [0, 1, 2, 24, 25, 26];

describeEachBackend('Management API /api/v2/logs with the official auth0 SDK', (backend) => {
  let t: TestApp;
  let issuer: string;
  let tenantId: string;
  let sdk: ManagementClient;
  let token: string;
  let seeded: LogEvent[];
  let preexisting: number;

  beforeAll(async () => {
    ({ t, issuer, tenantId } = await startListeningTestApp(backend, { TENANT_CACHE_TTL_MS: '200' }));
    ({ sdk, token } = await adminSdk(t, issuer, tenantId));
    preexisting = (await logsStore(t.database.db, tenantId, systemRuntime).list({ offset: 0, limit: 1000 })).length;
    const clock = testRuntime('2031-01-01T00:00:00.000Z');
    const logs = logsStore(t.database.db, tenantId, clock);
    seeded = [];
    for (const [i, event] of SEED.entries()) {
      clock.set(new Date(Date.parse('2031-01-01T00:00:00.000Z') + HOURS_AFTER_START[i]! * HOUR));
      seeded.push(await logs.append(event));
    }
  });
  afterAll(async () => t?.cleanup());

  const get = async (path: string) => {
    const res = await fetch(`${issuer}api/v2${path}`, { headers: { authorization: `Bearer ${token}` } });
    return { status: res.status, body: (await res.json()) as unknown };
  };
  const ids = (body: unknown) => (body as { log_id: string }[]).map((e) => e.log_id);
  const seededIds = () => seeded.map((e) => e.log_id);
  const query = async (q: string) => ids((await get(`/logs?q=${encodeURIComponent(q)}&sort=date:1`)).body);

  it("lists newest first in Auth0's event shape, page by page, with totals", async () => {
    const page = await sdk.logs.list({ per_page: 4, page: 0 });
    expect(page.data.map((e) => e.log_id)).toEqual(seededIds().reverse().slice(0, 4));
    // Auth0 leaves out fields without a value (no nulls).
    expect(page.data[1]).toEqual({ log_id: seeded[4]!.log_id, date: '2031-01-02T01:00:00.000Z', type: 'pwd_leak', user_id: 'auth0|dave', client_id: 'app-1', client_name: 'Orders', details: {} });
    expect(page.data[2]).toMatchObject({ type: 's', connection: 'staff-db', details: { prompts: [{ name: 'login' }] } });

    const second = await get('/logs?per_page=4&page=1&include_totals=true');
    expect(second.body).toMatchObject({ start: 4, limit: 4, total: preexisting + 6 });
    expect(ids((second.body as { logs: unknown }).logs).slice(0, 2)).toEqual(seededIds().reverse().slice(4, 6));

    // The SDK walks every page.
    const all: string[] = [];
    for await (const event of await sdk.logs.list({ per_page: 2 })) all.push(event.log_id!);
    expect(all.slice(0, 6)).toEqual(seededIds().reverse());
    expect(all).toHaveLength(preexisting + 6);
  });

  it('sorts oldest first with sort=date:1, and selects fields', async () => {
    const ascending = ids((await get('/logs?sort=date:1&per_page=100')).body);
    expect(ascending.slice(-6)).toEqual(seededIds());
    const picked = (await get('/logs?fields=log_id,type&per_page=1')).body as Record<string, unknown>[];
    expect(picked).toEqual([{ log_id: seeded[5]!.log_id, type: 's' }]);
    const dropped = (await get('/logs?fields=details,ip&include_fields=false&per_page=1')).body as Record<string, unknown>[];
    expect(dropped[0]).not.toHaveProperty('details');
    expect(dropped[0]).toHaveProperty('log_id');
    expect((await get('/logs?sort=type:1')).status).toBe(400);
  });

  it('pages by checkpoint: from + take, oldest first after the checkpoint, other parameters ignored', async () => {
    const first = await get(`/logs?from=${seeded[1]!.log_id}&take=2&include_totals=true&fields=type`);
    expect(first.status).toBe(200);
    expect(Array.isArray(first.body)).toBe(true);
    expect(ids(first.body)).toEqual([seeded[2]!.log_id, seeded[3]!.log_id]);
    expect((first.body as LogEvent[])[0]).toHaveProperty('client_name', 'Billing');
    const rest = await get(`/logs?from=${seeded[3]!.log_id}&take=100`);
    expect(ids(rest.body)).toEqual([seeded[4]!.log_id, seeded[5]!.log_id]);
    expect((await get(`/logs?from=${seeded[5]!.log_id}&take=10`)).body).toEqual([]);
    expect((await get(`/logs?from=${seeded[0]!.log_id}&take=101`)).status).toBe(400);
    // A checkpoint that names no event of the tenant is refused, not answered with an empty page forever.
    const unknown = await get('/logs?from=no-such-log&take=10');
    expect(unknown.status).toBe(400);
    expect(unknown.body).toMatchObject({ statusCode: 400, errorCode: 'invalid_query_string', message: expect.stringContaining('property from') });
  });

  it("searches with Auth0's Lucene syntax on log fields (q, or the SDK's search)", async () => {
    expect(await query('type:s')).toEqual([seeded[0]!.log_id, seeded[3]!.log_id, seeded[5]!.log_id]);
    expect(await query('type:s AND user_id:"auth0|alice"')).toEqual([seeded[0]!.log_id, seeded[5]!.log_id]);
    expect(await query('type:s AND NOT connection:"Username-Password-Authentication"')).toEqual([seeded[3]!.log_id]);
    expect(await query('date:[2031-01-02 TO *]')).toEqual(seededIds().slice(3));
    expect(await query('date:2031-01-01 AND client_id:app-2')).toEqual([seeded[2]!.log_id]);
    expect(await query('ip:203.0.113.2 OR type:pwd_leak')).toEqual([seeded[1]!.log_id, seeded[4]!.log_id]);
    expect(await query('description:"Wrong email or password."')).toEqual([seeded[1]!.log_id]);
    // A bare term searches client_name, connection and user_name (Auth0's default fields).
    expect(await query('Bill*')).toEqual([seeded[2]!.log_id, seeded[3]!.log_id]);

    const viaSdk = await sdk.logs.list({ search: 'type:ss', include_totals: true });
    expect(viaSdk.data.map((e) => e.log_id)).toEqual([seeded[2]!.log_id]);
    const totals = await get(`/logs?q=${encodeURIComponent('client_id:app-1')}&include_totals=true&per_page=1`);
    expect(totals.body).toMatchObject({ total: 4, length: 1 });

    const broken = await get(`/logs?q=${encodeURIComponent('type:(s')}`);
    expect(broken.status).toBe(400);
    expect(broken.body).toMatchObject({ statusCode: 400, error: 'Bad Request', errorCode: 'invalid_query_string' });
    expect((broken.body as { message: string }).message).toMatch(/^Query validation error: '.+ at position \d+' on property q\.$/);
    const unknownField = await get(`/logs?q=${encodeURIComponent('password:hunter2')}`);
    expect(unknownField.body).toMatchObject({ statusCode: 400, message: `Query validation error: 'unknown field "password" at position 0' on property q.` });
    expect((await get('/logs?q=type:s&search=type:f')).status).toBe(400);
  });

  it('refuses pages past the first 1000 events', async () => {
    const res = await get('/logs?page=20&per_page=50');
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ errorCode: 'invalid_paging' });
    expect((await get('/logs?page=19&per_page=50')).status).toBe(200);
  });

  it('gets one event by id, and answers 404 in Auth0 shape for an unknown or foreign one', async () => {
    expect(await sdk.logs.get(seeded[3]!.log_id)).toMatchObject({ log_id: seeded[3]!.log_id, type: 's', date: '2031-01-02T00:00:00.000Z', connection: 'staff-db' });
    const missing = await get('/logs/90000000000000000nope');
    expect(missing).toEqual({ status: 404, body: { statusCode: 404, error: 'Not Found', message: 'The log does not exist', errorCode: 'inexistent_log' } });

    const other = await createTenant(t.database, 'other-logs');
    const foreign = await logsStore(t.database.db, other.id, systemRuntime).append({ type: 's', user_id: 'auth0|elsewhere' });
    expect((await get(`/logs/${foreign.log_id}`)).status).toBe(404);
    expect(await query('user_id:"auth0|elsewhere"')).toEqual([]);
    expect(ids((await get(`/logs?from=${seeded[5]!.log_id}&take=100`)).body)).toEqual([]);
  });

  it('needs a token, and refuses a malformed id', async () => {
    const res = await fetch(`${issuer}api/v2/logs`);
    expect(res.status).toBe(401);
    const error = await sdk.logs.get('not an id').then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(ManagementError);
    expect((error as ManagementError).statusCode).toBe(400);
  });
});
