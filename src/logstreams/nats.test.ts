import { randomBytes } from 'node:crypto';
import { connect, type JetStreamManager, type NatsConnection } from 'nats';
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

const NATS_URL = process.env.NATS_URL_TEST ?? 'nats://127.0.0.1:4222';

const SETTINGS: LogStreamSettings = {
  allowedCidrs: ['127.0.0.0/8', '::1/128'],
  batchSize: 25,
  lingerMs: 20,
  pollIntervalMs: 20,
  requestTimeoutMs: 2000,
  leaseMs: 6000,
  retryBaseMs: 20,
  retryMaxMs: 200,
  suspendAfterMs: 3_600_000,
  maxConcurrent: 8,
};

async function waitFor(what: string, condition: () => boolean | Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

describeEachBackend('log stream delivery to NATS JetStream (a real server)', (backend) => {
  let ctx: Awaited<ReturnType<typeof migratedDatabase>>;
  let tenantId: string;
  let service: LogStreamsService;
  let nc: NatsConnection;
  let jsm: JetStreamManager;
  const box = testBox(randomBytes(32));
  const created: string[] = [];
  const running: LogStreamDelivery[] = [];

  beforeAll(async () => {
    ctx = await migratedDatabase(backend);
    tenantId = (await createTenant(ctx.database, 'nats-streams', 'nats-streams.example.test', box)).id;
    service = logStreamsService(ctx.database, box, systemRuntime, SETTINGS.allowedCidrs);
    nc = await connect({ servers: NATS_URL.replace(/^nats:\/\//, '') });
    jsm = await nc.jetstreamManager();
  });
  afterEach(async () => {
    await Promise.all(running.splice(0).map((d) => d.stop()));
    for (const name of created.splice(0)) await jsm.streams.delete(name).catch(() => undefined);
    await ctx.database.db.deleteFrom('log_streams').execute();
  });
  afterAll(async () => {
    await nc?.close();
    await ctx?.cleanup();
  });

  /** A JetStream stream and subject of this test's own, deleted after it. */
  async function jetStream() {
    const suffix = randomBytes(6).toString('hex');
    const name = `PORTCULLIS_TEST_${suffix}`;
    const subject = `portcullis.test.${suffix}.logs`;
    await jsm.streams.add({ name, subjects: [subject] });
    created.push(name);
    return { name, subject };
  }
  const deliver = (registry?: Registry) => {
    const delivery = new LogStreamDelivery({ database: ctx.database, service, settings: SETTINGS, logger: pino({ level: 'silent' }), runtime: systemRuntime, ...(registry ? { metrics: createLogStreamMetrics(registry) } : {}) }).start();
    running.push(delivery);
    return delivery;
  };
  const append = async (count: number) =>
    (await insertLogEvents(ctx.database.db, systemRuntime, Array.from({ length: count }, (_, i) => ({ tenantId, event: { type: i % 2 ? 'f' : 's', user_name: `user${i}@example.test` } })))).map((w) => w.event.log_id);
  const messages = async (name: string) => {
    const info = await jsm.streams.info(name);
    const out: Array<{ msgId: string | undefined; record: { log_id: string; data: Record<string, unknown> } }> = [];
    for (let seq = info.state.first_seq; seq <= info.state.last_seq && info.state.messages > 0; seq++) {
      const msg = await jsm.streams.getMessage(name, { seq });
      out.push({ msgId: msg.header?.get('Nats-Msg-Id'), record: JSON.parse(new TextDecoder().decode(msg.data)) as { log_id: string; data: Record<string, unknown> } });
    }
    return out;
  };
  const stored = async (id: string) => (await deliveryStore(ctx.database.db, systemRuntime).get(id))!;

  it('publishes every event in order with msgID = log_id, awaiting each acknowledgement', async () => {
    const { name, subject } = await jetStream();
    const stream = await service.create(tenantId, { type: 'nats', sink: { natsServers: [NATS_URL], natsSubject: subject, natsStream: name } });
    const registry = new Registry();
    deliver(registry);
    const sent = [...(await append(40)), ...(await append(30))];
    await waitFor('every event in the JetStream stream', async () => (await jsm.streams.info(name)).state.messages >= sent.length);
    const got = await messages(name);
    expect(got.map((m) => m.record.log_id)).toEqual(sent);
    expect(got.every((m) => m.msgId === m.record.log_id && m.record.data.log_id === m.record.log_id)).toBe(true);
    expect(got[1]!.record.data).toMatchObject({ type: 'f', user_name: 'user1@example.test' });
    const last = await logsStore(ctx.database.db, tenantId, systemRuntime).lastSeq();
    await waitFor('the cursor', async () => (await stored(stream.id)).cursorSeq === last);
    const delivered = (await registry.getMetricsAsJSON()).find((m) => m.name === 'portcullis_log_stream_delivered_events_total')!.values.find((v) => v.labels.stream === stream.id);
    expect(delivered?.value).toBe(sent.length);
  });

  it('a redelivered batch (at least once) is dropped by JetStream as a duplicate', async () => {
    const { name, subject } = await jetStream();
    const stream = await service.create(tenantId, { type: 'nats', sink: { natsServers: [NATS_URL], natsSubject: subject } });
    const start = (await stored(stream.id)).cursorSeq;
    const sent = await append(20);
    const delivery = deliver();
    await waitFor('the first delivery', async () => (await jsm.streams.info(name)).state.messages === sent.length);
    await waitFor('the cursor', async () => (await stored(stream.id)).cursorSeq === start + sent.length);
    await delivery.stop();
    // As a worker that died before recording its cursor would: the same events again.
    await ctx.database.db.updateTable('log_streams').set({ cursor_seq: start }).where('id', '=', stream.id).execute();
    deliver();
    await waitFor('the redelivery', async () => (await stored(stream.id)).cursorSeq === start + sent.length);
    expect((await jsm.streams.info(name)).state.messages).toBe(sent.length);
    expect((await messages(name)).map((m) => m.record.log_id)).toEqual(sent);
  });

  it('an unreachable server or a subject no stream captures fails the stream alone, with a reason', async () => {
    const { subject } = await jetStream();
    const registry = new Registry();
    const unreachable = await service.create(tenantId, { type: 'nats', sink: { natsServers: ['nats://127.0.0.1:1'], natsSubject: subject } });
    const wrongStream = await service.create(tenantId, { type: 'nats', sink: { natsServers: [NATS_URL], natsSubject: subject, natsStream: 'NOT_THIS_ONE' } });
    const noStream = await service.create(tenantId, { type: 'nats', sink: { natsServers: [NATS_URL], natsSubject: `nobody.listens.${randomBytes(4).toString('hex')}` } });
    deliver(registry);
    await append(3);
    await waitFor('failures', async () => (await Promise.all([unreachable, wrongStream, noStream].map((s) => stored(s.id)))).every((s) => s.attempts >= 1));
    const reasons = new Map((await registry.getMetricsAsJSON()).find((m) => m.name === 'portcullis_log_stream_delivery_failures_total')!.values.map((v) => [v.labels.stream, v.labels.reason]));
    expect(reasons.get(unreachable.id)).toBe('network');
    expect(reasons.get(wrongStream.id)).toBe('nats');
    expect(reasons.get(noStream.id)).toBe('nats');
  });
});
