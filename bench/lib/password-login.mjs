// The bench's `login` section (issue 3): "password login via the
// password-realm grant: ≥ 0.85× the raw argon2id verify rate measured on
// that core in the same run".
//
// Baseline: bench/argon2-baseline.mjs pinned to the server core — argon2id
// verifications with Portcullis's parameters and its hasher's concurrency on
// one core, nothing else. Portcullis: POST /oauth/token with
// grant_type=http://auth0.com/oauth/grant-type/password-realm, the seeded
// user's username and password, realm Username-Password-Authentication,
// client_secret_post, and `audience` = the Management API, no `scope`: every
// request is a full login (user lookup, one argon2id verify, logins_count and
// last_login updated, a Grant saved, an RS256 JWT access token signed; no ID
// token, no refresh token, no scopes: the user has no permissions on that
// API). autocannon sends the same body on 50 connections; a fresh database
// per run (SQLite, and PostgreSQL when it answers).
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { checkToken, latencyRuns, maxRun, tokenRequest } from './auth-api.mjs';
import { allowedCpus, spawnPinned } from './processes.mjs';
import { median, spread } from './report.mjs';
import { artifactCensus, assertRunning, explainExit, BENCH_USER, PASSWORD_REALM_GRANT, pgStats, pgWork, postgresFor, SEED_ALG, startSeeded } from './seeded-portcullis.mjs';

const SCENARIO = 'password-realm login';
const READY_DEADLINE_MS = 30_000;

// ------------------------------------------------------------- baseline

/** The next JSON line the baseline prints, within `timeoutMs`. */
function lineReader(server) {
  const lines = [];
  const waiters = [];
  createInterface({ input: server.child.stdout }).on('line', (line) => {
    const waiter = waiters.shift();
    if (waiter) waiter(line);
    else lines.push(line);
  });
  return async (timeoutMs) => {
    if (lines.length) return JSON.parse(lines.shift());
    const line = await Promise.race([new Promise((resolve) => waiters.push(resolve)), sleep(timeoutMs).then(() => undefined), server.exited.then(() => undefined)]);
    if (line === undefined) throw new Error(`${server.label} (pid ${server.pid}) gave no answer within ${timeoutMs} ms${server.exit ? ` and exited (${JSON.stringify(server.exit)})` : ''}; its output:\n${server.output()}`);
    return JSON.parse(line);
  };
}

async function startArgon2(h) {
  const server = spawnPinned({ cpu: h.settings.serverCpu, script: join(h.root, 'bench', 'argon2-baseline.mjs'), env: h.baseEnv(h.root), cwd: h.root, label: 'argon2-baseline', stdin: true });
  try {
    const next = lineReader(server);
    const ready = await next(READY_DEADLINE_MS);
    if (!ready.ready) throw new Error(`argon2-baseline: unexpected first line ${JSON.stringify(ready)}`);
    const pinned = allowedCpus(server.pid);
    if (pinned !== String(h.settings.serverCpu)) throw new Error(`argon2-baseline runs on CPUs ${pinned}, not ${h.settings.serverCpu}`);
    const run = async (seconds) => {
      server.child.stdin.write(`run ${seconds}\n`);
      const result = await next(seconds * 1000 + 30_000);
      if (result.error || result.failed > 0) throw new Error(`argon2-baseline: ${result.error ?? `${result.failed} verifications answered false`}`);
      return result;
    };
    return { server, ready, run };
  } catch (error) {
    await h.stopServer(server);
    throw error;
  }
}

async function argon2Run(h, round) {
  const meta = { scenario: SCENARIO, endpoint: 'login', server: 'argon2', backend: 'memory', round };
  const { server, ready, run } = await startArgon2(h);
  try {
    const quiet = await h.waitForQuiet();
    if (h.settings.warmupSeconds > 0) await run(h.settings.warmupSeconds);
    const window = await h.measureWindow(server, () => run(h.settings.durationSeconds));
    const r = window.result;
    const result = {
      ...meta,
      quiet,
      serverCpuPercent: window.serverCpuPercent,
      serverCpuMicrosPerRequest: (window.serverCpuSeconds * 1e6) / r.verifies,
      loadgenCpuPercent: window.loadgenCpuPercent,
      serverCoreBusyPercent: window.serverCoreBusyPercent,
      loadgenCoreBusyPercent: window.loadgenCoreBusyPercent,
      // Wall time of one verification, with `concurrency` of them in flight.
      load: { requestsPerSecond: r.verifies / r.seconds, requestsTotal: r.verifies, durationSeconds: r.seconds, latencyAvgMs: (ready.concurrency * r.seconds * 1000) / r.verifies, latencyP50Ms: NaN, latencyP99Ms: NaN, errors: 0, timeouts: 0, non2xx: 0, statusCodes: {} },
      argon2: { concurrency: ready.concurrency, params: ready.params, uvThreadpoolSize: ready.uvThreadpoolSize },
    };
    h.checkRun(`${SCENARIO} round ${round} argon2`, result);
    h.log(`${SCENARIO} round ${round} argon2 verify: ${Math.round(result.load.requestsPerSecond)} verifies/s at concurrency ${ready.concurrency}, ${result.serverCpuMicrosPerRequest.toFixed(0)} µs CPU/verify, CPU ${Math.round(result.serverCpuPercent)} %`);
    return result;
  } finally {
    await h.stopServer(server);
  }
}

// ------------------------------------------------------------ Portcullis

async function portcullisRun(h, backend, round, latencyRate) {
  const meta = { scenario: SCENARIO, endpoint: 'login', server: `portcullis-${backend}`, backend, round };
  const started = await startSeeded(h, backend, `portcullis-${backend}-login`);
  const postgres = backend === 'postgres';
  try {
    const { seed } = started;
    const audience = seed.managementAudience;
    const request = tokenRequest('/oauth/token', {
      grant_type: PASSWORD_REALM_GRANT,
      username: BENCH_USER.email,
      password: BENCH_USER.password,
      realm: seed.realm,
      client_id: seed.clientId,
      client_secret: seed.clientSecret,
      audience,
    });
    const statsBefore = postgres ? await pgStats(h, started) : undefined;
    const facts = await checkToken(started.port, request, { alg: SEED_ALG, audience, label: `${SCENARIO} ${meta.server}` });
    // Answered logins, the check included; the database figures count every
    // login the server did (see below).
    let logins = 1;
    const quiet = await h.waitForQuiet();
    if (h.settings.warmupSeconds > 0) {
      const warm = await h.load(started.port, h.settings.warmupSeconds, request);
      logins += warm.requests.total;
      if (warm.non2xx > 0 || warm.errors > 0) h.warn(`${SCENARIO} round ${round} ${meta.server}: ${warm.non2xx} non-2xx and ${warm.errors} errors during the warm-up`);
      // autocannon leaves up to one login per connection queued in the server
      // (half a second of argon2 at 50 connections): let it finish them, so
      // that the measured window does not pay for the warm-up's.
      await h.waitForIdleServer(started.server);
    }
    const run = await maxRun(h, started, request, meta, { dbProcess: postgres ? 'postgres' : undefined });
    assertRunning(started, `${SCENARIO} round ${round}`);
    run.quiet = quiet;
    run.token = facts;
    logins += run.load.requestsTotal;
    const rate = latencyRate?.(run.load.requestsPerSecond);
    if (rate) {
      await h.waitForIdleServer(started.server);
      run.latency = await latencyRuns(h, started, request, rate, meta);
      logins += (run.latency.paced ? run.latency.paced.completed + run.latency.paced.warmupSent : 0) + (run.latency.autocannon ? run.latency.autocannon.completed : 0);
    }
    started.stopped = true;
    await h.stopServer(started.server);
    // The logins the server completed: autocannon drops its connections at
    // the end of each run, but the server still completes the logins they had
    // queued (up to one per connection), and those write too. The user's
    // logins_count (fresh database: 0 before the check) counts them all.
    const census = await artifactCensus(h, started);
    run.census = { ops: census.logins, answered: logins, ...census };
    if (postgres) {
      run.database = pgWork(statsBefore, await pgStats(h, started), census.logins);
      h.log(`${SCENARIO} round ${round} ${meta.server}: ${run.database.transactionsPerOp.toFixed(2)} statements and ${run.database.rowsWrittenPerOp.toFixed(2)} row writes per login, ${run.database.tableRowsWrittenPerOp.toFixed(2)} to Portcullis's tables (${tablesText(run.database.byTable)}; over the ${census.logins} logins the server completed, ${logins} of them answered)`);
    }
    return run;
  } catch (error) {
    throw explainExit(started, `${SCENARIO} round ${round} ${meta.server}`, error);
  } finally {
    if (!started.server.exit) await h.stopServer(started.server);
    await started.cleanup?.();
  }
}

// ------------------------------------------------------------------ entry

export async function measureLogin(h) {
  const out = { postgres: await postgresFor(h, 'login'), runs: [] };
  const backends = ['sqlite', ...(out.postgres.skipped ? [] : ['postgres'])];
  const { runs } = out;
  for (let round = 1; round <= h.settings.oidcRounds; round++) {
    const last = round === h.settings.oidcRounds;
    runs.push(await argon2Run(h, round));
    for (const backend of backends) {
      const server = `portcullis-${backend}`;
      // As the token section: in the last round, after its maximum, each
      // server at half the median of its maxima.
      const latencyRate = last ? (current) => 0.5 * median([...runs.filter((r) => r.server === server).map((r) => r.load.requestsPerSecond), current]) : undefined;
      runs.push(await portcullisRun(h, backend, round, latencyRate));
    }
  }
  return out;
}

function stat(runs, pick) {
  const values = runs.map(pick).filter((v) => Number.isFinite(v));
  return values.length ? spread(values) : undefined;
}

export function summarizeLogin(login, goals) {
  const baseline = login.runs.filter((r) => r.server === 'argon2');
  const baselineRps = stat(baseline, (r) => r.load.requestsPerSecond);
  const baselineCpu = stat(baseline, (r) => r.serverCpuMicrosPerRequest);
  const rows = [];
  for (const server of [...new Set(login.runs.map((r) => r.server))]) {
    const mine = login.runs.filter((r) => r.server === server);
    const rps = stat(mine, (r) => r.load.requestsPerSecond);
    const cpuMicros = stat(mine, (r) => r.serverCpuMicrosPerRequest);
    const dbCpuMicros = stat(mine, (r) => r.dbCpuMicrosPerRequest);
    const isBaseline = server === 'argon2';
    const ratio = isBaseline || !baselineRps ? undefined : rps.median / baselineRps.median;
    const db = mine.filter((r) => r.database).map((r) => r.database);
    const census = mine.filter((r) => r.census).map((r) => r.census);
    rows.push({
      server,
      backend: mine[0].backend,
      rps,
      cpuMicros,
      dbCpuMicros,
      ratio,
      cpuRatio: isBaseline || !baselineCpu || !cpuMicros ? undefined : baselineCpu.median / (cpuMicros.median + (dbCpuMicros?.median ?? 0)),
      ratioPerRound: isBaseline ? undefined : mine.map((r) => r.load.requestsPerSecond / baseline.find((b) => b.round === r.round)?.load.requestsPerSecond),
      met: ratio === undefined ? undefined : ratio >= goals.loginVsArgon2,
      latency: mine.find((r) => r.latency)?.latency,
      database: db.length ? { ...medianOfFields(db, ['transactionsPerOp', 'rowsReadPerOp', 'insertedPerOp', 'updatedPerOp', 'deletedPerOp', 'rowsWrittenPerOp', 'tableRowsWrittenPerOp']), byTable: db.at(-1).byTable } : undefined,
      census: census.length ? censusPerOp(census.at(-1)) : undefined,
      token: mine[0].token,
      argon2: mine[0].argon2,
      flagged: mine.some((r) => r.flagged || r.latency?.paced?.flagged || r.latency?.autocannon?.flagged),
    });
  }
  return { rows };
}

/** "users 1.00 updated, oidc_artifacts 1.00 inserted" */
export function tablesText(byTable) {
  const parts = Object.entries(byTable).map(([table, t]) =>
    [`${table}`, ...[['inserted', t.insertedPerOp], ['updated', t.updatedPerOp], ['deleted', t.deletedPerOp]].filter(([, n]) => n > 0).map(([what, n]) => `${n.toFixed(2)} ${what}`)].join(' '),
  );
  return parts.length ? parts.join(', ') : 'none';
}

export function medianOfFields(records, fields) {
  return Object.fromEntries(fields.map((f) => [f, median(records.map((r) => r[f]))]));
}

/**
 * A census as rows per operation, by artifact kind, and logins counted;
 * `base` = what was there before the measured operations (seeding).
 */
export function censusPerOp(census, base = { rows: {}, logins: 0 }) {
  const perKind = {};
  for (const [kind, { rows, consumed }] of Object.entries(census.artifacts)) {
    perKind[kind] = { insertedPerOp: (rows - (base.rows[kind] ?? 0)) / census.ops, consumedPerOp: consumed / census.ops };
  }
  return { ops: census.ops, perKind, loginsPerOp: (census.logins - base.logins) / census.ops };
}
