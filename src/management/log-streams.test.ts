import { type ManagementClient } from 'auth0';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import pino from 'pino';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startListeningTestApp, type TestApp } from '../../test/support/app.js';
import { describeEachBackend } from '../../test/support/backends.js';
import { createTenant } from '../../test/support/fixtures.js';
import { adminSdk, managementFetch, managementToken, sdkFailure, sdkFor } from '../../test/support/management.js';
import { logsStore } from '../logs/store.js';
import { LogStreamDelivery } from '../logstreams/delivery.js';
import { DEFAULT_LOG_STREAM_SETTINGS } from '../logstreams/settings.js';
import { deliveryStore } from '../logstreams/store.js';
import { systemRuntime } from '../storage/runtime.js';
import { tenantStores } from '../tenants/tenant-stores.js';

const SECRET = 'Bearer s3cr3t-token-value';

describeEachBackend('Management API /api/v2/log-streams', (backend) => {
  let t: TestApp;
  let issuer: string;
  let tenantId: string;
  let sdk: ManagementClient;
  let token: string;

  beforeAll(async () => {
    // Loopback is allowed explicitly (LOG_STREAM_ALLOWED_CIDRS); every other private range stays refused.
    ({ t, issuer, tenantId } = await startListeningTestApp(backend, { LOG_STREAM_ALLOWED_CIDRS: '127.0.0.0/8,::1/128' }));
    ({ sdk, token } = await adminSdk(t, issuer, tenantId));
  });
  afterAll(async () => t?.cleanup());

  const api = managementFetch(() => issuer, () => token);
  const post = (body: unknown) => api('/log-streams', { method: 'POST', body: JSON.stringify(body) });
  const patch = (id: string, body: unknown) => api(`/log-streams/${id}`, { method: 'PATCH', body: JSON.stringify(body) });
  const webhook = (sink: Record<string, unknown> = {}) => ({ name: 'SIEM', type: 'http', sink: { httpEndpoint: 'https://siem.example.com/ingest', ...sink } });
  const stored = async (id: string) => (await deliveryStore(t.database.db, systemRuntime).get(id))!;

  it('creates an http stream in Auth0’s shape with the SDK; the Authorization value is sealed at rest and answered masked', async () => {
    const created = (
      await sdk.logStreams.create({
        name: 'SIEM webhook',
        type: 'http',
        sink: { httpEndpoint: 'https://siem.example.com/ingest', httpAuthorization: SECRET, httpContentFormat: 'JSONARRAY', httpContentType: 'application/json', httpCustomHeaders: [{ header: 'X-Api-Key', value: 'key-123' }] },
        filters: [{ type: 'category', name: 'auth.login.fail' }],
      })
    ) as Record<string, unknown>;
    expect(created).toEqual({
      id: expect.stringMatching(/^lst_[A-Za-z0-9]{16}$/),
      name: 'SIEM webhook',
      type: 'http',
      status: 'active',
      sink: { httpEndpoint: 'https://siem.example.com/ingest', httpAuthorization: '********', httpContentFormat: 'JSONARRAY', httpContentType: 'application/json', httpCustomHeaders: [{ header: 'X-Api-Key', value: '********' }] },
      filters: [{ type: 'category', name: 'auth.login.fail' }],
    });
    const row = await stored(created.id as string);
    const raw = JSON.stringify(row);
    expect(raw).not.toContain('s3cr3t');
    expect(raw).not.toContain('key-123');
    expect(await t.services.logStreams.openSecrets(row)).toEqual({ httpAuthorization: SECRET, httpCustomHeaders: [{ header: 'X-Api-Key', value: 'key-123' }] });

    expect(await sdk.logStreams.get(created.id as string)).toEqual(created);
    expect((await sdk.logStreams.list()).map((s) => (s as { id: string }).id)).toContain(created.id);
  });

  it('defaults: JSONLINES, application/json, every category, a default name; the cursor starts at the tenant’s last event', async () => {
    await logsStore(t.database.db, tenantId, systemRuntime).append({ type: 's' });
    const last = await logsStore(t.database.db, tenantId, systemRuntime).lastSeq();
    const res = await post({ type: 'http', sink: { httpEndpoint: 'http://127.0.0.1:9/hook' } });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { id: string };
    expect(body).toEqual({ id: body.id, name: 'Custom Webhook', type: 'http', status: 'active', sink: { httpEndpoint: 'http://127.0.0.1:9/hook', httpContentType: 'application/json', httpContentFormat: 'JSONLINES' }, filters: [] });
    expect((await stored(body.id)).cursorSeq).toBe(last);
  });

  it('startFrom begins delivery at the first event dated from then', async () => {
    const logs = logsStore(t.database.db, tenantId, systemRuntime);
    const before = await logs.append({ type: 'f' });
    const from = new Date(Date.parse(before.date) + 1).toISOString();
    await new Promise((r) => setTimeout(r, 5));
    await logs.append({ type: 'fp' });
    const seqOfFp = await logs.lastSeq();
    await logs.append({ type: 's' });
    const res = await post({ ...webhook(), startFrom: from });
    const { id } = (await res.json()) as { id: string };
    expect((await stored(id)).cursorSeq).toBe(seqOfFp - 1);
  });

  it('creates a NATS JetStream stream (Portcullis extension) with its token masked', async () => {
    const res = await post({ name: 'bus', type: 'nats', sink: { natsServers: ['nats://127.0.0.1:4222'], natsSubject: 'portcullis.logs', natsStream: 'AUDIT', natsToken: 'nats-secret' } });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { id: string; sink: unknown };
    expect(body.sink).toEqual({ natsServers: ['nats://127.0.0.1:4222'], natsSubject: 'portcullis.logs', natsStream: 'AUDIT', natsToken: '********' });
    expect(JSON.stringify(await stored(body.id))).not.toContain('nats-secret');
  });

  it('PATCH merges the sink, keeps masked secrets, removes them with null, and replaces filters and name', async () => {
    const { id } = (await (await post(webhook({ httpAuthorization: SECRET, httpCustomHeaders: [{ header: 'X-One', value: 'v1' }] }))).json()) as { id: string };
    // Read-modify-write with the answered (masked) sink keeps every secret.
    const current = (await (await api(`/log-streams/${id}`)).json()) as { sink: Record<string, unknown> };
    let res = await patch(id, { name: 'renamed', sink: { ...current.sink, httpEndpoint: 'https://other.example.com/in', httpContentFormat: 'JSONOBJECT' }, filters: [{ type: 'category', name: 'management.success' }] });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ name: 'renamed', sink: { httpEndpoint: 'https://other.example.com/in', httpContentFormat: 'JSONOBJECT', httpAuthorization: '********' }, filters: [{ type: 'category', name: 'management.success' }] });
    expect(await t.services.logStreams.openSecrets(await stored(id))).toEqual({ httpAuthorization: SECRET, httpCustomHeaders: [{ header: 'X-One', value: 'v1' }] });

    res = await patch(id, { sink: { httpAuthorization: null, httpCustomHeaders: [{ header: 'X-One', value: '********' }, { header: 'X-Two', value: 'v2' }] } });
    const answered = (await res.json()) as { sink: Record<string, unknown> };
    expect(answered.sink.httpAuthorization).toBeUndefined();
    expect(await t.services.logStreams.openSecrets(await stored(id))).toEqual({ httpCustomHeaders: [{ header: 'X-One', value: 'v1' }, { header: 'X-Two', value: 'v2' }] });
  });

  it('pauses and re-activates a stream; re-activating a suspended one clears its failure state and keeps its cursor', async () => {
    const { id } = (await (await post(webhook())).json()) as { id: string };
    expect(await (await patch(id, { status: 'paused' })).json()).toMatchObject({ status: 'paused' });
    await t.database.db.updateTable('log_streams').set({ status: 'suspended', failing_since: '2026-01-01T00:00:00.000Z', attempts: 9, retry_at: '2999-01-01T00:00:00.000Z', cursor_seq: 3 }).where('id', '=', id).execute();
    expect(await (await api(`/log-streams/${id}`)).json()).toMatchObject({ status: 'suspended' });
    expect(await (await patch(id, { status: 'active' })).json()).toMatchObject({ status: 'active' });
    expect(await stored(id)).toMatchObject({ status: 'active', failingSince: null, attempts: 0, retryAt: null, cursorSeq: 3 });
  });

  it('deletes a stream (204), then answers 404 for it', async () => {
    const { id } = (await (await post(webhook())).json()) as { id: string };
    expect((await api(`/log-streams/${id}`, { method: 'DELETE' })).status).toBe(204);
    for (const res of [await api(`/log-streams/${id}`), await api(`/log-streams/${id}`, { method: 'DELETE' }), await patch(id, { name: 'x' })]) {
      expect(res.status).toBe(404);
      expect(await res.json()).toEqual({ statusCode: 404, error: 'Not Found', message: 'The log stream does not exist.', errorCode: 'inexistent_log_stream' });
    }
  });

  const invalid: Array<[string, unknown, string]> = [
    ['an unsupported type', { type: 'datadog', sink: {} }, 'type'],
    ['a URL that does not parse', webhook({ httpEndpoint: 'not a url' }), 'sink.httpEndpoint'],
    ['a non-http scheme', webhook({ httpEndpoint: 'ftp://files.example.com/x' }), 'sink.httpEndpoint'],
    ['credentials in the URL', webhook({ httpEndpoint: 'https://user:pw@siem.example.com/' }), 'sink.httpEndpoint'],
    ['no endpoint', { type: 'http', sink: {} }, 'sink.httpEndpoint'],
    ['a private address', webhook({ httpEndpoint: 'http://10.1.2.3/hook' }), 'sink.httpEndpoint'],
    ['a private address (192.168/16)', webhook({ httpEndpoint: 'https://192.168.0.10/' }), 'sink.httpEndpoint'],
    ['the cloud metadata address', webhook({ httpEndpoint: 'http://169.254.169.254/latest/meta-data/' }), 'sink.httpEndpoint'],
    ['the metadata address in decimal', webhook({ httpEndpoint: 'http://2852039166/' }), 'sink.httpEndpoint'],
    ['the metadata address IPv4-mapped', webhook({ httpEndpoint: 'http://[::ffff:169.254.169.254]/' }), 'sink.httpEndpoint'],
    ['the AWS IPv6 metadata address', webhook({ httpEndpoint: 'http://[fd00:ec2::254]/' }), 'sink.httpEndpoint'],
    ['a link-local IPv6 address', webhook({ httpEndpoint: 'http://[fe80::1]/' }), 'sink.httpEndpoint'],
    ['the GCP metadata name', webhook({ httpEndpoint: 'http://metadata.google.internal/' }), 'sink.httpEndpoint'],
    ['the unspecified address', webhook({ httpEndpoint: 'http://0.0.0.0:8080/' }), 'sink.httpEndpoint'],
    ['a multicast address', webhook({ httpEndpoint: 'http://224.0.0.1/' }), 'sink.httpEndpoint'],
    ['the broadcast address', webhook({ httpEndpoint: 'http://255.255.255.255/' }), 'sink.httpEndpoint'],
    ['an unknown content format', webhook({ httpContentFormat: 'XML' }), 'sink.httpContentFormat'],
    ['a malformed content type', webhook({ httpContentType: 'json' }), 'sink.httpContentType'],
    ['an Authorization custom header', webhook({ httpCustomHeaders: [{ header: 'Authorization', value: 'x' }] }), 'sink.httpCustomHeaders.0.header'],
    ['a header value with a line break', webhook({ httpCustomHeaders: [{ header: 'X-A', value: 'a\r\nX-Injected: 1' }] }), 'sink.httpCustomHeaders.0.value'],
    ['a masked header value with nothing stored', webhook({ httpCustomHeaders: [{ header: 'X-A', value: '********' }] }), 'sink.httpCustomHeaders.0.value'],
    ['an unknown sink property', webhook({ url: 'https://x.example.com' }), 'sink'],
    ['an unknown filter category', { ...webhook(), filters: [{ type: 'category', name: 'auth.everything' }] }, 'filters.0.name'],
    ['a filter that is not a category', { ...webhook(), filters: [{ type: 'type', name: 'auth.login.fail' }] }, 'filters.0.type'],
    ['a malformed startFrom', { ...webhook(), startFrom: 'yesterday' }, 'startFrom'],
    ['an unknown property', { ...webhook(), isPriority: true }, ''],
    ['a NATS server with another scheme', { type: 'nats', sink: { natsServers: ['http://127.0.0.1:4222'], natsSubject: 'a.b' } }, 'sink.natsServers.0'],
    ['a private NATS server', { type: 'nats', sink: { natsServers: ['nats://192.168.1.1:4222'], natsSubject: 'a.b' } }, 'sink.natsServers.0'],
    ['a link-local NATS server', { type: 'nats', sink: { natsServers: ['nats://169.254.10.10'], natsSubject: 'a.b' } }, 'sink.natsServers.0'],
    ['a wildcard NATS subject', { type: 'nats', sink: { natsServers: ['nats://127.0.0.1:4222'], natsSubject: 'logs.>' } }, 'sink.natsSubject'],
    ['no NATS subject', { type: 'nats', sink: { natsServers: ['nats://127.0.0.1:4222'] } }, 'sink.natsSubject'],
    ['a NATS password without a user', { type: 'nats', sink: { natsServers: ['nats://127.0.0.1:4222'], natsSubject: 'a', natsPassword: 'p' } }, 'sink.natsUser'],
  ];

  it.each(invalid)('refuses %s with 400 naming the field', async (_what, body, field) => {
    const res = await post(body);
    expect(res.status).toBe(400);
    const error = (await res.json()) as { statusCode: number; errorCode: string; message: string };
    expect(error).toMatchObject({ statusCode: 400, error: 'Bad Request', errorCode: 'invalid_body' });
    expect(error.message).toMatch(/^Payload validation error: '.+'/);
    if (field) expect(error.message).toMatch(new RegExp(` on property ${field.replace(/\./g, '\\.')}\\.$`));
    else expect(error.message).toContain('Additional properties not allowed');
  });

  it('refuses bad PATCHes with 400 naming the field, and leaves the stream as it was', async () => {
    const { id } = (await (await post(webhook())).json()) as { id: string };
    const before = await stored(id);
    const cases: Array<[unknown, RegExp]> = [
      [{ status: 'suspended' }, / on property status\.$/],
      [{ type: 'nats' }, /Additional properties not allowed: type/],
      [{ sink: { httpEndpoint: 'http://169.254.169.254/' } }, / on property sink\.httpEndpoint\.$/],
      [{ sink: { natsSubject: 'x' } }, /Additional properties not allowed: natsSubject' on property sink\.$/],
      [{ filters: [{ type: 'category', name: 'nope' }] }, / on property filters\.0\.name\.$/],
      [{ name: '' }, / on property name\.$/],
    ];
    for (const [body, message] of cases) {
      const res = await patch(id, body);
      expect(res.status).toBe(400);
      expect(((await res.json()) as { message: string }).message).toMatch(message);
    }
    expect(await stored(id)).toEqual(before);
  });

  it('delivers what the event bus and the Management API record, from the stream’s creation on', async () => {
    const records: Array<{ log_id: string; data: Record<string, unknown> }> = [];
    const receiver = createServer((req, res) => {
      let body = '';
      req.on('data', (d: Buffer) => (body += d.toString()));
      req.on('end', () => {
        records.push(...body.trim().split('\n').map((line) => JSON.parse(line) as (typeof records)[number]));
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    await t.events.publish({ tenantId, type: 'fp', userName: 'before@example.test' });
    const delivery = new LogStreamDelivery({ database: t.database, service: t.services.logStreams, settings: { ...DEFAULT_LOG_STREAM_SETTINGS, allowedCidrs: ['127.0.0.0/8'], pollIntervalMs: 20, lingerMs: 0 }, logger: pino({ level: 'silent' }), runtime: systemRuntime }).start();
    try {
      const res = await post({ name: 'bus', type: 'http', sink: { httpEndpoint: `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/bus` }, filters: [{ type: 'category', name: 'auth.login.fail' }, { type: 'category', name: 'management.success' }] });
      const { id } = (await res.json()) as { id: string };
      await t.events.publish({ tenantId, type: 'fp', userName: 'ann@example.test', ip: '203.0.113.5' });
      await t.events.publish({ tenantId, type: 's', userName: 'ann@example.test' });
      await t.events.publish({ tenantId, type: 'fu', userName: 'nobody@example.test' });
      const deadline = Date.now() + 20_000;
      while (records.length < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      // The stream's own creation is audited (sapi) after its cursor was set: it is the first event delivered.
      expect(records.map((r) => [r.data.type, r.data.type === 'sapi' ? r.data.description : r.data.user_name])).toEqual([
        ['sapi', 'Create a log stream'],
        ['fp', 'ann@example.test'],
        ['fu', 'nobody@example.test'],
      ]);
      expect(records[1]).toMatchObject({ log_id: expect.any(String), data: { log_id: records[1]!.log_id, ip: '203.0.113.5' } });
      expect((await stored(id)).cursorSeq).toBeGreaterThan(0);
    } finally {
      await delivery.stop();
      receiver.closeAllConnections();
      await new Promise<void>((resolve) => receiver.close(() => resolve()));
    }
  });

  it('publishes the log-stream routes in the OpenAPI document with their scopes', async () => {
    const doc = (await (await fetch(`${issuer}api/v2/openapi.json`)).json()) as { paths: Record<string, Record<string, { security: unknown }>> };
    expect(Object.keys(doc.paths['/log-streams']!).sort()).toEqual(['get', 'post']);
    expect(Object.keys(doc.paths['/log-streams/{id}']!).sort()).toEqual(['delete', 'get', 'patch']);
    expect(doc.paths['/log-streams/{id}']!.patch!.security).toEqual([{ bearerAuth: ['update:log_streams'] }]);
  });

  it('keeps tenants apart and requires the log_streams scopes', async () => {
    const other = await createTenant(t.database, 'other-streams');
    const foreign = await t.services.logStreams.create(other.id, { type: 'http', sink: { httpEndpoint: 'https://foreign.example.com/' } });
    expect((await api(`/log-streams/${foreign.id}`)).status).toBe(404);
    expect((await patch(foreign.id, { status: 'paused' })).status).toBe(404);
    expect((await api(`/log-streams/${foreign.id}`, { method: 'DELETE' })).status).toBe(404);
    expect(((await (await api('/log-streams')).json()) as Array<{ id: string }>).map((s) => s.id)).not.toContain(foreign.id);
    expect(await t.services.logStreams.get(other.id, foreign.id)).toMatchObject({ status: 'active' });

    const reader = await t.services.clients.create(tenantId, { name: 'Stream reader', appType: 'non_interactive', config: { grant_types: ['client_credentials'] } });
    await tenantStores(t.database.db, tenantId, systemRuntime).clientGrants.insert({ clientId: reader.clientId, audience: `${issuer}api/v2/`, scope: ['read:log_streams'] });
    const readerSdk = sdkFor(issuer, await managementToken(issuer, { clientId: reader.clientId, clientSecret: reader.clientSecret! }));
    expect(Array.isArray(await readerSdk.logStreams.list())).toBe(true);
    const refused = await sdkFailure(readerSdk.logStreams.create({ type: 'http', sink: { httpEndpoint: 'https://x.example.com/' } }));
    expect(refused.body).toEqual({ statusCode: 403, error: 'Forbidden', message: 'Insufficient scope, expected any of: create:log_streams', errorCode: 'insufficient_scope' });
  });
});
