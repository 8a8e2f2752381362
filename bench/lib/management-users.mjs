// The bench's `users` section (the Management API issue): user reads and
// searches on databases of many users.
//
// For each size (BENCH_USERS_SIZES) and backend (SQLite; PostgreSQL when it
// answers), a fresh database is set up before the server starts:
// `portcullis admin-client --json` (schema, default tenant, the Management
// API client), then bench/lib/seed-many-users.mjs (N generated users, bulk
// inserted, ANALYZE; timed, database size). Then, on a server pinned to the
// server core with one Management API token (client_credentials, audience
// `<issuer>api/v2/`) reused for the whole database:
// - at BENCH_USERS_THROUGHPUT_SIZE users only, throughput of
//   GET /api/v2/users/{id} and GET /api/v2/users-by-email?email=… with
//   autocannon, each request for the next user of a sample spread over the
//   population (BENCH_USERS_SAMPLE), every answer checked (200 and the user
//   asked for); BENCH_USERS_ROUNDS rounds, the server restarted between them
//   and the order of the two endpoints alternating;
// - at every size, on a freshly started server, the latency of three
//   searches (GET /api/v2/users?q=…&search_engine=v3&per_page=50&include_totals=true):
//   an existing email, a 3-letter name prefix and a rare app_metadata plan;
//   first BENCH_USERS_PROBE requests one after another on one connection,
//   after 5 unrecorded ones (closed loop: the service time), then the
//   open-loop generator (bench/lib/paced.mjs) at BENCH_USERS_SEARCH_RATE per
//   second for BENCH_LATENCY_DURATION seconds, every answer checked (total, page size,
//   every user matching). A query whose closed-loop median already fills
//   80 % of the interval between arrivals is reported as saturated and not
//   run open loop (its queue would only grow for the whole run);
// - once the server stopped, the SQL of each search (captured from the
//   users store in dist/, run against the same database) with its plan
//   (EXPLAIN QUERY PLAN on SQLite, EXPLAIN ANALYZE on PostgreSQL) and its
//   own time (BENCH_USERS_EXPLAIN=0 skips this).
import { execFile } from 'node:child_process';
import { Agent, request as httpRequest } from 'node:http';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { maxRun, PACED_WARMUP_SECONDS, tokenRequest } from './auth-api.mjs';
import { createDatabase, dropDatabase } from './postgres.mjs';
import { makeTempDir, removeTempDir, send } from './processes.mjs';
import { median, spread } from './report.mjs';
import { assertRunning, explainExit, postgresFor, restartSeeded } from './seeded-portcullis.mjs';
import { NAME_PREFIX, RARE_PLAN } from './user-population.mjs';

const execFileAsync = promisify(execFile);
const SEED_TIMEOUT_MS = 20 * 60_000;
/** Auth0's cap on `total` and the page size the searches ask for. */
const TOTAL_CAP = 1000;
const PER_PAGE = 50;
/** Closed-loop service time × rate above which an open-loop run would only queue. */
const SATURATION = 0.8;

export const SEARCHES = Object.freeze([
  { key: 'email', label: 'email:"…" (an existing email)', q: (seed) => `email:"${seed.queries.email}"`, matches: (user, seed) => user.email?.toLowerCase() === seed.queries.email.toLowerCase() },
  { key: 'name', label: `name:${NAME_PREFIX}*`, q: () => `name:${NAME_PREFIX}*`, matches: (user) => user.name?.toLowerCase().startsWith(NAME_PREFIX) },
  { key: 'plan', label: `app_metadata.plan:"${RARE_PLAN}"`, q: () => `app_metadata.plan:"${RARE_PLAN}"`, matches: (user) => user.app_metadata?.plan === RARE_PLAN },
]);

const searchPath = (q) => `/api/v2/users?q=${encodeURIComponent(q)}&search_engine=v3&per_page=${PER_PAGE}&include_totals=true`;
const userPath = (userId) => `/api/v2/users/${encodeURIComponent(userId)}`;
const emailPath = (email) => `/api/v2/users-by-email?email=${encodeURIComponent(email)}`;

// ------------------------------------------------------------- databases

/**
 * startServer's `prepare`: a fresh directory (and PostgreSQL database), the
 * admin client, then `size` seeded users, all before the server starts.
 */
function prepareMany(h, backend, size) {
  return async (port) => {
    const dir = makeTempDir('portcullis-bench-');
    let db;
    const cleanup = async () => {
      removeTempDir(dir);
      if (db) await dropDatabase(h.settings.pgUrl, db.name);
    };
    try {
      if (backend === 'postgres') db = await createDatabase(h.settings.pgUrl);
      const env = db ? { DATABASE_URL: db.url } : {};
      const runEnv = { ...h.portcullisEnv(port, dir), ...env };
      const adminStarted = performance.now();
      const cli = await execFileAsync(process.execPath, [join(h.root, 'bin', 'portcullis.js'), 'admin-client', '--json'], { cwd: h.root, env: runEnv, timeout: 120_000 });
      if (cli.stderr.includes('portcullis: building')) h.warn(`users ${backend} ${size}: the CLI rebuilt dist/ (sources changed during the bench)`);
      const admin = JSON.parse(cli.stdout.trim().split('\n').pop());
      const adminSeconds = (performance.now() - adminStarted) / 1000;
      h.log(`users ${backend}: seeding ${size.toLocaleString('en-US')} users`);
      const seedArgs = [join(h.root, 'bench', 'lib', 'seed-many-users.mjs'), '--users', String(size), '--sample', String(h.settings.usersSample), '--sqlite-analyze', h.settings.usersSqliteAnalyze ? '1' : '0'];
      const seeded = await execFileAsync(process.execPath, seedArgs, { cwd: h.root, env: runEnv, timeout: SEED_TIMEOUT_MS, maxBuffer: 64 * 1024 * 1024 });
      const seed = JSON.parse(seeded.stdout.trim().split('\n').pop());
      h.log(`users ${backend} ${size.toLocaleString('en-US')}: seeded in ${seed.seconds.toFixed(1)} s (insert ${seed.insertSeconds.toFixed(1)} s, ${seed.indexes} indexes ${seed.indexSeconds.toFixed(1)} s, ${seed.analyzed ? `ANALYZE ${seed.analyzeSeconds.toFixed(1)} s` : 'no ANALYZE'}), database ${(seed.databaseBytes / 1024 ** 2).toFixed(0)} MiB`);
      return { dir, env, serverEnv: env, admin, adminSeconds, seed, db, backend, size, cleanup };
    } catch (error) {
      await cleanup();
      throw new Error(`users ${backend} ${size}: setting up the database failed: ${error.stderr || error.message}`);
    }
  };
}

/** One Management API access token for the database's admin client (client_credentials). */
async function managementToken(started) {
  const { admin } = started;
  const request = tokenRequest('/oauth/token', { grant_type: 'client_credentials', client_id: admin.client_id, client_secret: admin.client_secret, audience: admin.audience });
  const response = await send(started.port, { ...request, timeoutMs: 15_000 });
  if (response.status !== 200) throw new Error(`users: POST /oauth/token answered ${response.status} ${response.error ?? response.body?.slice(0, 300)}`);
  return JSON.parse(response.body).access_token;
}

/** One read of each kind before any load: 200 and the user asked for. Returns the body sizes. */
async function checkReads(started, token) {
  const headers = { authorization: `Bearer ${token}` };
  const { user_id: userId, email } = started.seed.sample[0];
  const byId = await send(started.port, { path: userPath(userId), headers, timeoutMs: 15_000 });
  const user = byId.status === 200 ? JSON.parse(byId.body) : undefined;
  if (user?.user_id !== userId || user.email !== email || user.identities?.[0]?.user_id !== userId.slice('auth0|'.length)) {
    throw new Error(`users: GET ${userPath(userId)} answered ${byId.status} ${byId.error ?? byId.body?.slice(0, 300)}`);
  }
  const byEmail = await send(started.port, { path: emailPath(email), headers, timeoutMs: 15_000 });
  const users = byEmail.status === 200 ? JSON.parse(byEmail.body) : undefined;
  if (!Array.isArray(users) || users.length !== 1 || users[0].user_id !== userId) {
    throw new Error(`users: GET ${emailPath(email)} answered ${byEmail.status} ${byEmail.error ?? byEmail.body?.slice(0, 300)}`);
  }
  return { userBytes: Buffer.byteLength(byId.body), byEmailBytes: Buffer.byteLength(byEmail.body) };
}

// ------------------------------------------------------------ throughput

/**
 * autocannon options that send each request for the next user of the
 * sample (setupRequest; the context carries the user to its answer) and
 * check every 200 is that user. Non-2xx answers autocannon counts itself.
 */
function rotatingReads(endpoint, token, sample, tally) {
  let next = 0;
  const paths = sample.map((u) => (endpoint === 'by-id' ? userPath(u.user_id) : emailPath(u.email)));
  const needles = sample.map((u) => (endpoint === 'by-id' ? `"user_id":"${u.user_id}"` : `"email":${JSON.stringify(u.email)}`));
  return {
    request: { path: paths[0], headers: { authorization: `Bearer ${token}` } },
    extra: {
      requests: [
        {
          setupRequest(request, context) {
            const i = next++ % paths.length;
            context.user = i;
            return { ...request, path: paths[i] };
          },
          onResponse(status, body, context) {
            if (status !== 200) return;
            tally.checked++;
            if (!body.includes(needles[context.user]) || (endpoint === 'by-email' && !body.startsWith('['))) {
              tally.wrong++;
              tally.example ??= body.slice(0, 200);
            }
          },
        },
      ],
    },
  };
}

async function readRun(h, started, endpoint, token, round) {
  const meta = { scenario: `GET ${endpoint === 'by-id' ? '/api/v2/users/{id}' : '/api/v2/users-by-email'}`, endpoint, server: `portcullis-${started.backend}`, backend: started.backend, size: started.size, round };
  const dbProcess = started.backend === 'postgres' ? 'postgres' : undefined;
  const quiet = await h.waitForQuiet();
  if (h.settings.warmupSeconds > 0) {
    const warm = rotatingReads(endpoint, token, started.seed.sample, { checked: 0, wrong: 0 });
    const result = await h.load(started.port, h.settings.warmupSeconds, warm.request, warm.extra);
    if (result.non2xx > 0 || result.errors > 0) h.warn(`users ${meta.scenario} round ${round} ${meta.server}: ${result.non2xx} non-2xx and ${result.errors} errors during the warm-up`);
  }
  const tally = { checked: 0, wrong: 0 };
  const reads = rotatingReads(endpoint, token, started.seed.sample, tally);
  const run = await maxRun(h, started, reads.request, meta, { dbProcess, extra: reads.extra });
  assertRunning(started, `users ${meta.scenario} round ${round}`);
  run.quiet = quiet;
  run.checked = { ...tally, distinctUsers: started.seed.sample.length };
  if (tally.wrong > 0) {
    run.flagged = true;
    h.warn(`users ${meta.scenario} round ${round} ${meta.server}: ${tally.wrong} of ${tally.checked} answers were not the user asked for (e.g. ${tally.example})`);
  }
  return run;
}

// -------------------------------------------------------------- searches

/** Checks one search answer; returns a reason when it is wrong. */
function searchProblem(search, seed, body) {
  let answer;
  try {
    answer = JSON.parse(body);
  } catch {
    return `not JSON: ${body.slice(0, 120)}`;
  }
  const matched = seed.matches[search.key];
  if (answer.total !== Math.min(matched, TOTAL_CAP)) return `total ${answer.total}, expected ${Math.min(matched, TOTAL_CAP)}`;
  if (!Array.isArray(answer.users) || answer.users.length !== Math.min(matched, PER_PAGE)) return `${answer.users?.length} users, expected ${Math.min(matched, PER_PAGE)}`;
  const stray = answer.users.find((user) => !search.matches(user, seed));
  return stray ? `user ${stray.user_id} does not match` : undefined;
}

/**
 * `count` requests one after another on one keep-alive connection, after
 * `warmup` unrecorded ones: the service time without queueing.
 */
async function closedLoop(port, request, count, check, warmup = 5) {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const latencies = [];
  let problems = 0;
  try {
    for (let i = -warmup; i < count; i++) {
      const started = performance.now();
      const { status, body } = await new Promise((resolve, reject) => {
        const req = httpRequest({ host: '127.0.0.1', port, path: request.path, headers: request.headers, agent }, (res) => {
          const chunks = [];
          res.on('data', (chunk) => chunks.push(chunk));
          res.on('end', () => resolve({ status: res.statusCode, body: Buffer.concat(chunks).toString('utf8') }));
          res.on('error', reject);
        });
        req.setTimeout(60_000, () => req.destroy(new Error('timeout')));
        req.on('error', reject);
        req.end();
      });
      if (i < 0) continue;
      latencies.push(performance.now() - started);
      if (status !== 200 || check(body)) problems++;
    }
  } finally {
    agent.destroy();
  }
  latencies.sort((a, b) => a - b);
  const at = (p) => latencies[Math.min(latencies.length - 1, Math.max(0, Math.ceil((p / 100) * latencies.length) - 1))];
  return { count, p50: at(50), p95: at(95), max: latencies[latencies.length - 1], problems };
}

async function searchRun(h, started, token, search) {
  const { seed } = started;
  const q = search.q(seed);
  const request = { method: 'GET', path: searchPath(q), headers: { authorization: `Bearer ${token}` } };
  const meta = { scenario: `search ${search.label}`, query: search.key, q, server: `portcullis-${started.backend}`, backend: started.backend, size: started.size, matched: seed.matches[search.key] };
  const check = (body) => searchProblem(search, seed, body);
  const first = await send(started.port, { ...request, timeoutMs: 60_000 });
  if (first.status !== 200 || check(first.body)) throw new Error(`users ${meta.scenario} ${meta.server}: answered ${first.status}: ${first.error ?? check(first.body) ?? ''} ${first.body?.slice(0, 200)}`);
  const answer = JSON.parse(first.body);
  const record = { ...meta, total: answer.total, returned: answer.users.length, bodyBytes: Buffer.byteLength(first.body) };

  await h.waitForQuiet();
  record.closedLoop = await closedLoop(started.port, request, h.settings.usersProbe, check);
  const rate = h.settings.usersSearchRate;
  if (record.closedLoop.problems > 0) h.warn(`users ${meta.scenario} ${meta.server} ${started.size}: ${record.closedLoop.problems} wrong answers in the closed loop`);
  if ((record.closedLoop.p50 / 1000) * rate >= SATURATION) {
    record.saturated = true;
    h.warn(`users ${meta.scenario} ${meta.server} at ${started.size.toLocaleString('en-US')} users: one search takes ${record.closedLoop.p50.toFixed(0)} ms (closed loop, median), so ${rate}/s would keep the server ≥ ${Math.round(SATURATION * 100)} % busy; not run open loop`);
    h.log(`users ${meta.scenario} ${meta.server} ${started.size}: closed loop p50 ${record.closedLoop.p50.toFixed(2)} ms (saturated at ${rate}/s)`);
    return record;
  }

  let wrong = 0;
  let example;
  const hooks = {
    prepare: () => request,
    onResponse: (status, body) => {
      const problem = status === 200 ? check(body) : undefined;
      if (problem) {
        wrong++;
        example ??= problem;
      }
    },
  };
  await h.waitForQuiet();
  const warmup = Math.min(PACED_WARMUP_SECONDS, h.settings.warmupSeconds);
  const dbProcess = started.backend === 'postgres' ? 'postgres' : undefined;
  const window = await h.measureWindow(started.server, () => h.paced(started.port, h.settings.latencySeconds, rate, request, warmup, hooks), { dbProcess });
  assertRunning(started, `users ${meta.scenario}`);
  const r = window.result;
  const served = r.completed + r.warmupSent;
  record.paced = {
    ...r,
    serverCpuPercent: window.serverCpuPercent,
    serverCoreBusyPercent: window.serverCoreBusyPercent,
    serverCpuMsPerSearch: (window.serverCpuSeconds * 1000) / served,
    ...(dbProcess ? { dbCpuMsPerSearch: (window.dbCpuSeconds * 1000) / served } : {}),
    wrong,
  };
  if (r.non2xx > 0 || r.errors > 0 || r.timeouts > 0 || r.warmupErrors > 0 || wrong > 0) {
    record.paced.flagged = true;
    h.warn(`users ${meta.scenario} ${meta.server} ${started.size}: ${r.errors} errors, ${r.timeouts} timeouts, ${r.non2xx} non-2xx (${JSON.stringify(r.statusCounts)}), ${r.warmupErrors} failures in the warm-up, ${wrong} wrong answers${example ? ` (${example})` : ''}`);
  }
  // Poisson arrivals: at 20/s for 10 s the count itself varies by ±7 % (one
  // standard deviation), so only a departure of over 3 deviations says the
  // generator or the server did not keep up.
  const expected = rate * h.settings.latencySeconds;
  if (Math.abs(r.completed - expected) > 3 * Math.sqrt(expected) + 1 || r.completed < r.sent) {
    h.warn(`users ${meta.scenario} ${meta.server} ${started.size}: ${r.completed} of ${r.sent} searches answered in ${r.seconds.toFixed(1)} s (${r.achievedRate.toFixed(1)}/s of the ${rate}/s offered)`);
  }
  h.log(`users ${meta.scenario} ${meta.server} ${started.size}: p50 ${r.latencyMs.p50.toFixed(2)} ms, p95 ${r.latencyMs.p95.toFixed(2)} ms, p99 ${r.latencyMs.p99.toFixed(2)} ms at ${rate}/s (closed loop p50 ${record.closedLoop.p50.toFixed(2)} ms); ${record.matched} match, total ${record.total}`);
  return record;
}

// ------------------------------------------------------------- the SQL

/**
 * "Limit → Sort → Bitmap Heap Scan on users → Bitmap Index Scan on
 * users_search_name (rows 495)": PostgreSQL's plan nodes (the first line and
 * every `->` line), without costs, with the rows each node produced.
 */
function pgPlanOutline(lines) {
  return lines
    .filter((line, i) => i === 0 || /^\s*->/.test(line))
    .map((line) => {
      const rows = /actual time=[\d.]+\.\.[\d.]+ rows=(\d+) loops=(\d+)/.exec(line);
      const name = line.replace(/^\s*->\s*/, '').replace(/\s*\(cost=.*$/, '').trim();
      return rows ? `${name} (rows ${Number(rows[1]) * Number(rows[2])})` : name;
    })
    .join(' → ');
}

/**
 * The SQL one search runs (search page, total, the page's identities), as
 * the users store in dist/ builds it for this database, captured through
 * Kysely's log; then each statement's plan and its own median time over 5
 * runs, on the database the server used (stopped by then).
 */
export async function explainSearches(h, started, searches) {
  const load = (path) => import(pathToFileURL(join(h.root, 'dist', path)).href);
  const [{ Kysely, SqliteDialect, PostgresDialect }, { usersStore }, { systemRuntime }] = await Promise.all([import('kysely'), load('users/store.js'), load('storage/runtime.js')]);
  const captured = [];
  const log = (event) => {
    if (event.level === 'query') captured.push({ sql: event.query.sql, parameters: [...event.query.parameters] });
  };
  let kysely;
  let sqlite;
  let pool;
  if (started.backend === 'sqlite') {
    const { default: Sqlite } = await import('better-sqlite3');
    sqlite = new Sqlite(join(started.dir, 'portcullis.db'), { readonly: true });
    kysely = new Kysely({ dialect: new SqliteDialect({ database: sqlite }), log });
  } else {
    const { default: pg } = await import('pg');
    pool = new pg.Pool({ connectionString: started.db.url, max: 1 });
    kysely = new Kysely({ dialect: new PostgresDialect({ pool }), log });
  }
  const timed = async (run) => {
    const times = [];
    for (let i = 0; i < 5; i++) {
      const t = performance.now();
      await run();
      times.push(performance.now() - t);
    }
    return median(times);
  };
  const out = [];
  try {
    const store = usersStore(kysely, started.seed.tenantId, systemRuntime);
    for (const search of searches) {
      captured.length = 0;
      const result = await store.search({ q: search.q(started.seed), page: 0, perPage: PER_PAGE, includeTotals: true }, started.backend);
      await store.identitiesOf(result.users.map((u) => u.user_id));
      const statements = [];
      for (const [i, { sql, parameters }] of captured.entries()) {
        const role = ['page', 'total', 'identities'][i] ?? `statement ${i + 1}`;
        if (sqlite) {
          const statement = sqlite.prepare(sql);
          const plan = sqlite.prepare(`explain query plan ${sql}`).all(...parameters).map((row) => row.detail);
          statements.push({ role, sql, plan, outline: plan.join('; '), ms: await timed(() => statement.all(...parameters)) });
        } else {
          const explained = await pool.query(`explain (analyze, buffers) ${sql}`, parameters);
          const plan = explained.rows.map((row) => row['QUERY PLAN']);
          const execution = Number(/Execution Time: ([\d.]+)/.exec(plan.join('\n'))?.[1]);
          statements.push({ role, sql, plan, outline: pgPlanOutline(plan), executionMs: execution, ms: await timed(() => pool.query(sql, parameters)) });
        }
      }
      out.push({ backend: started.backend, size: started.size, query: search.key, statements });
    }
  } finally {
    await kysely.destroy();
  }
  return out;
}

// ------------------------------------------------------------------ entry

async function measureDatabase(h, backend, size, out) {
  const label = `portcullis-${backend}-users-${size}`;
  const throughput = size === h.settings.usersThroughputSize;
  let started = await h.startServer('portcullis', undefined, { prepare: prepareMany(h, backend, size), label });
  try {
    const { seed } = started;
    out.seeds.push({ backend, size, adminSeconds: started.adminSeconds, ...Object.fromEntries(Object.entries(seed).filter(([key]) => key !== 'sample')), sampleSize: seed.sample.length, startMs: started.startMs });
    const token = await managementToken(started);
    const bodies = await checkReads(started, token);
    out.bodies ??= bodies;
    if (throughput) {
      for (let round = 1; round <= h.settings.usersRounds; round++) {
        if (round > 1) started = await restartSeeded(h, started, label);
        // The order alternates between rounds, so neither endpoint always runs on the colder server.
        const endpoints = round % 2 === 1 ? ['by-id', 'by-email'] : ['by-email', 'by-id'];
        for (const endpoint of endpoints) out.runs.push(await readRun(h, started, endpoint, token, round));
      }
      // The searches, like every other size's, on a freshly started server.
      started = await restartSeeded(h, started, label);
    }
    for (const search of SEARCHES) out.searches.push(await searchRun(h, started, token, search));
    started.stopped = true;
    await h.stopServer(started.server);
    if (h.settings.usersExplain) out.plans.push(...(await explainSearches(h, started, SEARCHES)));
  } catch (error) {
    throw explainExit(started, `users ${backend} ${size}`, error);
  } finally {
    if (!started.server.exit) await h.stopServer(started.server);
    await started.cleanup?.();
  }
}

export async function measureUsers(h) {
  const { settings } = h;
  const out = { seeds: [], runs: [], searches: [], plans: [], skipped: [] };
  const wantsPostgres = settings.usersBackends.includes('postgres');
  out.postgres = wantsPostgres ? await postgresFor(h, 'users') : { url: settings.pgUrl, skipped: 'not in BENCH_USERS_BACKENDS' };
  const backends = settings.usersBackends.filter((b) => b !== 'postgres' || !out.postgres.skipped);
  if (!settings.usersSizes.includes(settings.usersThroughputSize)) h.warn(`users: BENCH_USERS_THROUGHPUT_SIZE ${settings.usersThroughputSize} is not one of BENCH_USERS_SIZES (${settings.usersSizes.join(', ')}): no throughput runs`);
  for (const size of settings.usersSizes) {
    for (const backend of backends) {
      if (backend === 'sqlite' && size > settings.usersSqliteMax) {
        out.skipped.push({ backend, size, why: `BENCH_USERS_SQLITE_MAX is ${settings.usersSqliteMax}` });
        continue;
      }
      await measureDatabase(h, backend, size, out);
    }
  }
  return out;
}

// --------------------------------------------------------------- summary

function stat(runs, pick) {
  const values = runs.map(pick).filter((v) => Number.isFinite(v));
  return values.length ? spread(values) : undefined;
}

export function summarizeUsers(users, goals) {
  const reads = [];
  for (const backend of [...new Set(users.runs.map((r) => r.backend))]) {
    for (const endpoint of ['by-id', 'by-email']) {
      const mine = users.runs.filter((r) => r.backend === backend && r.endpoint === endpoint);
      if (!mine.length) continue;
      const rps = stat(mine, (r) => r.load.requestsPerSecond);
      const atGoalSize = mine[0].size === goals.usersGoalSize;
      reads.push({
        backend,
        endpoint,
        scenario: mine[0].scenario,
        size: mine[0].size,
        rps,
        cpuMicros: stat(mine, (r) => r.serverCpuMicrosPerRequest),
        dbCpuMicros: stat(mine, (r) => r.dbCpuMicrosPerRequest),
        perCoreSecond: 1e6 / median(mine.map((r) => r.serverCpuMicrosPerRequest)),
        // The goal is SQLite's, on one core, at the goal size.
        met: backend === 'sqlite' && atGoalSize ? rps.median >= goals.usersReadRps : undefined,
        wrong: mine.reduce((n, r) => n + (r.checked?.wrong ?? 0), 0),
        checked: mine.reduce((n, r) => n + (r.checked?.checked ?? 0), 0),
        flagged: mine.some((r) => r.flagged),
      });
    }
  }
  const searches = users.searches.map((s) => {
    const p95 = s.paced?.latencyMs.p95;
    return { ...s, met: s.size === goals.usersGoalSize ? (s.saturated ? false : p95 <= goals.usersSearchP95Ms) : undefined };
  });
  return { reads, searches, seeds: users.seeds };
}
