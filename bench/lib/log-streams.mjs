// The bench's `streams` section (issue 5): log-stream delivery by a worker
// node to a local webhook.
//
// For each backend (BENCH_STREAMS_BACKENDS: sqlite, postgres when it
// answers), on a fresh database: the bench process (load generator core)
// migrates it, creates the default tenant and one `http` log stream
// (JSONLINES, LOG_STREAM_ALLOWED_CIDRS=127.0.0.1/32) to a webhook receiver
// it runs itself (node:http: it parses every record, keeps the first receipt
// of each log_id and answers 200). A worker node
// (`portcullis start --role worker`, pinned to the server core, product
// defaults unless BENCH_STREAMS_BATCH / BENCH_STREAMS_LINGER_MS are set)
// then delivers:
// - backlog: BENCH_STREAMS_EVENTS events written while the stream is paused,
//   then the stream is activated; delivered events per second = events /
//   (activation → last event received), with the worker's CPU time per event;
// - load: the bench writes events at BENCH_STREAMS_RATE per second (every
//   20 ms a transaction of rate/50 events, the log writer's own batching
//   path, insertLogEvents from dist/) for BENCH_STREAMS_SECONDS while the
//   worker delivers; the lag of an event is its receipt time minus its
//   `date` (same clock), over every event written in the window, after the
//   backlog the window left is drained (at most 60 s).
// Goals (issue 5): ≥ 5,000 events/s to a local webhook; lag p99 ≤ 2 s under
// that load.
import { createServer } from 'node:http';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { pathToFileURL } from 'node:url';
import { checkServer, createDatabase, dropDatabase } from './postgres.mjs';
import { freePort, makeTempDir, removeTempDir } from './processes.mjs';

const DRAIN_DEADLINE_MS = 60_000;
const WRITE_INTERVAL_MS = 20;

function intEnv(name, fallback, min, max) {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw.replace(/_/g, ''));
  if (!Number.isInteger(value) || value < min || value > max) throw new Error(`${name} must be an integer from ${min} to ${max} (got "${raw}")`);
  return value;
}

export function streamsSettings() {
  const backends = (process.env.BENCH_STREAMS_BACKENDS || 'sqlite,postgres').split(',').map((b) => b.trim()).filter(Boolean);
  for (const b of backends) if (!['sqlite', 'postgres'].includes(b)) throw new Error(`BENCH_STREAMS_BACKENDS: "${b}" is not sqlite or postgres`);
  return {
    backends,
    events: intEnv('BENCH_STREAMS_EVENTS', 100_000, 1, 10_000_000),
    rate: intEnv('BENCH_STREAMS_RATE', 5000, 1, 1_000_000),
    seconds: intEnv('BENCH_STREAMS_SECONDS', 20, 1, 3600),
    batch: process.env.BENCH_STREAMS_BATCH ? intEnv('BENCH_STREAMS_BATCH', 200, 1, 1000) : undefined,
    lingerMs: process.env.BENCH_STREAMS_LINGER_MS ? intEnv('BENCH_STREAMS_LINGER_MS', 200, 0, 60_000) : undefined,
  };
}

/** The local webhook: first receipt of each log_id, with its lag. */
function startReceiver() {
  const seen = new Map();
  let requests = 0;
  let bytes = 0;
  let waiter;
  const server = createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const at = Date.now();
      const body = Buffer.concat(chunks).toString('utf8');
      requests++;
      bytes += body.length;
      for (const line of body.split('\n')) {
        if (line === '') continue;
        const record = JSON.parse(line);
        if (!seen.has(record.log_id)) seen.set(record.log_id, { at, lagMs: at - Date.parse(record.data.date) });
      }
      res.writeHead(200).end();
      if (waiter && seen.size >= waiter.count) waiter.resolve();
    });
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () =>
      resolve({
        port: server.address().port,
        seen,
        stats: () => ({ requests, bytes, unique: seen.size }),
        /** Resolves once `count` distinct events arrived, or after `ms` (then false). */
        async waitFor(count, ms) {
          if (seen.size >= count) return true;
          const reached = new Promise((r) => (waiter = { count, resolve: () => r(true) }));
          // An unreferenced timer: a finished bench must not wait for it.
          const result = await Promise.race([reached, sleep(ms, undefined, { ref: false }).then(() => false)]);
          waiter = undefined;
          return result;
        },
        close: () => new Promise((r) => {
          server.closeAllConnections();
          server.close(() => r());
        }),
      }),
    );
  });
}

function percentile(sorted, p) {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

async function dist(root) {
  const load = (path) => import(pathToFileURL(join(root, 'dist', path)).href);
  const [{ loadConfig }, { openStorage }, { createServices }, { insertLogEvents }, pino] = await Promise.all([
    load('config/config.js'),
    load('server.js'),
    load('services.js'),
    load('logs/store.js'),
    import('pino'),
  ]);
  return { loadConfig, openStorage, createServices, insertLogEvents, pino: pino.default };
}

/** Writes `count` events for `tenantId` in transactions of at most 1,000. */
async function writeBacklog(d, database, runtime, tenantId, count) {
  for (let done = 0; done < count; done += 1000) {
    const n = Math.min(1000, count - done);
    await d.insertLogEvents(database.db, runtime, Array.from({ length: n }, (_, i) => ({ tenantId, event: { type: i % 3 ? 's' : 'f', ip: '203.0.113.7', user_name: `user${done + i}@example.test`, client_id: 'bench-client', description: 'bench event' } })));
  }
}

/** Writes at `rate` events per second for `seconds`; returns the log_ids written and the rate achieved. */
async function writeAtRate(d, database, runtime, tenantId, rate, seconds) {
  const ids = [];
  const perTick = rate * (WRITE_INTERVAL_MS / 1000);
  const started = performance.now();
  let owed = 0;
  for (let tick = 1; performance.now() - started < seconds * 1000; tick++) {
    owed += perTick;
    const n = Math.floor(owed);
    owed -= n;
    if (n > 0) {
      const written = await d.insertLogEvents(database.db, runtime, Array.from({ length: n }, (_, i) => ({ tenantId, event: { type: i % 3 ? 's' : 'f', ip: '203.0.113.7', user_name: `load${tick}-${i}@example.test`, client_id: 'bench-client' } })));
      for (const w of written) ids.push(w.event.log_id);
    }
    const next = started + tick * WRITE_INTERVAL_MS;
    const wait = next - performance.now();
    if (wait > 0) await sleep(wait);
  }
  return { ids, offeredPerSecond: ids.length / ((performance.now() - started) / 1000) };
}

async function measureBackend(h, d, s, backend) {
  const dir = makeTempDir('portcullis-bench-streams-');
  let pg;
  let database;
  const receiver = await startReceiver();
  let worker;
  try {
    if (backend === 'postgres') pg = await createDatabase(h.settings.pgUrl);
    const streamEnv = {
      NODE_ROLE: 'worker',
      LOG_STREAM_ALLOWED_CIDRS: '127.0.0.1/32',
      ...(pg ? { DATABASE_URL: pg.url } : {}),
      ...(s.batch ? { LOG_STREAM_BATCH_SIZE: String(s.batch) } : {}),
      ...(s.lingerMs !== undefined ? { LOG_STREAM_LINGER_MS: String(s.lingerMs) } : {}),
    };
    // Set up from the bench process, as an operator would through the API.
    const port = await freePort();
    const config = d.loadConfig({ ...h.portcullisEnv(port, dir), ...streamEnv, NODE_ROLE: 'all' });
    const storage = await d.openStorage(config, d.pino({ level: 'silent' }));
    database = storage.database;
    const services = d.createServices(config, storage);
    const { tenant } = await services.tenants.ensureDefault();
    const stream = await services.logStreams.create(tenant.id, { name: 'bench webhook', type: 'http', sink: { httpEndpoint: `http://127.0.0.1:${receiver.port}/bench`, httpContentFormat: 'JSONLINES' } });
    await services.logStreams.update(tenant.id, stream.id, { status: 'paused' });
    const runtime = services.runtime;

    h.log(`streams ${backend}: writing a backlog of ${s.events} events`);
    await writeBacklog(d, database, runtime, tenant.id, s.events);
    ({ server: worker } = await h.startServer('portcullis', dir, { env: streamEnv, port, label: `worker-${backend}` }));
    const quiet = await h.waitForQuiet();

    // Backlog: activation → last event received.
    const backlog = await h.measureWindow(worker, async () => {
      const started = performance.now();
      await services.logStreams.update(tenant.id, stream.id, { status: 'active' });
      const complete = await receiver.waitFor(s.events, 10 * 60_000);
      return { complete, seconds: (performance.now() - started) / 1000 };
    });
    const backlogRecord = {
      events: s.events,
      received: receiver.seen.size,
      complete: backlog.result.complete,
      seconds: backlog.result.seconds,
      eventsPerSecond: receiver.seen.size / backlog.result.seconds,
      workerCpuSeconds: backlog.serverCpuSeconds,
      workerCpuMicrosPerEvent: (backlog.serverCpuSeconds * 1e6) / Math.max(1, receiver.seen.size),
      workerCpuPercent: backlog.serverCpuPercent,
      requests: receiver.stats().requests,
    };
    h.log(`streams ${backend} backlog: ${Math.round(backlogRecord.eventsPerSecond)} events/s (${backlogRecord.received}/${s.events} in ${backlogRecord.seconds.toFixed(1)} s), worker ${backlogRecord.workerCpuMicrosPerEvent.toFixed(0)} µs CPU/event`);
    if (!backlogRecord.complete) h.warn(`streams ${backend}: backlog not fully delivered (${backlogRecord.received}/${s.events})`);

    // Load: events written at a fixed rate while the worker delivers.
    const before = receiver.seen.size;
    const load = await h.measureWindow(worker, () => writeAtRate(d, database, runtime, tenant.id, s.rate, s.seconds));
    const drained = await receiver.waitFor(before + load.result.ids.length, DRAIN_DEADLINE_MS);
    const lags = load.result.ids.map((id) => receiver.seen.get(id)?.lagMs).filter((v) => v !== undefined).sort((a, b) => a - b);
    const missing = load.result.ids.length - lags.length;
    const firstAt = Math.min(...load.result.ids.slice(0, 1).map((id) => receiver.seen.get(id)?.at ?? Infinity));
    const lastAt = Math.max(...load.result.ids.map((id) => receiver.seen.get(id)?.at ?? 0));
    const loadRecord = {
      offeredPerSecond: load.result.offeredPerSecond,
      written: load.result.ids.length,
      delivered: lags.length,
      missing,
      drained,
      deliveredPerSecond: lags.length / Math.max(0.001, (lastAt - firstAt) / 1000),
      lagMs: { p50: percentile(lags, 50), p95: percentile(lags, 95), p99: percentile(lags, 99), max: lags.at(-1) ?? NaN },
      workerCpuPercent: load.serverCpuPercent,
      workerCpuMicrosPerEvent: (load.serverCpuSeconds * 1e6) / Math.max(1, load.result.ids.length),
    };
    h.log(`streams ${backend} load: offered ${Math.round(loadRecord.offeredPerSecond)}/s, lag p50 ${Math.round(loadRecord.lagMs.p50)} ms, p99 ${Math.round(loadRecord.lagMs.p99)} ms, max ${Math.round(loadRecord.lagMs.max)} ms${missing ? `, ${missing} not delivered` : ''}`);
    if (!drained || missing > 0) h.warn(`streams ${backend}: ${missing} of ${load.result.ids.length} events of the load window not delivered within ${DRAIN_DEADLINE_MS / 1000} s`);
    return { backend, quiet, backlog: backlogRecord, load: loadRecord };
  } finally {
    if (worker) await h.stopServer(worker);
    await receiver.close();
    await database?.close();
    removeTempDir(dir);
    if (pg) await dropDatabase(h.settings.pgUrl, pg.name);
  }
}

export async function measureStreams(h) {
  const s = streamsSettings();
  const d = await dist(h.root);
  const results = [];
  const skipped = [];
  for (const backend of s.backends) {
    if (backend === 'postgres') {
      const check = await checkServer(h.settings.pgUrl);
      if (!check.ok) {
        h.warn(`streams: PostgreSQL at ${h.settings.pgUrl} does not answer (${check.error}); skipped`);
        skipped.push({ backend, why: check.error });
        continue;
      }
    }
    results.push(await measureBackend(h, d, s, backend));
  }
  return { settings: s, results, skipped };
}

export function summarizeStreams(out, goals) {
  return out.results.map((r) => ({
    backend: r.backend,
    eventsPerSecond: r.backlog.eventsPerSecond,
    rateMet: r.backlog.complete && r.backlog.eventsPerSecond >= goals.streamsEventsPerSecond,
    lagP99Ms: r.load.lagMs.p99,
    lagMet: r.load.missing === 0 && r.load.offeredPerSecond >= 0.95 * goals.streamsEventsPerSecond && r.load.lagMs.p99 <= goals.streamsLagP99Ms,
  }));
}

const int = (n) => (Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : 'n/a');
const fixed = (n, digits) => (Number.isFinite(n) ? n.toFixed(digits) : 'n/a');
const verdict = (met) => (met ? 'met' : '**missed**');
const name = (backend) => (backend === 'postgres' ? 'PostgreSQL' : 'SQLite');

/** The section's markdown, printed after the other sections. */
export function renderStreams(out, summary, goals, settings) {
  const s = out.settings;
  const lines = [
    '',
    '#### Log streams (section `streams`)',
    '',
    `- A worker node (\`portcullis start --role worker\`) pinned to CPU ${settings.serverCpu}, batch ${s.batch ?? 'default (LOG_STREAM_BATCH_SIZE)'}, linger ${s.lingerMs !== undefined ? `${s.lingerMs} ms` : 'default (LOG_STREAM_LINGER_MS)'}; one \`http\` stream (JSONLINES) to a node:http webhook in the bench process (CPU ${settings.loadgenCpu}) that parses every record and answers 200; events written by the bench process with the log writer's batch insert`,
    `- Backlog: ${int(s.events)} events written while the stream is paused, then activated; rate = events / (activation → last received). Load: ${int(s.rate)} events/s written for ${s.seconds} s (a transaction every ${WRITE_INTERVAL_MS} ms); lag = receipt − event date, every event of the window, after draining`,
    '',
    `| Backend | backlog events/s | worker CPU µs/event | goal ≥ ${int(goals.streamsEventsPerSecond)}/s | load offered/s | delivered / written | lag p50 | p95 | p99 | max (ms) | worker CPU % under load | goal p99 ≤ ${int(goals.streamsLagP99Ms)} ms |`,
    '|---|---|---|---|---|---|---|---|---|---|---|---|',
  ];
  for (const r of out.results) {
    const sum = summary.find((x) => x.backend === r.backend);
    lines.push(
      `| ${name(r.backend)} | ${int(r.backlog.eventsPerSecond)}${r.backlog.complete ? '' : ` (${int(r.backlog.received)}/${int(r.backlog.events)} only)`} | ${fixed(r.backlog.workerCpuMicrosPerEvent, 1)} | ${verdict(sum.rateMet)} | ${int(r.load.offeredPerSecond)} | ${int(r.load.delivered)} / ${int(r.load.written)} | ${int(r.load.lagMs.p50)} | ${int(r.load.lagMs.p95)} | ${int(r.load.lagMs.p99)} | ${int(r.load.lagMs.max)} | ${fixed(r.load.workerCpuPercent, 0)} | ${verdict(sum.lagMet)} |`,
    );
  }
  for (const skip of out.skipped) lines.push(`- Not measured: ${name(skip.backend)} (${skip.why})`);
  return lines.join('\n') + '\n';
}
