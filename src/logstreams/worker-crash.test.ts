import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeEachBackend, migratedDatabase } from '../../test/support/backends.js';
import { MASTER_KEY, spawnServer, waitForStatus, type ServerProcess } from '../../test/support/cli.js';
import { createTenant, testBox } from '../../test/support/fixtures.js';
import { insertLogEvents } from '../logs/store.js';
import { systemRuntime } from '../storage/runtime.js';
import { logStreamsService } from './service.js';
import { deliveryStore } from './store.js';

const BATCH = 10;

async function waitFor(what: string, condition: () => boolean | Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/**
 * A real worker node (`portcullis start --role worker`) is SIGKILLed while
 * its webhook request is in flight (the receiver has the batch but has not
 * answered); a second worker node takes the stream over once the dead one's
 * lease expires and delivers from the stream's cursor.
 */
describeEachBackend('log stream delivery survives a worker killed mid-batch', (backend) => {
  let ctx: Awaited<ReturnType<typeof migratedDatabase>>;
  const workers: ServerProcess[] = [];
  const received: string[][] = [];
  let held: ServerResponse | undefined;
  let holdBatch = 2;
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      const ids = body.trim().split('\n').map((line) => (JSON.parse(line) as { log_id: string }).log_id);
      received.push(ids);
      if (received.length === holdBatch) return void (held = res);
      res.writeHead(200).end();
    });
  });

  beforeAll(async () => {
    ctx = await migratedDatabase(backend);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  });
  afterAll(async () => {
    await Promise.all(workers.map((w) => w.stop('SIGKILL')));
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await ctx?.cleanup();
  });

  const worker = async () => {
    const env = {
      DATABASE_URL: ctx.testDb.url,
      LOG_LEVEL: 'warn',
      LOG_STREAM_ALLOWED_CIDRS: '127.0.0.0/8',
      LOG_STREAM_BATCH_SIZE: String(BATCH),
      LOG_STREAM_LINGER_MS: '0',
      LOG_STREAM_POLL_INTERVAL_MS: '20',
      LOG_STREAM_LEASE_MS: '2000',
      LOG_STREAM_RETRY_BASE_MS: '20',
      LOG_STREAM_RETRY_MAX_MS: '100',
    };
    const process = await spawnServer(['--role', 'worker'], env);
    workers.push(process);
    await waitForStatus(`${process.base}/healthz`, 200, 90_000);
    return process;
  };

  it('delivers every event, in order; only the batch in flight is sent twice', { timeout: 180_000 }, async () => {
    // The worker process opens secrets with MASTER_KEY: the stream is sealed under the same key.
    const box = testBox(Buffer.from(MASTER_KEY, 'hex'));
    const tenantId = (await createTenant(ctx.database, 'crash', 'crash.example.test', box)).id;
    const service = logStreamsService(ctx.database, box, systemRuntime, ['127.0.0.0/8']);
    const stream = await service.create(tenantId, { type: 'http', sink: { httpEndpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook` } });
    const written = await insertLogEvents(ctx.database.db, systemRuntime, Array.from({ length: 6 * BATCH }, (_, i) => ({ tenantId, event: { type: 's', description: `event ${i}` } })));
    const sent = written.map((w) => w.event.log_id);

    const first = await worker();
    await waitFor('the batch in flight', () => held !== undefined);
    expect(await first.stop('SIGKILL')).toBeNull();
    held?.destroy();
    holdBatch = 0;
    const inFlight = new Set(received[1]);
    const row = (await deliveryStore(ctx.database.db, systemRuntime).get(stream.id))!;
    expect(row.cursorSeq).toBe(written[BATCH - 1]!.seq);
    expect(row.leaseOwner).not.toBeNull();

    const second = await worker();
    await waitFor('every event', () => new Set(received.flat()).size === sent.length);
    const all = received.flat();
    expect([...new Set(all)]).toEqual(sent);
    const duplicates = all.filter((id, i) => all.indexOf(id) !== i);
    expect(duplicates.every((id) => inFlight.has(id))).toBe(true);
    expect(duplicates.length).toBeLessThanOrEqual(BATCH);

    // The second node reports the stream on its own /metrics (the app's registry).
    await waitFor('the cursor', async () => (await deliveryStore(ctx.database.db, systemRuntime).get(stream.id))!.cursorSeq === written.at(-1)!.seq);
    const metrics = await (await fetch(`${second.base}/metrics`)).text();
    expect(metrics).toMatch(new RegExp(`portcullis_log_stream_delivered_events_total\\{tenant="${tenantId}",stream="${stream.id}"\\} ${sent.length - BATCH}`));
    expect(metrics).toContain(`portcullis_log_stream_status{tenant="${tenantId}",stream="${stream.id}",status="active"} 1`);
    expect(await second.stop('SIGTERM')).toBe(0);
    // A worker that stops gracefully gives its lease up.
    expect((await deliveryStore(ctx.database.db, systemRuntime).get(stream.id))!.leaseOwner).toBeNull();
  });
});
