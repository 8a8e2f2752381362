// Load for refresh-token rotation (the bench's `refresh` section).
//
// Refresh tokens rotate: every use answers a new one and spends the old, and
// presenting a spent one revokes the whole grant (RFC 9700 §4.14.2). A fixed
// request body, as autocannon sends, would thus succeed once and then revoke
// its grant. Instead each token is a chain: a request carries the chain's
// current token and its answer's `refresh_token` replaces it.
//
// `refreshLoad` is closed loop, like autocannon: N workers over N keep-alive
// connections, each with its own chain, each sending its next request as soon
// as the previous answer arrived. Any answer but a 200 with a new
// refresh_token ends that worker's chain (the token may be spent or its grant
// revoked) and is counted, so the run is flagged.
//
// `tokenPool` feeds the open-loop generator (bench/lib/paced.mjs) for the
// latency runs: a request arriving takes a free chain (or waits for one, in
// arrival order; the wait counts in its latency, as a wait for a free
// connection does) and gives the new token back when the answer arrives.
import { Agent, request } from 'node:http';
import { performance } from 'node:perf_hooks';

const FORM = { 'content-type': 'application/x-www-form-urlencoded' };

function percentile(sorted, p) {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

/** The rotation request for one token: form body, client_secret_post. */
export function rotationRequest(path, fields, refreshToken) {
  const body = new URLSearchParams({ grant_type: 'refresh_token', refresh_token: refreshToken, ...fields }).toString();
  return { method: 'POST', path, headers: FORM, body, refreshToken };
}

/** The new refresh token in a 200 answer, or undefined. */
function nextToken(status, body) {
  if (status !== 200) return undefined;
  try {
    const token = JSON.parse(body).refresh_token;
    return typeof token === 'string' && token.length > 0 ? token : undefined;
  } catch {
    return undefined;
  }
}

function post(agent, port, req, timeoutMs) {
  return new Promise((resolve) => {
    const r = request({ host: '127.0.0.1', port, method: req.method, path: req.path, headers: { ...req.headers, 'content-length': Buffer.byteLength(req.body) }, agent }, (res) => {
      const chunks = [];
      res.on('data', (chunk) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', (error) => resolve({ status: 0, error: error.message }));
    });
    r.setTimeout(timeoutMs, () => r.destroy(new Error('timeout')));
    r.on('error', (error) => resolve({ status: 0, error: error.message }));
    r.end(req.body);
  });
}

/**
 * Rotates `tokens` (one chain per worker) for `seconds`, closed loop. No new
 * request starts after `seconds`; the rate is over the time until the last
 * answer. Returns the figures and `tokens`, the chains still alive, for the
 * next phase (warm-up → measured window → latency run).
 */
export async function refreshLoad({ port, path, fields, tokens, seconds, timeoutMs = 10_000, signal }) {
  const agent = new Agent({ keepAlive: true, maxSockets: tokens.length, maxFreeSockets: tokens.length });
  const latencies = [];
  const statusCounts = {};
  let errors = 0;
  let timeouts = 0;
  let badBodies = 0;
  const started = performance.now();
  const end = started + seconds * 1000;
  let last = started;
  const alive = [];

  const worker = async (token) => {
    let current = token;
    while (performance.now() < end && !signal?.aborted) {
      const sentAt = performance.now();
      const answer = await post(agent, port, rotationRequest(path, fields, current), timeoutMs);
      last = performance.now();
      if (answer.status === 0) {
        if (answer.error === 'timeout') timeouts++;
        else errors++;
        return;
      }
      statusCounts[answer.status] = (statusCounts[answer.status] ?? 0) + 1;
      const next = nextToken(answer.status, answer.body);
      if (!next) {
        if (answer.status === 200) badBodies++;
        return;
      }
      latencies.push(last - sentAt);
      current = next;
    }
    alive.push(current);
  };
  await Promise.all(tokens.map(worker));
  agent.destroy();

  const wallSeconds = (last - started) / 1000;
  latencies.sort((a, b) => a - b);
  const completed = Object.values(statusCounts).reduce((a, b) => a + b, 0);
  const ok = latencies.length;
  return {
    tokens: alive,
    chainsLost: tokens.length - alive.length,
    seconds: wallSeconds,
    completed,
    ok,
    requestsPerSecond: ok / wallSeconds,
    non2xx: completed - (statusCounts[200] ?? 0),
    badBodies,
    errors,
    timeouts,
    statusCounts,
    latencyMs: { mean: ok ? latencies.reduce((a, b) => a + b, 0) / ok : NaN, p50: percentile(latencies, 50), p99: percentile(latencies, 99) },
  };
}

/**
 * Chains for the open-loop generator: `prepare` (for pacedLoad) takes a free
 * token, or waits for one; `onResponse` / `onFailure` put the answer's new
 * token back or drop the chain. When every chain is lost, waiting requests
 * fail at once instead of hanging. `tokens()` returns the live chains.
 */
export function tokenPool({ path, fields, tokens }) {
  const free = [...tokens];
  const waiting = [];
  let live = tokens.length;
  const settled = new WeakSet();

  const give = (token) => {
    const waiter = waiting.shift();
    if (waiter) waiter.resolve(rotationRequest(path, fields, token));
    else free.push(token);
  };
  const drop = (prepared) => {
    if (settled.has(prepared)) return;
    settled.add(prepared);
    live--;
    if (live === 0) for (const waiter of waiting.splice(0)) waiter.reject(new Error('every refresh-token chain is lost'));
  };

  return {
    prepare() {
      const token = free.shift();
      if (token !== undefined) return rotationRequest(path, fields, token);
      if (live === 0) return Promise.reject(new Error('every refresh-token chain is lost'));
      return new Promise((resolve, reject) => waiting.push({ resolve, reject }));
    },
    onResponse(status, body, prepared) {
      const next = nextToken(status, body);
      if (!next) return drop(prepared);
      settled.add(prepared);
      give(next);
    },
    onFailure: drop,
    tokens: () => [...free],
    lost: () => tokens.length - live,
  };
}
