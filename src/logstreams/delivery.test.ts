import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import pino from 'pino';
import { Registry } from 'prom-client';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { describeEachBackend, migratedDatabase } from '../../test/support/backends.js';
import { createTenant, testBox } from '../../test/support/fixtures.js';
import { insertLogEvents, logsStore } from '../logs/store.js';
import { systemRuntime } from '../storage/runtime.js';
import { LogStreamDelivery } from './delivery.js';
import { createLogStreamMetrics } from './metrics.js';
import { logStreamsService, type LogStreamsService } from './service.js';
import type { LogStreamSettings } from './settings.js';
import { deliveryStore } from './store.js';

const AUTHORIZATION = 'Bearer webhook-secret';

/** Test settings: small batches, quick polls and retries, loopback allowed explicitly. */
const SETTINGS: LogStreamSettings = {
  allowedCidrs: ['127.0.0.0/8', '::1/128'],
  batchSize: 10,
  lingerMs: 20,
  pollIntervalMs: 20,
  requestTimeoutMs: 1000,
  leaseMs: 3000,
  retryBaseMs: 20,
  retryMaxMs: 200,
  suspendAfterMs: 3_600_000,
  maxConcurrent: 32,
};

type Mode = 'ok' | 'status' | 'hang' | 'garbage';

/** A real webhook receiver (node:http) recording what it accepted, request by request. */
class Receiver {
  server: Server | undefined;
  port = 0;
  mode: Mode = 'ok';
  status = 503;
  /** log_ids of each request answered 2xx, in arrival order. */
  readonly accepted: string[][] = [];
  /** Every request that arrived, answered or not. */
  readonly requests: Array<{ path: string; headers: IncomingMessage['headers']; records: Array<{ log_id: string; data: Record<string, unknown> }> }> = [];
  readonly #hanging: ServerResponse[] = [];

  async start(): Promise<this> {
    this.server = createServer((req, res) => this.#handle(req, res));
    await new Promise<void>((resolve) => this.server!.listen(this.port, '127.0.0.1', resolve));
    this.port = (this.server.address() as AddressInfo).port;
    return this;
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    for (const res of this.#hanging.splice(0)) res.destroy();
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  url(path = '/hook'): string {
    return `http://127.0.0.1:${this.port}${path}`;
  }

  get ids(): string[] {
    return this.accepted.flat();
  }

  #handle(req: IncomingMessage, res: ServerResponse): void {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      const parsed: unknown = req.headers['content-type']?.includes('json') && body.trimStart().startsWith('[') ? JSON.parse(body) : body.trim().split('\n').map((line) => JSON.parse(line) as unknown);
      const records = (Array.isArray(parsed) ? parsed : [parsed]) as Array<{ log_id: string; data: Record<string, unknown> }>;
      this.requests.push({ path: req.url ?? '', headers: req.headers, records });
      if (this.mode === 'hang') return void this.#hanging.push(res);
      if (this.mode === 'garbage') return void res.socket?.end('this is not HTTP\r\n\r\n');
      if (this.mode === 'status') return void res.writeHead(this.status).end('{"error":"nope"}');
      this.accepted.push(records.map((r) => r.log_id));
      res.writeHead(200).end('ok');
    });
  }
}

async function waitFor(what: string, condition: () => boolean | Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** The ids in first-seen order (what a receiver dropping duplicates by log_id keeps). */
const deduplicated = (ids: readonly string[]) => [...new Set(ids)];

describeEachBackend('log stream delivery', (backend) => {
  let ctx: Awaited<ReturnType<typeof migratedDatabase>>;
  let tenantId: string;
  let service: LogStreamsService;
  const box = testBox(randomBytes(32));
  const running: LogStreamDelivery[] = [];
  const receivers: Receiver[] = [];

  beforeAll(async () => {
    ctx = await migratedDatabase(backend);
    tenantId = (await createTenant(ctx.database, 'streams', 'streams.example.test', box)).id;
    service = logStreamsService(ctx.database, box, systemRuntime, SETTINGS.allowedCidrs);
  });
  afterEach(async () => {
    await Promise.all(running.splice(0).map((d) => d.stop()));
    await Promise.all(receivers.splice(0).map((r) => r.stop()));
    await ctx.database.db.deleteFrom('log_streams').execute();
  });
  afterAll(async () => ctx?.cleanup());

  const receiver = async () => {
    const r = await new Receiver().start();
    receivers.push(r);
    return r;
  };
  const deliver = (settings: Partial<LogStreamSettings> = {}, extra: { registry?: Registry; service?: LogStreamsService; nodeId?: string } = {}) => {
    const delivery = new LogStreamDelivery({
      database: ctx.database,
      service: extra.service ?? service,
      settings: { ...SETTINGS, ...settings },
      logger: pino({ level: 'silent' }),
      runtime: systemRuntime,
      ...(extra.registry ? { metrics: createLogStreamMetrics(extra.registry) } : {}),
      ...(extra.nodeId ? { nodeId: extra.nodeId } : {}),
    }).start();
    running.push(delivery);
    return delivery;
  };
  /** Appends events (one transaction per call) and returns their log_ids in order. */
  const append = async (count: number, type = 's') => {
    const written = await insertLogEvents(ctx.database.db, systemRuntime, Array.from({ length: count }, (_, i) => ({ tenantId, event: { type, description: `event ${i}` } })));
    return written.map((w) => w.event.log_id);
  };
  const webhook = (url: string, sink: Record<string, unknown> = {}, filters?: Array<{ type: 'category'; name: 'auth.login.fail' }>) =>
    service.create(tenantId, { type: 'http', sink: { httpEndpoint: url, ...sink }, ...(filters ? { filters } : {}) });
  const stored = async (id: string) => (await deliveryStore(ctx.database.db, systemRuntime).get(id))!;

  it('delivers Auth0 log-stream records (log_id + data) with the Authorization and custom headers, filtered by category, in each content format', async () => {
    const r = await receiver();
    const lines = await webhook(r.url('/lines'), { httpAuthorization: AUTHORIZATION, httpCustomHeaders: [{ header: 'X-Tenant-Key', value: 'k1' }] }, [{ type: 'category', name: 'auth.login.fail' }]);
    await webhook(r.url('/array'), { httpContentFormat: 'JSONARRAY' });
    await webhook(r.url('/object'), { httpContentFormat: 'JSONOBJECT', httpContentType: 'application/vnd.siem+json' });
    const logs = logsStore(ctx.database.db, tenantId, systemRuntime);
    const events = [
      await logs.append({ type: 's', user_name: 'ann@example.test', ip: '203.0.113.9' }),
      await logs.append({ type: 'fp', user_name: 'ann@example.test', details: { error: 'wrong password' } }),
      await logs.append({ type: 'sapi', description: 'Create a client' }),
      await logs.append({ type: 'fu', user_name: 'nobody@example.test' }),
    ];
    deliver();
    const of = (path: string) => r.requests.filter((q) => q.path === path);
    await waitFor('every stream', () => of('/array').flatMap((q) => q.records).length === 4 && of('/object').length === 4 && of('/lines').flatMap((q) => q.records).length === 2);

    const failures = of('/lines');
    expect(failures.flatMap((q) => q.records)).toEqual([
      { log_id: events[1]!.log_id, data: { log_id: events[1]!.log_id, date: events[1]!.date, type: 'fp', user_name: 'ann@example.test', details: { error: 'wrong password' } } },
      { log_id: events[3]!.log_id, data: { log_id: events[3]!.log_id, date: events[3]!.date, type: 'fu', user_name: 'nobody@example.test', details: {} } },
    ]);
    expect(failures[0]!.headers).toMatchObject({ authorization: AUTHORIZATION, 'x-tenant-key': 'k1', 'content-type': 'application/json' });
    expect(of('/array').flatMap((q) => q.records.map((rec) => rec.log_id))).toEqual(events.map((e) => e.log_id));
    expect(of('/object').map((q) => q.records.map((rec) => rec.log_id))).toEqual(events.map((e) => [e.log_id]));
    expect(of('/object')[0]!.headers['content-type']).toBe('application/vnd.siem+json');
    expect(of('/array')[0]!.headers.authorization).toBeUndefined();
    // The cursor passes filtered-out events too.
    await waitFor('the cursor', async () => (await stored(lines.id)).cursorSeq === (await logs.lastSeq()));
  });

  it('a receiver stopped for a while, then restarted: every event delivered, in order, none lost', async () => {
    const registry = new Registry();
    const r = await receiver();
    const stream = await webhook(r.url());
    deliver({}, { registry });
    const sent = await append(25);
    await waitFor('the first events', () => r.ids.length >= 25);

    await r.stop();
    sent.push(...(await append(40)));
    await waitFor('failed attempts while the receiver is down', async () => (await stored(stream.id)).attempts >= 3);
    expect(await stored(stream.id)).toMatchObject({ status: 'active', failingSince: expect.any(String), lastError: expect.stringContaining('127.0.0.1') });

    await r.start();
    sent.push(...(await append(35)));
    await waitFor('every event', () => new Set(r.ids).size === sent.length);
    expect(deduplicated(r.ids)).toEqual(sent);
    // Nothing the receiver acknowledged is sent again while it is up (duplicates are at-least-once only).
    expect(r.ids.length).toBe(sent.length);
    await waitFor('the cursor to clear the failure', async () => (await stored(stream.id)).failingSince === null);

    let metrics = await registry.getMetricsAsJSON();
    const value = (name: string, labels: Record<string, string> = {}) =>
      metrics.find((m) => m.name === name)?.values.filter((v) => Object.entries(labels).every(([k, l]) => v.labels[k] === l)).reduce((sum, v) => sum + v.value, 0);
    // The receiver records a batch when it arrives; the worker counts it once the answer is back and its cursor moved.
    await waitFor('the last batch to be counted', async () => {
      metrics = await registry.getMetricsAsJSON();
      return value('portcullis_log_stream_delivered_events_total', { stream: stream.id, tenant: tenantId }) === sent.length;
    });
    expect(value('portcullis_log_stream_delivery_failures_total', { stream: stream.id, reason: 'network' })).toBeGreaterThanOrEqual(3);
    expect(value('portcullis_log_stream_status', { stream: stream.id, status: 'active' })).toBe(1);
  });

  it('sinks answering 4xx, 5xx, garbage or nothing fail on their own: a healthy stream gets every event meanwhile', async () => {
    const registry = new Registry();
    const healthy = await receiver();
    const broken = { status5xx: await receiver(), status4xx: await receiver(), garbage: await receiver(), hang: await receiver() };
    broken.status5xx.mode = 'status';
    broken.status4xx.mode = 'status';
    broken.status4xx.status = 404;
    broken.garbage.mode = 'garbage';
    broken.hang.mode = 'hang';
    const failing = await Promise.all(Object.values(broken).map((r) => webhook(r.url())));
    const good = await webhook(healthy.url());
    deliver({ requestTimeoutMs: 300 }, { registry });
    const sent: string[] = [];
    for (let round = 0; round < 5; round++) sent.push(...(await append(12)));
    await waitFor('the healthy stream', () => healthy.ids.length === sent.length);
    expect(healthy.ids).toEqual(sent);
    expect(await stored(good.id)).toMatchObject({ attempts: 0, failingSince: null });

    await waitFor('every broken sink to have been tried twice', async () => (await Promise.all(failing.map((s) => stored(s.id)))).every((s) => s.attempts >= 2));
    for (const s of failing) expect(await stored(s.id)).toMatchObject({ status: 'active', failingSince: expect.any(String) });
    const reasons = (await registry.getMetricsAsJSON()).find((m) => m.name === 'portcullis_log_stream_delivery_failures_total')!.values.map((v) => v.labels.reason);
    expect(new Set(reasons)).toEqual(new Set(['http_5xx', 'http_4xx', 'network', 'timeout']));
    // None of them moved its cursor: their events are still waiting for them.
    const start = await stored(good.id);
    for (const s of failing) expect((await stored(s.id)).cursorSeq).toBeLessThan(start.cursorSeq);
  });

  it('a stream failing for longer than LOG_STREAM_SUSPEND_AFTER_MS is suspended and stops; PATCH status active resumes from its cursor', async () => {
    const registry = new Registry();
    const r = await receiver();
    r.mode = 'status';
    r.status = 500;
    const stream = await webhook(r.url());
    const sent = await append(15);
    deliver({ suspendAfterMs: 300, retryMaxMs: 50 }, { registry });
    await waitFor('suspension', async () => (await stored(stream.id)).status === 'suspended');
    expect(await service.get(tenantId, stream.id)).toMatchObject({ status: 'suspended' });
    const tried = r.requests.length;
    expect(tried).toBeGreaterThanOrEqual(2);
    // Suspended streams are not claimed again.
    for (let i = 0; i < 5; i++) await running[0]!.tick();
    expect(running[0]!.active).toEqual([]);
    expect(r.requests.length).toBe(tried);
    const status = (await registry.getMetricsAsJSON()).find((m) => m.name === 'portcullis_log_stream_status')!.values.filter((v) => v.labels.stream === stream.id && v.value === 1);
    expect(status.map((v) => v.labels.status)).toEqual(['suspended']);

    r.mode = 'ok';
    sent.push(...(await append(5)));
    await service.update(tenantId, stream.id, { status: 'active' });
    await waitFor('the backlog after resuming', () => r.ids.length === sent.length);
    expect(r.ids).toEqual(sent);
    expect(await stored(stream.id)).toMatchObject({ status: 'active', attempts: 0, failingSince: null });
  });

  it('a paused stream is not delivered; events wait for it', async () => {
    const r = await receiver();
    const stream = await webhook(r.url());
    await service.update(tenantId, stream.id, { status: 'paused' });
    const sent = await append(7);
    const delivery = deliver();
    for (let i = 0; i < 3; i++) await delivery.tick();
    expect(delivery.active).toEqual([]);
    expect(r.requests).toEqual([]);
    await service.update(tenantId, stream.id, { status: 'active' });
    await waitFor('delivery after un-pausing', () => r.ids.length === sent.length);
    expect(r.ids).toEqual(sent);
  });

  it('two workers on one database: each stream is delivered by one of them at a time, every event once, in order', async () => {
    const receiversOf = [await receiver(), await receiver(), await receiver()];
    const streams = await Promise.all(receiversOf.map((r) => webhook(r.url())));
    deliver({}, { nodeId: 'worker-a' });
    deliver({}, { nodeId: 'worker-b' });
    const sent: string[] = [];
    for (let i = 0; i < 6; i++) sent.push(...(await append(9)));
    await waitFor('all three streams', () => receiversOf.every((r) => r.ids.length >= sent.length));
    for (const r of receiversOf) expect(r.ids).toEqual(sent);
    const owners = await Promise.all(streams.map(async (s) => (await stored(s.id)).leaseOwner));
    expect(owners.every((o) => o === 'worker-a' || o === 'worker-b')).toBe(true);
  });

  it('re-checks the target after DNS resolution at delivery time: an address no longer allowed is refused, nothing is sent', async () => {
    const r = await receiver();
    // Saved while loopback was allowed; delivered by a worker whose policy no longer allows it.
    const byName = await webhook(`http://localhost:${r.port}/by-name`);
    const byLiteral = await webhook(r.url('/by-literal'));
    const strict = logStreamsService(ctx.database, box, systemRuntime, []);
    const registry = new Registry();
    deliver({}, { service: strict, registry });
    await append(3);
    await waitFor('refusals', async () => (await stored(byName.id)).attempts >= 1 && (await stored(byLiteral.id)).attempts >= 1);
    expect((await stored(byName.id)).lastError).toMatch(/target localhost \((127\.0\.0\.1|::1)\) is a loopback or private address/);
    expect((await stored(byLiteral.id)).lastError).toMatch(/target 127\.0\.0\.1 is a loopback or private address/);
    expect(r.requests).toEqual([]);
    const reasons = (await registry.getMetricsAsJSON()).find((m) => m.name === 'portcullis_log_stream_delivery_failures_total')!.values.map((v) => v.labels.reason);
    expect(new Set(reasons)).toEqual(new Set(['refused']));
  });

  it('a PATCHed sink takes effect on the running stream, from its cursor', async () => {
    const first = await receiver();
    const second = await receiver();
    const stream = await webhook(first.url());
    deliver();
    const before = await append(5);
    await waitFor('the first receiver', () => first.ids.length === 5);
    await service.update(tenantId, stream.id, { sink: { httpEndpoint: second.url(), httpAuthorization: AUTHORIZATION } });
    const after = await append(6);
    await waitFor('the second receiver', () => second.ids.length === 6);
    expect(first.ids).toEqual(before);
    expect(second.ids).toEqual(after);
    expect(second.requests.at(-1)!.headers.authorization).toBe(AUTHORIZATION);
  });
});
