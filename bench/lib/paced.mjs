// An open-loop load generator for latency at a given rate.
//
// Why not autocannon's `overallRate`: autocannon spreads the rate over its
// connections as a per-connection quota per second, and each connection sends
// its quota back to back as soon as the second starts, then idles. At "50 % of
// the maximum" the server is thus saturated (all connections in flight) for
// the first half of every second and idle for the second half, and the
// latencies are those of a saturated server in bursts — on a token endpoint
// doing 0.7 ms of work per request, p50 ≈ 15–25 ms and p99 > 100 ms at 22 % of
// the maximum. Autocannon also "corrects" coordinated omission with an
// expected interval of ceil(1 / per-connection rate) = 1 ms, which adds
// synthetic samples.
//
// Here requests arrive as a Poisson process at the target rate (exponential
// gaps, as independent clients would), are sent over a pool of keep-alive
// connections, and each latency is measured from the moment the request is
// handed to node:http to the end of the response body, with a
// microsecond clock. If the generator falls behind its schedule (timer
// granularity, a busy core) it sends the overdue requests at once, so the
// offered rate holds; how far behind it was is reported (`lagP99Ms`). The
// first `warmupSeconds` run the same schedule unrecorded, so that the pool's
// connections exist before anything is measured.
import { Agent, request } from 'node:http';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';

function percentile(sorted, p) {
  if (sorted.length === 0) return NaN;
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[index];
}

/**
 * Offers `rate` requests per second for `warmupSeconds` + `seconds` and
 * returns, for the last `seconds`, latency percentiles (ms) of the 2xx
 * responses, the achieved rate and the status counts. `prepare()` returns
 * { method, path, headers, body } per request.
 *
 * Requests that depend on earlier answers (refresh-token rotation: each
 * response carries the next token; bench/lib/refresh-load.mjs) use two
 * optional hooks: `prepare()` may return a promise (e.g. waiting for a free
 * token), and the wait counts in that request's latency, as a wait for a free
 * connection in the agent's queue does; `onResponse(status, body, prepared)`
 * gets each response body, and `onFailure(prepared)` each request that got no
 * response. A rejected `prepare()` counts as an error.
 */
export async function pacedLoad({ port, rate, seconds, warmupSeconds = 0, maxConnections = 50, timeoutMs = 10_000, prepare, onResponse, onFailure, signal }) {
  const agent = new Agent({ keepAlive: true, maxSockets: maxConnections, maxFreeSockets: maxConnections });
  const latencies = [];
  const lags = [];
  const statusCounts = {};
  let errors = 0;
  let timeouts = 0;
  let warmupErrors = 0;
  let inFlight = 0;
  let maxInFlight = 0;
  let sent = 0;
  const pending = new Set();

  let warmupSent = 0;
  const send = (prepared, recorded, started) =>
    new Promise((resolve) => {
      const { method, path, headers, body } = prepared;
      const failed = () => {
        onFailure?.(prepared);
        resolve();
      };
      const req = request({ host: '127.0.0.1', port, method, path, headers: body ? { ...headers, 'content-length': Buffer.byteLength(body) } : headers, agent }, (res) => {
        const chunks = [];
        res.on('data', onResponse ? (chunk) => chunks.push(chunk) : () => {});
        res.on('end', () => {
          const elapsed = performance.now() - started;
          onResponse?.(res.statusCode, Buffer.concat(chunks).toString('utf8'), prepared);
          if (recorded) {
            statusCounts[res.statusCode] = (statusCounts[res.statusCode] ?? 0) + 1;
            if (res.statusCode >= 200 && res.statusCode < 300) latencies.push(elapsed);
          } else if (res.statusCode < 200 || res.statusCode >= 300) warmupErrors++;
          resolve();
        });
        res.on('error', () => {
          if (recorded) errors++;
          else warmupErrors++;
          failed();
        });
      });
      req.setTimeout(timeoutMs, () => {
        if (recorded) timeouts++;
        req.destroy(new Error('timeout'));
      });
      req.on('error', (error) => {
        if (error.message !== 'timeout') {
          if (recorded) errors++;
          else warmupErrors++;
        }
        failed();
      });
      req.end(body);
    });

  const fire = (recorded) => {
    const started = performance.now();
    inFlight++;
    if (recorded) maxInFlight = Math.max(maxInFlight, inFlight);
    const prepared = prepare();
    const outcome =
      typeof prepared?.then === 'function'
        ? prepared.then(
            (ready) => send(ready, recorded, started),
            () => {
              if (recorded) errors++;
              else warmupErrors++;
            },
          )
        : send(prepared, recorded, started);
    const done = outcome.finally(() => {
      inFlight--;
      pending.delete(done);
    });
    pending.add(done);
    if (recorded) sent++;
    else warmupSent++;
  };

  const warmupEnd = performance.now() + warmupSeconds * 1000;
  const end = warmupEnd + seconds * 1000;
  let next = performance.now();
  while (!signal?.aborted) {
    const now = performance.now();
    if (next >= end) break;
    while (next <= now && next < end) {
      const recorded = next >= warmupEnd;
      if (recorded) lags.push(now - next);
      fire(recorded);
      next += -Math.log(1 - Math.random()) * (1000 / rate);
    }
    const wait = Math.min(next, end) - performance.now();
    if (wait > 0) await sleep(wait >= 1 ? Math.floor(wait) : 0);
  }
  const started = warmupEnd;
  const offeredSeconds = (performance.now() - started) / 1000;
  await Promise.all([...pending]);
  const wallSeconds = (performance.now() - started) / 1000;
  agent.destroy();

  latencies.sort((a, b) => a - b);
  lags.sort((a, b) => a - b);
  const completed = Object.values(statusCounts).reduce((a, b) => a + b, 0);
  const ok = latencies.length;
  return {
    targetRate: rate,
    warmupSent,
    warmupErrors,
    sent,
    completed,
    achievedRate: completed / wallSeconds,
    offeredRate: sent / offeredSeconds,
    seconds: wallSeconds,
    statusCounts,
    non2xx: completed - ok,
    errors,
    timeouts,
    maxInFlight,
    latencyMs: {
      p50: percentile(latencies, 50),
      p90: percentile(latencies, 90),
      p95: percentile(latencies, 95),
      p99: percentile(latencies, 99),
      p999: percentile(latencies, 99.9),
      max: latencies[latencies.length - 1] ?? NaN,
      mean: ok ? latencies.reduce((a, b) => a + b, 0) / ok : NaN,
    },
    lagP99Ms: percentile(lags, 99),
  };
}
