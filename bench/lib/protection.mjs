// The bench's `protection` section (alias `events`; issue 5): "Password login
// and client_credentials throughput with logging and protection on stay
// ≥ 95 % of the same benchmark with them off (same run)".
//
// Each run: a fresh Portcullis on a database that bench/lib/seed-users.mjs
// (the password-realm application and user of the `login` section) and then
// `portcullis admin-client --json` (the Management API client of the `token`
// section) set up before the server starts; SQLite, and PostgreSQL when
// BENCH_PG_URL answers. "off" = SECURITY_EVENTS=off and ATTACK_PROTECTION=off;
// "on" = Portcullis's defaults (nothing set: both on, in-memory counters,
// default rate limits). Scenarios, each as its own section does it (50
// connections, the same body every time, one answer checked first):
// password-realm login (`login`) and client_credentials RS256 for the
// Management API (`token`). BENCH_OIDC_ROUNDS rounds, the order of off and on
// alternating (off → on, then on → off), warm-up + measured window.
//
// The default rate limits must not be what is measured: a 429 in an "on" run
// (warm-up, window or anything the server completed) fails the bench; the
// defaults are never changed. Log events per request: after the window, once
// the server is idle, PROBE_REQUESTS requests one after another, log_events
// counted by type before and after them (every event is committed before its
// request is answered); once the server stopped, the events of the whole run
// (minus what seeding left) against the requests answered. autocannon drops
// up to one request per connection at the end of the warm-up and of the
// window, which the server still completes (and logs), so the whole run's
// figure is a little above the probe's.
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { checkToken, maxRun, tokenRequest } from './auth-api.mjs';
import { psql } from './postgres.mjs';
import { send } from './processes.mjs';
import { median, spread } from './report.mjs';
import { assertRunning, BENCH_USER, explainExit, PASSWORD_REALM_GRANT, postgresFor, SEED_ALG, startSeeded } from './seeded-portcullis.mjs';

const execFileAsync = promisify(execFile);
const PROBE_REQUESTS = 20;

/** The switches of each mode; "on" sets nothing, so it is the product's defaults. */
export const MODES = Object.freeze({ off: { SECURITY_EVENTS: 'off', ATTACK_PROTECTION: 'off' }, on: {} });

/** What each scenario sends, and the log event types one success is expected to write. */
const SCENARIOS = Object.freeze({
  login: {
    name: 'password-realm login',
    expected: ['sepft', 's'],
    request: ({ seed }) =>
      tokenRequest('/oauth/token', { grant_type: PASSWORD_REALM_GRANT, username: BENCH_USER.email, password: BENCH_USER.password, realm: seed.realm, client_id: seed.clientId, client_secret: seed.clientSecret, audience: seed.managementAudience }),
    audience: ({ seed }) => seed.managementAudience,
  },
  client_credentials: {
    name: `client_credentials ${SEED_ALG}`,
    expected: ['seccft'],
    request: ({ admin }) => tokenRequest('/oauth/token', { grant_type: 'client_credentials', client_id: admin.client_id, client_secret: admin.client_secret, audience: admin.audience }),
    audience: ({ admin }) => admin.audience,
  },
});

// -------------------------------------------------------------- servers

/** log_events by type, read with the server stopped (or not yet started). */
async function logCensus(h, { backend, dir, db }) {
  const sql = 'SELECT type, COUNT(*) AS n FROM log_events GROUP BY type ORDER BY type';
  if (backend === 'postgres') {
    const rows = await psql(h.settings.pgUrl, sql, { database: db.name });
    return Object.fromEntries((rows ? rows.split('\n') : []).map((line) => line.split('|')).map(([type, n]) => [type, Number(n)]));
  }
  const { default: Sqlite } = await import('better-sqlite3');
  const sqlite = new Sqlite(join(dir, 'portcullis.db'), { readonly: true });
  try {
    return Object.fromEntries(sqlite.prepare(sql).all().map((r) => [r.type, Number(r.n)]));
  } finally {
    sqlite.close();
  }
}

/**
 * Wraps the seeded `prepare` of bench/lib/seeded-portcullis.mjs: after the
 * seed, `portcullis admin-client --json` with the same environment (the
 * Management API client), then the log events seeding left.
 */
function withAdminClient(h, prepare) {
  return async (port) => {
    const prepared = await prepare(port);
    try {
      const cli = await execFileAsync(process.execPath, [join(h.root, 'bin', 'portcullis.js'), 'admin-client', '--json'], { cwd: h.root, env: { ...h.portcullisEnv(port, prepared.dir), ...prepared.env }, timeout: 120_000 });
      const admin = JSON.parse(cli.stdout.trim().split('\n').pop());
      return { ...prepared, admin, seedEvents: await logCensus(h, prepared) };
    } catch (error) {
      await prepared.cleanup();
      throw new Error(`portcullis admin-client (${prepared.backend}) failed: ${error.stderr || error.message}`);
    }
  };
}

/** A seeded Portcullis with the Management API client, started with the mode's switches. */
function startForMode(h, backend, mode, label) {
  const harness = { ...h, startServer: (kind, dir, options) => h.startServer(kind, dir, { ...options, env: { ...options.env, ...MODES[mode] }, prepare: withAdminClient(h, options.prepare) }) };
  return startSeeded(harness, backend, label);
}

/** `after` − `before`, by type, without the types that did not change. */
const eventsBetween = (before, after) => Object.fromEntries(Object.entries(after).map(([type, n]) => [type, n - (before[type] ?? 0)]).filter(([, n]) => n !== 0));
const perOp = (events, ops) => Object.fromEntries(Object.entries(events).map(([type, n]) => [type, n / ops]));

/** Log events per request: PROBE_REQUESTS answered one after another on the idle server (SQLite in WAL mode reads alongside it). */
async function probeEvents(h, started, request, label) {
  const before = await logCensus(h, started);
  for (let i = 0; i < PROBE_REQUESTS; i++) {
    const response = await send(started.port, { ...request, timeoutMs: 15_000 });
    if (response.status !== 200) throw new Error(`${label}: probe request ${i + 1} answered ${response.status} ${response.error ?? response.body?.slice(0, 300)}`);
  }
  return perOp(eventsBetween(before, await logCensus(h, started)), PROBE_REQUESTS);
}

const count429 = (statusCodes) => statusCodes?.['429'] ?? 0;

/** Fails the bench: the default rate limit, not Portcullis's work, would be measured. */
function throttled(label, where, n, limit) {
  return new Error(
    `${label}: ${n} × 429 during the ${where} — the default rate limit (x-ratelimit-limit ${limit ?? 'unknown'}; RATE_LIMIT_TOKEN_PER_SECOND, src/config/schema.ts) throttled the "on" server, so its throughput would be the limit's. The bench does not change the defaults: a default that throttles one core's throughput is itself the finding.`,
  );
}

// ------------------------------------------------------------------ runs

async function protectionRun(h, { backend, scenario, mode, round, order }) {
  const s = SCENARIOS[scenario];
  const meta = { scenario: `${s.name}, ${mode}`, endpoint: scenario, server: `portcullis-${backend}-${mode}`, backend, mode, round, order };
  const label = `${s.name} round ${round} ${meta.server}`;
  const started = await startForMode(h, backend, mode, `portcullis-${backend}-${scenario}-${mode}`);
  const postgres = backend === 'postgres';
  try {
    const request = s.request(started);
    const facts = await checkToken(started.port, request, { alg: SEED_ALG, audience: s.audience(started), label });
    const answer = await send(started.port, { ...request, timeoutMs: 15_000 });
    if (answer.status !== 200) throw new Error(`${label}: POST /oauth/token answered ${answer.status} ${answer.error ?? answer.body?.slice(0, 300)}`);
    const rateLimit = answer.headers['x-ratelimit-limit'];
    if (mode === 'off' && rateLimit !== undefined) h.warn(`${label}: ATTACK_PROTECTION=off but the token endpoint still sends x-ratelimit-limit ${rateLimit}`);
    const quiet = await h.waitForQuiet();
    let warm;
    if (h.settings.warmupSeconds > 0) {
      warm = h.loadRecord(await h.load(started.port, h.settings.warmupSeconds, request));
      if (mode === 'on' && count429(warm.statusCodes) > 0) throw throttled(label, 'warm-up', count429(warm.statusCodes), rateLimit);
      if (warm.non2xx > 0 || warm.errors > 0) h.warn(`${label}: ${warm.non2xx} non-2xx (${JSON.stringify(warm.statusCodes)}) and ${warm.errors} errors during the warm-up`);
      // Let the server finish what the warm-up's connections left queued (argon2 for logins).
      await h.waitForIdleServer(started.server);
    }
    const run = await maxRun(h, started, request, meta, { dbProcess: postgres ? 'postgres' : undefined });
    assertRunning(started, label);
    if (mode === 'on' && count429(run.load.statusCodes) > 0) throw throttled(label, 'measured window', count429(run.load.statusCodes), rateLimit);
    if (rateLimit !== undefined && run.load.requestsPerSecond > 0.8 * Number(rateLimit)) h.warn(`${label}: ${Math.round(run.load.requestsPerSecond)} req/s is within 20 % of the rate limit (${rateLimit}/s): with a faster core the default would throttle this benchmark`);
    await h.waitForIdleServer(started.server);
    const perRequest = await probeEvents(h, started, request, label);
    started.stopped = true;
    await h.stopServer(started.server);
    const answered = 2 + (warm?.requestsTotal ?? 0) + run.load.requestsTotal + PROBE_REQUESTS;
    const written = eventsBetween(started.seedEvents, await logCensus(h, started));
    const events = { perRequest, probeRequests: PROBE_REQUESTS, written, answered };
    const expected = s.expected.filter((type) => perRequest[type] !== 1);
    if (mode === 'off' && Object.keys(written).length > 0) h.warn(`${label}: SECURITY_EVENTS=off but the server wrote log events ${JSON.stringify(written)}`);
    if (mode === 'on' && expected.length > 0) h.warn(`${label}: expected one ${expected.join(' and one ')} event per request, got ${eventsText(perRequest)} over ${PROBE_REQUESTS} requests`);
    h.log(`${label}: log events per request ${eventsText(perRequest)} (${PROBE_REQUESTS} requests one after another); over the run ${eventsText(written, int)} for ${answered} answered${rateLimit ? `; x-ratelimit-limit ${rateLimit}` : ''}`);
    return { ...run, quiet, token: facts, rateLimit: rateLimit === undefined ? undefined : Number(rateLimit), warm, events };
  } catch (error) {
    throw explainExit(started, label, error);
  } finally {
    if (!started.server.exit) await h.stopServer(started.server);
    await started.cleanup?.();
  }
}

// ------------------------------------------------------------------ entry

export async function measureProtection(h) {
  const out = { postgres: await postgresFor(h, 'protection'), modes: MODES, runs: [] };
  const backends = ['sqlite', ...(out.postgres.skipped ? [] : ['postgres'])];
  for (let round = 1; round <= h.settings.oidcRounds; round++) {
    // Odd rounds off → on, even rounds on → off: neither mode always runs second.
    const modes = round % 2 === 1 ? ['off', 'on'] : ['on', 'off'];
    for (const backend of backends) {
      for (const scenario of Object.keys(SCENARIOS)) {
        for (const mode of modes) out.runs.push(await protectionRun(h, { backend, scenario, mode, round, order: modes.join(' → ') }));
      }
    }
  }
  return out;
}

// --------------------------------------------------------------- summary

function stat(runs, pick) {
  const values = runs.map(pick).filter((v) => Number.isFinite(v));
  return values.length ? spread(values) : undefined;
}

function modeSummary(runs) {
  const sum = (pick) => runs.reduce((total, r) => total + pick(r), 0);
  const perRequest = {};
  for (const type of new Set(runs.flatMap((r) => Object.keys(r.events.perRequest)))) perRequest[type] = median(runs.map((r) => r.events.perRequest[type] ?? 0));
  return {
    rps: stat(runs, (r) => r.load.requestsPerSecond),
    cpuMicros: stat(runs, (r) => r.serverCpuMicrosPerRequest),
    dbCpuMicros: stat(runs, (r) => r.dbCpuMicrosPerRequest),
    p50Ms: median(runs.map((r) => r.load.latencyP50Ms)),
    p99Ms: median(runs.map((r) => r.load.latencyP99Ms)),
    errors: sum((r) => r.load.errors + r.load.timeouts),
    non2xx: sum((r) => r.load.non2xx),
    throttled: sum((r) => count429(r.load.statusCodes) + count429(r.warm?.statusCodes)),
    eventsPerRequest: perRequest,
    rateLimit: runs.find((r) => r.rateLimit !== undefined)?.rateLimit,
    flagged: runs.some((r) => r.flagged),
  };
}

export function summarizeProtection(out, goals) {
  const rows = [];
  for (const backend of [...new Set(out.runs.map((r) => r.backend))]) {
    for (const scenario of Object.keys(SCENARIOS)) {
      const mine = out.runs.filter((r) => r.backend === backend && r.endpoint === scenario);
      if (mine.length === 0) continue;
      const off = modeSummary(mine.filter((r) => r.mode === 'off'));
      const on = modeSummary(mine.filter((r) => r.mode === 'on'));
      const cpu = (m) => m.cpuMicros.median + (m.dbCpuMicros?.median ?? 0);
      const rounds = [...new Set(mine.map((r) => r.round))];
      const ratio = on.rps.median / off.rps.median;
      rows.push({
        scenario,
        name: SCENARIOS[scenario].name,
        backend,
        off,
        on,
        ratio,
        ratioPerRound: rounds.map((round) => mine.find((r) => r.round === round && r.mode === 'on').load.requestsPerSecond / mine.find((r) => r.round === round && r.mode === 'off').load.requestsPerSecond),
        cpuRatio: cpu(off) / cpu(on),
        met: ratio >= goals.protectionOnVsOff,
      });
    }
  }
  return { rows };
}

// ---------------------------------------------------------------- report

const int = (n) => (Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : 'n/a');
const fixed = (n, digits) => (Number.isFinite(n) ? n.toFixed(digits) : 'n/a');
const verdict = (met) => (met ? 'met' : '**missed**');
const backendName = (backend) => (backend === 'postgres' ? 'PostgreSQL' : 'SQLite');
const rpsCell = (s) => (s ? `${int(s.median)} (${int(s.min)}–${int(s.max)})` : 'n/a');
const cpuCell = (m) => `${fixed(m.cpuMicros?.median, 0)}${m.dbCpuMicros ? ` + ${fixed(m.dbCpuMicros.median, 0)} PG` : ''}`;
const codes = (byStatus) => Object.entries(byStatus ?? {}).map(([code, n]) => `${code}: ${int(n)}`).join(', ') || 'none';

function eventsText(events, format = (n) => fixed(n, 2)) {
  const entries = Object.entries(events);
  return entries.length ? entries.map(([type, n]) => `${type} ${format(n)}`).join(', ') : 'none';
}

/** The section's markdown, printed after the other sections. */
export function renderProtection(out, summary, goals, settings) {
  const lines = [
    '',
    '#### Logging and attack protection, on against off (section `protection`)',
    '',
    `- Every run on a freshly started Portcullis pinned to CPU ${settings.serverCpu}, on a fresh database set up before it starts (\`bench/lib/seed-users.mjs\`, then \`portcullis admin-client --json\`); ${settings.connections} connections, ${settings.warmupSeconds} s warm-up + ${settings.durationSeconds} s measured, ${settings.oidcRounds} rounds, off and on alternating (off → on, then on → off)`,
    `- off: ${Object.entries(out.modes.off).map(([k, v]) => `${k}=${v}`).join(', ')}; on: Portcullis's defaults (neither set: security events written, attack protection with in-memory counters and the default rate limits, which must not throttle: a 429 fails the bench)`,
    `- PostgreSQL: ${out.postgres.skipped ? `skipped (${out.postgres.skipped})` : `${out.postgres.version} at ${out.postgres.url}, on the same machine and not pinned (its CPU per request is counted separately, from /proc)`}`,
    '',
    `POST /oauth/token: password-realm login (as section \`login\`) and client_credentials ${SEED_ALG} for the Management API (as section \`token\`); req/s median (min–max), p50 / p99 at full load (autocannon, medians of the runs); log events per request counted in \`log_events\` over ${PROBE_REQUESTS} requests sent one after another once the server was idle after its window:`,
    '',
    `| Scenario | Backend | req/s off | req/s on | on / off (goal ≥ ${goals.protectionOnVsOff} ×) | per round | server CPU µs/req off → on | per CPU-second on / off | p50 / p99 ms off | p50 / p99 ms on | errors / non-2xx / 429, off; on | rate limit (on) | log events per request, on (off) |`,
    '|---|---|--:|--:|---|---|---|--:|---|---|---|--:|---|',
    ...summary.rows.map((r) => {
      const flag = r.off.flagged || r.on.flagged ? ' ⚠' : '';
      return `| ${r.name}${flag} | ${backendName(r.backend)} | ${rpsCell(r.off.rps)} | ${rpsCell(r.on.rps)} | ${fixed(r.ratio, 3)} ×: ${verdict(r.met)} | ${r.ratioPerRound.map((x) => fixed(x, 3)).join(', ')} | ${cpuCell(r.off)} → ${cpuCell(r.on)} | ${fixed(r.cpuRatio, 3)} × | ${fixed(r.off.p50Ms, 0)} / ${fixed(r.off.p99Ms, 0)} | ${fixed(r.on.p50Ms, 0)} / ${fixed(r.on.p99Ms, 0)} | ${r.off.errors} / ${r.off.non2xx} / ${r.off.throttled}; ${r.on.errors} / ${r.on.non2xx} / ${r.on.throttled} | ${r.on.rateLimit ? `${int(r.on.rateLimit)}/s` : 'none'} | ${eventsText(r.on.eventsPerRequest)} (${eventsText(r.off.eventsPerRequest)}) |`;
    }),
    '',
    '| Round | Order | Scenario | Backend | Mode | req/s | server CPU µs/req | p50 ms | p99 ms | errors / timeouts / non-2xx | server CPU (of its core busy) | status codes (warm-up + window) | log events written over the run (requests answered) |',
    '|--:|---|---|---|---|--:|--:|--:|--:|--:|--:|---|---|',
    ...out.runs.map((run) => {
      const l = run.load;
      const db = run.dbCpuMicrosPerRequest !== undefined ? ` + ${fixed(run.dbCpuMicrosPerRequest, 0)} PG` : '';
      const statusCodes = { ...run.warm?.statusCodes };
      for (const [code, n] of Object.entries(l.statusCodes)) statusCodes[code] = (statusCodes[code] ?? 0) + n;
      return `| ${run.round} | ${run.order} | ${SCENARIOS[run.endpoint].name}${run.flagged ? ' ⚠' : ''} | ${backendName(run.backend)} | ${run.mode} | ${int(l.requestsPerSecond)} | ${fixed(run.serverCpuMicrosPerRequest, 0)}${db} | ${fixed(l.latencyP50Ms, 0)} | ${fixed(l.latencyP99Ms, 0)} | ${l.errors} / ${l.timeouts} / ${l.non2xx} | ${fixed(run.serverCpuPercent, 0)} % of ${fixed(run.serverCoreBusyPercent, 0)} % | ${codes(statusCodes)} | ${eventsText(run.events.written, int)} (${int(run.events.answered)}) |`;
    }),
  ];
  return lines.join('\n') + '\n';
}
