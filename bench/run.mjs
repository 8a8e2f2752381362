#!/usr/bin/env node
// `npm run bench`: Portcullis against its baselines (bare Fastify, bare
// oidc-provider), in one run, on one machine. Servers run pinned to one core,
// the load generator (autocannon, in this process) to another. What it
// measures and why: docs/performance.md.
//
// Settings (environment): BENCH_ONLY (all sections: startup, healthz, token,
// pg, read, login, refresh, users, streams, protection; "foundation" = startup,healthz, "oidc" =
// token,pg,read,login,refresh, "mgmt" = users, "events" = protection),
// BENCH_CONNECTIONS (50), BENCH_WARMUP (3 s), BENCH_DURATION (10 s),
// BENCH_ROUNDS (3, /healthz), BENCH_OIDC_ROUNDS (2, the oidc sections),
// BENCH_LATENCY_DURATION (10 s), BENCH_LATENCY_TOOL (paced | autocannon |
// both), BENCH_ALGS (RS256,ES256), BENCH_PG_URL
// (postgres://postgres@127.0.0.1:5432), BENCH_START_RUNS (5),
// BENCH_IDLE_WAIT (5 s), BENCH_SERVER_CPU (0), BENCH_LOADGEN_CPU (1),
// BENCH_QUIET_WAIT (20 s per run) and BENCH_QUIET_BUDGET (120 s in all):
// how long to wait for both cores to be idle before a run's warm-up;
// the users section: BENCH_USERS_SIZES (10000,100000,1000000),
// BENCH_USERS_BACKENDS (sqlite,postgres), BENCH_USERS_SQLITE_MAX (1000000),
// BENCH_USERS_THROUGHPUT_SIZE (100000), BENCH_USERS_ROUNDS (2),
// BENCH_USERS_SEARCH_RATE (20 per second), BENCH_USERS_SAMPLE (1000 users),
// BENCH_USERS_PROBE (20 closed-loop searches), BENCH_USERS_EXPLAIN (1),
// BENCH_USERS_SQLITE_ANALYZE (1; 0 leaves SQLite without statistics);
// the streams section: BENCH_STREAMS_BACKENDS (sqlite,postgres),
// BENCH_STREAMS_EVENTS (100000 backlog), BENCH_STREAMS_RATE (5000 per second),
// BENCH_STREAMS_SECONDS (20), BENCH_STREAMS_BATCH and BENCH_STREAMS_LINGER_MS
// (the worker's LOG_STREAM_* defaults when unset); see bench/lib/log-streams.mjs.
import { build, buildIsCurrent } from '../bin/build.js';
import autocannon from 'autocannon';
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { measureAuthApi, summarizeAuthApi } from './lib/auth-api.mjs';
import { measureUsers, summarizeUsers } from './lib/management-users.mjs';
import { measureStreams, renderStreams, summarizeStreams } from './lib/log-streams.mjs';
import { pacedLoad } from './lib/paced.mjs';
import { measureLogin, summarizeLogin } from './lib/password-login.mjs';
import { measureProtection, renderProtection, summarizeProtection } from './lib/protection.mjs';
import { refreshLoad } from './lib/refresh-load.mjs';
import { measureRefresh, summarizeRefresh } from './lib/refresh-rotation.mjs';
import { dropAllCreated, pendingDatabases } from './lib/postgres.mjs';
import { allowedCpus, cleanupAll, coreTicks, cpuTicks, cpuTicksByName, freePort, get, killAllSync, makeTempDir, memoryKiB, removeTempDir, spawnPinned, stopProcess, waitFor200 } from './lib/processes.mjs';
import { median, renderMarkdown, spread } from './lib/report.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const GOALS = Object.freeze({
  healthzRatio: 0.9,
  startMs: 1500,
  idleRssMiB: 120,
  // Issue 3 (Authentication API): ratios to the bare oidc-provider baseline
  // and to the hello-world (bare Fastify /healthz) server of the same run.
  tokenVsBaseline: 1.0,
  readVsBaseline: 2.5,
  readVsHelloWorld: 0.6,
  // Password-realm logins per second against raw argon2id verifications on the same core.
  loginVsArgon2: 0.85,
  refreshVsBaseline: 0.8,
  // Rows written per rotation to Portcullis's tables (PostgreSQL's
  // pg_stat_user_tables: inserted + updated + deleted).
  refreshWritesPerRotation: 2,
  // Management API (users section), at usersGoalSize users: GET a user by id
  // and by email per second on one core (SQLite), and the p95 of the three
  // searches at a modest fixed rate (SQLite and PostgreSQL).
  usersGoalSize: 100_000,
  usersReadRps: 3000,
  usersSearchP95Ms: 50,
  // Issue 5 (section streams): log-stream delivery to a local webhook, and the
  // delivery lag p99 while events are written at that rate.
  streamsEventsPerSecond: 5000,
  streamsLagP99Ms: 2000,
  // Issue 5 (section protection): password login and client_credentials
  // req/s with logging and attack protection on (the defaults) against both
  // off, same run.
  protectionOnVsOff: 0.95,
});
const SECTIONS = ['startup', 'healthz', 'token', 'pg', 'read', 'login', 'refresh', 'users', 'streams', 'protection'];
const SECTION_ALIASES = { all: SECTIONS, foundation: ['startup', 'healthz'], oidc: ['token', 'pg', 'read', 'login', 'refresh'], mgmt: ['users'], events: ['protection'] };
const START_DEADLINE_MS = 30_000;

function intSetting(name, fallback, min, max) {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) throw new Error(`${name} must be an integer from ${min} to ${max} (got "${raw}")`);
  return value;
}

function sectionsSetting() {
  const raw = process.env.BENCH_ONLY;
  if (raw === undefined || raw.trim() === '') return SECTIONS;
  const wanted = new Set();
  for (const name of raw.split(',').map((n) => n.trim()).filter(Boolean)) {
    if (SECTION_ALIASES[name]) SECTION_ALIASES[name].forEach((n) => wanted.add(n));
    else if (SECTIONS.includes(name)) wanted.add(name);
    else throw new Error(`BENCH_ONLY: unknown section "${name}" (sections: ${SECTIONS.join(', ')}; or ${Object.keys(SECTION_ALIASES).join(', ')})`);
  }
  return SECTIONS.filter((n) => wanted.has(n));
}

function choiceSetting(name, fallback, choices) {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  if (!choices.includes(raw)) throw new Error(`${name} must be one of ${choices.join(', ')} (got "${raw}")`);
  return raw;
}

function algsSetting() {
  const raw = process.env.BENCH_ALGS;
  if (raw === undefined || raw === '') return ['RS256', 'ES256'];
  const algs = raw.split(',').map((a) => a.trim()).filter(Boolean);
  for (const alg of algs) if (!['RS256', 'ES256'].includes(alg)) throw new Error(`BENCH_ALGS: "${alg}" is not RS256 or ES256`);
  if (algs.length === 0) throw new Error('BENCH_ALGS is empty');
  return algs;
}

function listSetting(name, fallback, parse) {
  const raw = process.env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  const values = raw.split(',').map((v) => v.trim()).filter(Boolean).map((v) => parse(v, name));
  if (values.length === 0) throw new Error(`${name} is empty`);
  return values;
}

function userCount(raw, name) {
  const value = Number(raw.replace(/_/g, ''));
  if (!Number.isInteger(value) || value < 1 || value > 10_000_000) throw new Error(`${name}: "${raw}" is not a number of users from 1 to 10000000`);
  return value;
}

function backendName(raw, name) {
  if (!['sqlite', 'postgres'].includes(raw)) throw new Error(`${name}: "${raw}" is not sqlite or postgres`);
  return raw;
}

const settings = Object.freeze({
  sections: sectionsSetting(),
  connections: intSetting('BENCH_CONNECTIONS', 50, 1, 10_000),
  warmupSeconds: intSetting('BENCH_WARMUP', 3, 0, 600),
  durationSeconds: intSetting('BENCH_DURATION', 10, 1, 3600),
  rounds: intSetting('BENCH_ROUNDS', 3, 1, 50),
  startRuns: intSetting('BENCH_START_RUNS', 5, 1, 100),
  idleWaitSeconds: intSetting('BENCH_IDLE_WAIT', 5, 0, 600),
  serverCpu: intSetting('BENCH_SERVER_CPU', 0, 0, 1023),
  loadgenCpu: intSetting('BENCH_LOADGEN_CPU', 1, 0, 1023),
  oidcRounds: intSetting('BENCH_OIDC_ROUNDS', 2, 1, 50),
  latencySeconds: intSetting('BENCH_LATENCY_DURATION', 10, 1, 3600),
  latencyTool: choiceSetting('BENCH_LATENCY_TOOL', 'paced', ['paced', 'autocannon', 'both']),
  algs: algsSetting(),
  pgUrl: process.env.BENCH_PG_URL || 'postgres://postgres@127.0.0.1:5432',
  quietWaitSeconds: intSetting('BENCH_QUIET_WAIT', 20, 0, 600),
  quietBudgetSeconds: intSetting('BENCH_QUIET_BUDGET', 120, 0, 3600),
  usersSizes: [...new Set(listSetting('BENCH_USERS_SIZES', [10_000, 100_000, 1_000_000], userCount))].sort((a, b) => a - b),
  usersBackends: [...new Set(listSetting('BENCH_USERS_BACKENDS', ['sqlite', 'postgres'], backendName))],
  usersSqliteMax: intSetting('BENCH_USERS_SQLITE_MAX', 1_000_000, 1, 10_000_000),
  usersThroughputSize: intSetting('BENCH_USERS_THROUGHPUT_SIZE', 100_000, 1, 10_000_000),
  usersRounds: intSetting('BENCH_USERS_ROUNDS', 2, 1, 50),
  usersSearchRate: intSetting('BENCH_USERS_SEARCH_RATE', 20, 1, 10_000),
  usersSample: intSetting('BENCH_USERS_SAMPLE', 1000, 1, 100_000),
  usersProbe: intSetting('BENCH_USERS_PROBE', 20, 1, 10_000),
  usersExplain: intSetting('BENCH_USERS_EXPLAIN', 1, 0, 1) === 1,
  usersSqliteAnalyze: intSetting('BENCH_USERS_SQLITE_ANALYZE', 1, 0, 1) === 1,
});

if (settings.serverCpu === settings.loadgenCpu) throw new Error('BENCH_SERVER_CPU and BENCH_LOADGEN_CPU must differ: servers and load generator get a core each');

const log = (message) => process.stderr.write(`bench: ${message}\n`);
const warnings = [];
const warn = (message) => {
  warnings.push(message);
  log(`warning: ${message}`);
};

// ---------------------------------------------------------------- pinning

/**
 * Re-executes this script under `taskset -c <loadgen cpu>` unless it already
 * runs there: every thread autocannon or Node starts then inherits the pin,
 * which `taskset -p` on a running process would not guarantee.
 */
function reexecPinned() {
  if (process.env.BENCH_PINNED === '1') throw new Error(`re-executed under taskset but still allowed on CPUs ${allowedCpus()}`);
  const args = ['-c', String(settings.loadgenCpu), process.execPath, ...process.execArgv, fileURLToPath(import.meta.url), ...process.argv.slice(2)];
  const child = spawn('taskset', args, { stdio: 'inherit', env: { ...process.env, BENCH_PINNED: '1' } });
  const forward = (signal) => child.kill(signal);
  process.on('SIGINT', forward);
  process.on('SIGTERM', forward);
  child.once('error', (error) => {
    process.stderr.write(`bench: cannot run taskset (${error.message}); it is needed to pin servers and load generator\n`);
    process.exit(1);
  });
  child.once('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
}

// ------------------------------------------------------------------ build

/** Builds dist/ when stale (the launcher's rule, bin/build.js), so that no timed start includes a tsc run. */
function ensureBuild() {
  if (buildIsCurrent(root)) return { rebuilt: false };
  log('dist/ is stale: building with tsc');
  const started = performance.now();
  if (!build(root)) throw new Error('tsc build failed');
  if (!buildIsCurrent(root)) throw new Error('build stamp is still older than the sources (clock skew?)');
  return { rebuilt: true, ms: performance.now() - started };
}

// ---------------------------------------------------------------- servers

const masterKey = randomBytes(32).toString('hex');

/** Only what the server needs: nothing inherited can change what is measured. */
function baseEnv(home) {
  return { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? home, NODE_ENV: 'production' };
}

function serverSpec(kind, port, dir, options = {}) {
  if (kind === 'bare') {
    return { script: join(root, 'bench', 'bare-fastify.mjs'), args: [String(port)], env: { ...baseEnv(root), HOST: '127.0.0.1' }, readyPath: '/healthz' };
  }
  if (kind === 'oidc-baseline') {
    return {
      script: join(root, 'bench', 'oidc-baseline.mjs'),
      args: [String(port), '--alg', options.alg ?? 'RS256', '--keys', String(options.keys ?? 1), ...(options.refresh ? ['--refresh'] : [])],
      env: { ...baseEnv(root), HOST: '127.0.0.1', ...options.env },
      readyPath: '/.well-known/openid-configuration',
    };
  }
  return {
    script: join(root, 'bin', 'portcullis.js'),
    args: ['start'],
    readyPath: '/readyz',
    env: { ...portcullisEnv(port, dir), ...options.env },
  };
}

/** The environment of a Portcullis server, and of a CLI run against the same database. */
function portcullisEnv(port, dir) {
  return {
    ...baseEnv(dir),
    MASTER_KEY: masterKey,
    LOG_LEVEL: 'warn',
    LOG_FORMAT: 'json',
    HOST: '127.0.0.1',
    PORT: String(port),
    PUBLIC_URL: `http://127.0.0.1:${port}`,
    DATABASE_URL: `sqlite:${join(dir, 'portcullis.db')}`,
    MASTER_KEY_FILE: join(dir, 'master.key'),
  };
}

/**
 * Starts a server on a free port (or `options.port`), pinned to the server CPU, and times spawn →
 * first 200 from its readiness path. Retries (at most twice) only when the
 * port was taken between choosing and binding it. `options.prepare(port)`,
 * when given, runs before each spawn (e.g. a CLI run on the server's future
 * database) and returns { env, ...context }: env is added to the server's,
 * the rest is returned with the server.
 */
async function startServer(kind, dir, options = {}) {
  let lastError;
  // options.port: restart on a known port (bench/lib/seeded-portcullis.mjs), no retry on another.
  for (let attempt = 1; attempt <= (options.port ? 1 : 3); attempt++) {
    const port = options.port ?? (await freePort());
    const prepared = options.prepare ? await options.prepare(port) : {};
    const { env: preparedEnv, ...context } = prepared;
    const spec = serverSpec(kind, port, prepared.dir ?? dir, { ...options, env: { ...options.env, ...preparedEnv } });
    const started = performance.now();
    const server = spawnPinned({ cpu: settings.serverCpu, script: spec.script, args: spec.args, env: spec.env, cwd: root, label: options.label ?? kind });
    try {
      const readyAt = await waitFor200(server, port, spec.readyPath, { deadlineMs: START_DEADLINE_MS });
      const pinned = allowedCpus(server.pid);
      if (pinned !== String(settings.serverCpu)) throw new Error(`${kind} runs on CPUs ${pinned}, not ${settings.serverCpu}`);
      return { ...context, server, port, startMs: readyAt - started, rebuilt: server.output().includes('portcullis: building') };
    } catch (error) {
      await stopProcess(server);
      await context.cleanup?.();
      lastError = error;
      if (!server.output().includes('EADDRINUSE')) break;
    }
  }
  throw lastError;
}

async function stopServer(server) {
  const exit = await stopProcess(server);
  if (exit?.code !== 0) warn(`${server.label} (pid ${server.pid}) did not exit cleanly on SIGTERM: ${JSON.stringify(exit)}`);
}

// ---------------------------------------------------------- start → ready

/** `count` timed starts; a start during which bin/ rebuilt dist/ is discarded and redone. */
async function timedStarts(label, count, dirForRun) {
  const samples = [];
  const maxAttempts = count + 3;
  for (let attempt = 0; attempt < maxAttempts && samples.length < count; attempt++) {
    const dir = dirForRun();
    const { server, startMs, rebuilt } = await startServer('portcullis', dir);
    await stopServer(server);
    if (rebuilt) {
      warn(`${label} start ${attempt + 1}: bin/portcullis.js rebuilt dist/ (sources changed during the bench); sample discarded`);
      continue;
    }
    samples.push(startMs);
    log(`start→ready (${label}) ${samples.length}/${count}: ${Math.round(startMs)} ms`);
  }
  if (samples.length < count) throw new Error(`only ${samples.length} of ${count} ${label} starts were valid`);
  return samples;
}

async function measureStartup() {
  // One discarded start first: it pages node, node_modules and dist/ into the
  // OS cache, which every later start (and any restart in production) finds.
  const warmDir = makeTempDir('portcullis-bench-');
  const warm = await startServer('portcullis', warmDir);
  await stopServer(warm.server);
  removeTempDir(warmDir);
  log(`discarded warm-up start: ${Math.round(warm.startMs)} ms`);

  let dir;
  const fresh = await timedStarts('fresh DB', settings.startRuns, () => {
    if (dir) removeTempDir(dir);
    dir = makeTempDir('portcullis-bench-');
    return dir;
  });
  // Restarts reuse the database the last fresh start created.
  const restart = await timedStarts('existing DB', settings.startRuns, () => dir);
  removeTempDir(dir);
  return { warmupStartMs: warm.startMs, fresh, restart };
}

// ------------------------------------------------------------- throughput

let currentLoad;
let currentPaced;
let currentRefresh;

/**
 * autocannon against 127.0.0.1:port with the bench's connection count.
 * `request` = { method, path, headers, body } (default GET /healthz);
 * `extra` = further autocannon options (e.g. overallRate).
 */
function load(port, seconds, request = { path: '/healthz' }, extra = {}) {
  const instance = autocannon({
    url: `http://127.0.0.1:${port}${request.path}`,
    method: request.method ?? 'GET',
    ...(request.headers ? { headers: request.headers } : {}),
    ...(request.body !== undefined ? { body: request.body } : {}),
    connections: settings.connections,
    duration: seconds,
    timeout: 10,
    ...extra,
  });
  currentLoad = instance;
  return instance.then((result) => {
    currentLoad = undefined;
    return result;
  });
}

/**
 * The open-loop generator of bench/lib/paced.mjs, stoppable on Ctrl-C.
 * `hooks` ({ prepare, onResponse, onFailure }) replace the fixed request for
 * chained requests (refresh-token rotation).
 */
function paced(port, seconds, rate, request, warmupSeconds = 0, hooks = undefined) {
  const controller = new AbortController();
  currentPaced = controller;
  const chained = hooks ? { prepare: hooks.prepare, onResponse: hooks.onResponse, onFailure: hooks.onFailure } : { prepare: () => request };
  return pacedLoad({ port, rate, seconds, warmupSeconds, maxConnections: settings.connections, signal: controller.signal, ...chained }).finally(() => {
    currentPaced = undefined;
  });
}

/** The closed-loop refresh-token rotation load of bench/lib/refresh-load.mjs, stoppable on Ctrl-C. */
function rotate(options) {
  const controller = new AbortController();
  currentRefresh = controller;
  return refreshLoad({ ...options, signal: controller.signal }).finally(() => {
    currentRefresh = undefined;
  });
}

/**
 * A handful of requests such as a probe, an operator and a relying party
 * would make (discovery and JWKS build the tenant's protocol engine, so idle
 * RSS includes it), then checks they worked.
 */
async function serveHandful(kind, port) {
  const paths = kind === 'bare' ? ['/healthz'] : ['/healthz', '/readyz', '/metrics', '/', '/.well-known/openid-configuration', '/.well-known/jwks.json'];
  for (let i = 0; i < 5; i++) {
    for (const path of paths) {
      const response = await get(port, path);
      if (response.status !== 200) warn(`${kind} GET ${path} answered ${response.status} ${response.error ?? response.body.slice(0, 200)}`);
    }
  }
}

const CLOCK_TICKS = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

/**
 * Runs `fn` (a load) and measures, over exactly that window: the server's
 * CPU time (all its threads), the load generator's, how busy each pinned core
 * was in all, and optionally the CPU of every process named `dbProcess`
 * (PostgreSQL, which is not pinned).
 */
async function measureWindow(server, fn, { dbProcess } = {}) {
  const ticksBefore = cpuTicks(server.pid);
  const dbBefore = dbProcess ? cpuTicksByName(dbProcess) : undefined;
  const cpuBefore = process.cpuUsage();
  const coresBefore = [coreTicks(settings.serverCpu), coreTicks(settings.loadgenCpu)];
  const startedAt = performance.now();
  const result = await fn();
  const wallSeconds = (performance.now() - startedAt) / 1000;
  const serverCpuSeconds = (cpuTicks(server.pid) - ticksBefore) / CLOCK_TICKS;
  const dbCpuSeconds = dbProcess ? (cpuTicksByName(dbProcess).ticks - dbBefore.ticks) / CLOCK_TICKS : undefined;
  const loadgenCpu = process.cpuUsage(cpuBefore);
  // How busy each core was, all processes included: on a shared machine the
  // part not explained by the server (or the load generator) is other work.
  const [serverCoreBusyPercent, loadgenCoreBusyPercent] = [settings.serverCpu, settings.loadgenCpu].map((cpu, i) => {
    const now = coreTicks(cpu);
    return ((now.busy - coresBefore[i].busy) / (now.total - coresBefore[i].total)) * 100;
  });
  return {
    result,
    wallSeconds,
    serverCpuSeconds,
    serverCpuPercent: (serverCpuSeconds / wallSeconds) * 100,
    dbCpuSeconds,
    loadgenCpuPercent: ((loadgenCpu.user + loadgenCpu.system) / 1e6 / wallSeconds) * 100,
    serverCoreBusyPercent,
    loadgenCoreBusyPercent,
  };
}

/**
 * Waits (at most `deadlineMs`) until the server used under 10 % of a core
 * over 200 ms: it has finished what a stopped load generator left queued
 * (autocannon drops its connections at the end of a run, but the server
 * still completes the requests they sent). Returns how long it waited.
 */
async function waitForIdleServer(server, deadlineMs = 30_000) {
  const started = performance.now();
  for (let attempt = 0; attempt < Math.ceil(deadlineMs / 200) && !server.exit; attempt++) {
    const before = cpuTicks(server.pid);
    await sleep(200);
    if (server.exit) break;
    if ((cpuTicks(server.pid) - before) / CLOCK_TICKS < 0.02) break;
  }
  return performance.now() - started;
}

let quietSpentMs = 0;

/**
 * On a shared machine, waits (at most BENCH_QUIET_WAIT seconds per run and
 * BENCH_QUIET_BUDGET in all) until both pinned cores were under 15 % busy
 * for half a second, so that a run is less likely to start while other work
 * is running. Call it while the server under test is idle. Returns what
 * happened, for the run's record.
 */
async function waitForQuiet() {
  const limitMs = Math.max(0, Math.min(settings.quietWaitSeconds * 1000, settings.quietBudgetSeconds * 1000 - quietSpentMs));
  const started = performance.now();
  let busy = [NaN, NaN];
  for (let attempt = 0; attempt < 1 + Math.ceil(limitMs / 500); attempt++) {
    const before = [coreTicks(settings.serverCpu), coreTicks(settings.loadgenCpu)];
    await sleep(500);
    busy = [settings.serverCpu, settings.loadgenCpu].map((cpu, i) => {
      const now = coreTicks(cpu);
      return ((now.busy - before[i].busy) / Math.max(1, now.total - before[i].total)) * 100;
    });
    if (busy.every((b) => b < 15) || performance.now() - started >= limitMs) break;
  }
  const waitedMs = performance.now() - started;
  quietSpentMs += Math.max(0, waitedMs - 500);
  const quiet = busy.every((b) => b < 15);
  if (!quiet) log(`cores still busy (${busy.map((b) => Math.round(b)).join(' %, ')} %) after ${Math.round(waitedMs / 1000)} s; measuring anyway`);
  return { quiet, waitedMs, busyPercent: busy };
}

/** The fields every autocannon run records (tables and JSON). */
function loadRecord(result) {
  return {
    requestsPerSecond: result.requests.average,
    requestsTotal: result.requests.total,
    durationSeconds: result.duration,
    latencyAvgMs: result.latency.average,
    latencyP50Ms: result.latency.p50,
    latencyP99Ms: result.latency.p99,
    errors: result.errors,
    timeouts: result.timeouts,
    non2xx: result.non2xx,
    statusCodes: Object.fromEntries(Object.entries(result.statusCodeStats ?? {}).map(([code, { count }]) => [code, count])),
  };
}

async function throughputRun(kind, round) {
  const dir = kind === 'portcullis' ? makeTempDir('portcullis-bench-') : undefined;
  const { server, port, startMs } = await startServer(kind, dir);
  try {
    const body = (await get(port, '/healthz')).body;
    if (body !== '{"status":"ok"}') throw new Error(`${kind} /healthz answered ${body}`);
    await serveHandful(kind, port);
    await sleep(settings.idleWaitSeconds * 1000);
    const idle = memoryKiB(server.pid);
    const quiet = await waitForQuiet();
    if (settings.warmupSeconds > 0) await load(port, settings.warmupSeconds);

    const window = await measureWindow(server, () => load(port, settings.durationSeconds));
    const { result } = window;
    const afterLoad = memoryKiB(server.pid);
    const run = {
      round,
      kind,
      startMs,
      serverCpuPercent: window.serverCpuPercent,
      // CPU time the server spent per request: unlike req/s, it barely moves
      // when other work on a shared machine takes turns on the server's core.
      serverCpuMicrosPerRequest: (window.serverCpuSeconds * 1e6) / result.requests.total,
      loadgenCpuPercent: window.loadgenCpuPercent,
      serverCoreBusyPercent: window.serverCoreBusyPercent,
      loadgenCoreBusyPercent: window.loadgenCoreBusyPercent,
      memory: { idle, afterLoad },
      quiet,
      load: loadRecord(result),
    };
    checkRun(`round ${round} ${kind}`, run);
    log(`round ${round} ${kind}: ${Math.round(run.load.requestsPerSecond)} req/s, server CPU ${Math.round(run.serverCpuPercent)} %, load generator ${Math.round(run.loadgenCpuPercent)} %`);
    return run;
  } finally {
    await stopServer(server);
    if (dir) removeTempDir(dir);
  }
}

/** Warnings for a measured run: errors, a starved server, a saturated load generator. */
function checkRun(label, run) {
  const l = run.load;
  if (l.errors > 0 || l.timeouts > 0 || l.non2xx > 0) {
    run.flagged = true;
    warn(`${label}: ${l.errors} errors, ${l.timeouts} timeouts, ${l.non2xx} non-2xx (status codes ${JSON.stringify(l.statusCodes)}); its rate counts only what was answered`);
  }
  if (run.serverCpuPercent < 85) warn(`${label}: the server got ${Math.round(run.serverCpuPercent)} % of its core (core busy ${Math.round(run.serverCoreBusyPercent)} % in all), so other work on the machine or the load generator limited it`);
  if (run.loadgenCpuPercent > 90) warn(`${label}: the load generator used ${Math.round(run.loadgenCpuPercent)} % of its core, so it may have capped the rate`);
}

async function measureThroughput() {
  const runs = [];
  for (let round = 1; round <= settings.rounds; round++) {
    for (const kind of ['bare', 'portcullis']) runs.push(await throughputRun(kind, round));
  }
  return runs;
}

// ---------------------------------------------------------------- report

/**
 * The commit measured, and whether the working tree differed from it.
 * BENCH_COMMIT names it when the bench runs from an export without .git
 * (e.g. `git archive HEAD`, to measure a commit while the working tree moves).
 */
function revision() {
  if (process.env.BENCH_COMMIT) return { commit: process.env.BENCH_COMMIT, dirty: false, exported: true };
  try {
    const git = (...args) => execFileSync('git', args, { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    return { commit: git('rev-parse', '--short', 'HEAD'), dirty: git('status', '--porcelain', '--untracked-files=no').length > 0 };
  } catch {
    return { commit: 'unknown', dirty: false };
  }
}

function machineInfo() {
  const cpuinfo = readFileSync('/proc/cpuinfo', 'utf8');
  const version = (pkg) => JSON.parse(readFileSync(join(root, 'node_modules', pkg, 'package.json'), 'utf8')).version;
  return {
    date: execFileSync('date', ['-u'], { encoding: 'utf8' }).trim(),
    isoDate: new Date().toISOString(),
    node: process.version,
    cpuModel: /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1]?.trim() ?? 'unknown',
    onlineCpus: cpus().length,
    kernel: execFileSync('uname', ['-r'], { encoding: 'utf8' }).trim(),
    autocannon: version('autocannon'),
    fastify: version('fastify'),
    oidcProvider: version('oidc-provider'),
    loadgenCpus: allowedCpus(),
    revision: revision(),
    loadavgStart: loadavg().map((n) => n.toFixed(2)).join(' '),
  };
}

function summarize(startup, runs) {
  const summary = {};
  if (runs) {
    const of = (kind, pick) => runs.filter((run) => run.kind === kind).map(pick);
    const bareRps = spread(of('bare', (run) => run.load.requestsPerSecond));
    const portcullisRps = spread(of('portcullis', (run) => run.load.requestsPerSecond));
    const bareCost = spread(of('bare', (run) => run.serverCpuMicrosPerRequest));
    const portcullisCost = spread(of('portcullis', (run) => run.serverCpuMicrosPerRequest));
    const perRound = [];
    for (let round = 1; round <= settings.rounds; round++) {
      const pick = (kind) => runs.find((run) => run.round === round && run.kind === kind).load.requestsPerSecond;
      perRound.push(pick('portcullis') / pick('bare'));
    }
    summary.throughput = { bare: bareRps, portcullis: portcullisRps, ratio: portcullisRps.median / bareRps.median, ratioPerRound: perRound, ratioMedianOfRounds: median(perRound) };
    summary.cpuPerRequest = { bareMicros: bareCost, portcullisMicros: portcullisCost, ratio: bareCost.median / portcullisCost.median };
    summary.idleRss = { portcullis: spread(of('portcullis', (run) => run.memory.idle.rss)), bare: spread(of('bare', (run) => run.memory.idle.rss)) };
  }
  if (startup) {
    // Bare Fastify's spawn → first 200 comes from its /healthz runs, when they ran.
    const bare = runs ? spread(runs.filter((run) => run.kind === 'bare').map((run) => run.startMs)) : undefined;
    summary.startup = { fresh: spread(startup.fresh), restart: spread(startup.restart), bare, warmupStartMs: startup.warmupStartMs };
  }
  return summary;
}

/** What each section runs on this machine, for the harness passed to bench/lib/auth-api.mjs. */
const harness = {
  settings,
  goals: GOALS,
  root,
  log,
  warn,
  startServer,
  stopServer,
  measureWindow,
  waitForQuiet,
  waitForIdleServer,
  loadRecord,
  checkRun,
  load,
  paced,
  refreshLoad: rotate,
  portcullisEnv,
  baseEnv,
};

async function main() {
  const machine = machineInfo();
  const has = (section) => settings.sections.includes(section);
  log(`load generator on CPUs ${machine.loadgenCpus}, servers on CPU ${settings.serverCpu}; ${JSON.stringify(settings)}`);
  const build = ensureBuild();
  log(build.rebuilt ? `built dist/ in ${Math.round(build.ms)} ms` : 'dist/ is current');

  const startedAt = performance.now();
  const startup = has('startup') ? await measureStartup() : undefined;
  const runs = has('healthz') ? await measureThroughput() : undefined;
  const authApi = has('token') || has('pg') || has('read') ? await measureAuthApi(harness) : undefined;
  const login = has('login') ? await measureLogin(harness) : undefined;
  const refresh = has('refresh') ? await measureRefresh(harness) : undefined;
  const users = has('users') ? await measureUsers(harness) : undefined;
  const streams = has('streams') ? await measureStreams(harness) : undefined;
  const protection = has('protection') ? await measureProtection(harness) : undefined;
  machine.loadavgEnd = loadavg().map((n) => n.toFixed(2)).join(' ');
  machine.benchSeconds = (performance.now() - startedAt) / 1000;

  const summary = summarize(startup, runs);
  if (authApi) summary.authApi = summarizeAuthApi(authApi, GOALS);
  if (login) summary.login = summarizeLogin(login, GOALS);
  if (refresh) summary.refresh = summarizeRefresh(refresh, GOALS);
  if (users) summary.users = summarizeUsers(users, GOALS);
  if (streams) summary.streams = summarizeStreams(streams, GOALS);
  if (protection) summary.protection = summarizeProtection(protection, GOALS);
  const report = { machine, settings, goals: GOALS, build, summary, startup, runs, authApi, login, refresh, users, streams, protection, warnings };
  process.stdout.write('\n' + renderMarkdown(report) + (streams ? renderStreams(streams, summary.streams, GOALS, settings) : '') + (protection ? renderProtection(protection, summary.protection, GOALS, settings) : ''));
  const resultsDir = join(root, 'bench', 'results');
  mkdirSync(resultsDir, { recursive: true });
  // latest.json for tools; a dated copy so that a later run does not erase this one.
  const json = JSON.stringify(report, null, 2) + '\n';
  const dated = `run-${machine.isoDate.replace(/[:.]/g, '-')}.json`;
  writeFileSync(join(resultsDir, 'latest.json'), json);
  writeFileSync(join(resultsDir, dated), json);
  log(`wrote bench/results/latest.json and bench/results/${dated} (${Math.round(machine.benchSeconds)} s of measuring)`);
}

async function runPinned() {
  let stopping = false;
  const interrupt = (signal) => {
    if (stopping) return;
    stopping = true;
    log(`${signal}: stopping servers`);
    currentLoad?.stop();
    currentPaced?.abort();
    currentRefresh?.abort();
    cleanupAll()
      .then(dropAllCreated)
      .finally(() => process.exit(130));
  };
  process.on('SIGINT', interrupt);
  process.on('SIGTERM', interrupt);
  process.on('exit', () => {
    killAllSync();
    const left = pendingDatabases();
    if (left.length > 0) process.stderr.write(`bench: PostgreSQL databases left behind (drop them with psql): ${left.join(', ')}\n`);
  });
  try {
    await main();
  } catch (error) {
    process.stderr.write(`bench: failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exitCode = 1;
  } finally {
    await cleanupAll();
    await dropAllCreated();
  }
}

if (allowedCpus() === String(settings.loadgenCpu)) await runPinned();
else reexecPinned();
