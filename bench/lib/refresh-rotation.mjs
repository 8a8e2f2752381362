// The bench's `refresh` section (issue 3): "refresh-token rotation: ≥ 0.8×
// the baseline's rate, with the number of database writes per rotation
// stated (goal ≤ 2)".
//
// Both servers rotate: each refresh token is single-use, its answer carries
// the next one (bench/lib/refresh-load.mjs keeps one chain per connection).
// Before the warm-up, each server gets one refresh token per connection,
// for the fixed user and the bench API (BENCH_API: JWT access tokens, RS256,
// scopes read:things write:things, allow_offline_access):
// - Portcullis (fresh database, seeded by bench/lib/seed-users.mjs): the
//   password-realm grant with `audience` = the bench API and
//   `scope=offline_access read:things write:things`;
// - the baseline (bench/oidc-baseline.mjs --refresh, the engine's in-memory
//   adapter): its bench-only seeding grant, which saves the same Grant and
//   RefreshToken models without a password check.
// Then every request is `grant_type=refresh_token` with client_secret_post,
// at /oauth/token (Portcullis) or /token (the engine's own path): the engine
// consumes the old token, saves the new one and signs a JWT access token for
// the token's API. Seeding and the check rotation are not measured, nor
// counted in the database figures.
import { decodeJwt, latencyRuns, tokenRequest } from './auth-api.mjs';
import { censusPerOp, medianOfFields, tablesText } from './password-login.mjs';
import { memoryKiB, send } from './processes.mjs';
import { rotationRequest, tokenPool } from './refresh-load.mjs';
import { median, spread } from './report.mjs';
import { artifactCensus, assertRunning, explainExit, BENCH_API, BENCH_USER, PASSWORD_REALM_GRANT, pgStats, pgWork, postgresFor, SEED_ALG, restartSeeded, startSeeded } from './seeded-portcullis.mjs';

const SCENARIO = 'refresh-token rotation';
const BASELINE_CLIENT = Object.freeze({ client_id: 'bench-client', client_secret: 'bench-secret-0123456789abcdefghijklmnopqrstuvwxyz' });
const BASELINE_SEED_GRANT = 'urn:portcullis:bench:seed-refresh-token';

async function postForm(port, request, label) {
  const response = await send(port, { ...request, timeoutMs: 15_000 });
  if (response.status !== 200) throw new Error(`${label}: POST ${request.path} answered ${response.status} ${response.error ?? response.body?.slice(0, 300)}`);
  return JSON.parse(response.body);
}

/** One refresh token per connection, before any load. */
async function seedTokens(port, request, count, label) {
  const tokens = [];
  for (let i = 0; i < count; i++) {
    const body = await postForm(port, request, `${label} seeding ${i + 1}/${count}`);
    if (typeof body.refresh_token !== 'string') throw new Error(`${label}: seeding answered no refresh_token (${JSON.stringify(Object.keys(body))})`);
    tokens.push(body.refresh_token);
  }
  return tokens;
}

/**
 * One rotation before the load: 200, a new refresh token, a JWT access token
 * signed with `alg`, `typ: at+jwt`, for the bench API. Replaces tokens[0].
 */
async function checkRotation(port, path, fields, tokens, label) {
  const request = rotationRequest(path, fields, tokens[0]);
  const response = await send(port, { ...request, timeoutMs: 15_000 });
  if (response.status !== 200) throw new Error(`${label}: the first rotation answered ${response.status} ${response.error ?? response.body?.slice(0, 300)}`);
  const body = JSON.parse(response.body);
  if (typeof body.refresh_token !== 'string' || body.refresh_token === tokens[0]) throw new Error(`${label}: the rotation answered no new refresh token`);
  const { header, payload } = decodeJwt(body.access_token);
  if (header.alg !== SEED_ALG || header.typ !== 'at+jwt') throw new Error(`${label}: the access token's header is ${JSON.stringify(header)}`);
  if (payload.aud !== BENCH_API.identifier) throw new Error(`${label}: the access token's aud is ${JSON.stringify(payload.aud)}, not ${BENCH_API.identifier}`);
  tokens[0] = body.refresh_token;
  return { tokenBytes: body.access_token.length, responseBytes: Buffer.byteLength(response.body), scopes: String(payload.scope ?? '').split(' ').filter(Boolean).length, scope: payload.scope };
}

/** Starts the server of a run and seeds its tokens; returns what the run needs. */
async function startRefreshServer(h, subject) {
  const label = `${SCENARIO} ${subject.server}`;
  const count = h.settings.connections;
  if (subject.kind === 'oidc-baseline') {
    const started = await h.startServer('oidc-baseline', undefined, { alg: SEED_ALG, keys: 2, refresh: true, env: { BASELINE_AUDIENCE: BENCH_API.identifier, BASELINE_SCOPES: BENCH_API.scopes }, label: 'oidc-baseline-refresh' });
    const tokens = await seedTokens(started.port, tokenRequest('/token', { grant_type: BASELINE_SEED_GRANT, ...BASELINE_CLIENT }), count, label);
    return { started, path: '/token', fields: BASELINE_CLIENT, tokens };
  }
  const seeding = await startSeeded(h, subject.backend, `portcullis-${subject.backend}-refresh-seeding`);
  const { seed } = seeding;
  const fields = { client_id: seed.clientId, client_secret: seed.clientSecret };
  const login = tokenRequest('/oauth/token', {
    grant_type: PASSWORD_REALM_GRANT,
    username: BENCH_USER.email,
    password: BENCH_USER.password,
    realm: seed.realm,
    audience: BENCH_API.identifier,
    scope: `offline_access ${BENCH_API.scopes}`,
    ...fields,
  });
  let tokens;
  try {
    tokens = await seedTokens(seeding.port, login, count, label);
  } catch (error) {
    await h.stopServer(seeding.server);
    await seeding.cleanup();
    throw error;
  }
  // The measured server is a fresh one on the same database and port (the
  // issuer stays the same): PostgreSQL backends publish their counters only
  // every second or so, or when they exit, so the seeding logins' writes
  // would otherwise land in the run's pg_stat_database figures.
  const started = await restartSeeded(h, seeding, `portcullis-${subject.backend}-refresh`);
  return { started, path: '/oauth/token', fields, tokens };
}

async function refreshRun(h, subject, round, latencyRate) {
  const meta = { scenario: SCENARIO, endpoint: 'refresh', server: subject.server, backend: subject.backend, round };
  const label = `${SCENARIO} round ${round} ${subject.server}`;
  const postgres = subject.backend === 'postgres';
  let started;
  try {
    const prepared = await startRefreshServer(h, subject);
    started = prepared.started;
    const { path, fields } = prepared;
    let tokens = prepared.tokens;
    const seeded = tokens.length;
    const statsBefore = postgres ? await pgStats(h, started) : undefined;
    const facts = await checkRotation(started.port, path, fields, tokens, label);
    // The check counts: its writes reach pg_stat_database during the run.
    let rotations = 1;
    const quiet = await h.waitForQuiet();
    if (h.settings.warmupSeconds > 0) {
      const warm = await h.refreshLoad({ port: started.port, path, fields, tokens, seconds: h.settings.warmupSeconds });
      rotations += warm.ok;
      tokens = warm.tokens;
      if (warm.chainsLost > 0) h.warn(`${label}: ${warm.chainsLost} chains lost during the warm-up (${warm.non2xx} non-200, ${warm.badBodies} 200s without a refresh token, ${warm.errors} errors, ${warm.timeouts} timeouts; status codes ${JSON.stringify(warm.statusCounts)})`);
    }
    const chainsAtStart = tokens.length;
    const window = await h.measureWindow(started.server, () => h.refreshLoad({ port: started.port, path, fields, tokens, seconds: h.settings.durationSeconds }), { dbProcess: postgres ? 'postgres' : undefined });
    assertRunning(started, label);
    const r = window.result;
    tokens = r.tokens;
    rotations += r.ok;
    const run = {
      ...meta,
      quiet,
      startMs: started.startMs,
      serverCpuPercent: window.serverCpuPercent,
      serverCpuMicrosPerRequest: (window.serverCpuSeconds * 1e6) / r.completed,
      ...(postgres ? { dbCpuMicrosPerRequest: (window.dbCpuSeconds * 1e6) / r.completed, dbCpuPercent: (window.dbCpuSeconds / window.wallSeconds) * 100 } : {}),
      loadgenCpuPercent: window.loadgenCpuPercent,
      serverCoreBusyPercent: window.serverCoreBusyPercent,
      loadgenCoreBusyPercent: window.loadgenCoreBusyPercent,
      rssAfterLoadKiB: memoryKiB(started.server.pid).rss,
      chains: { seeded, atStart: chainsAtStart, lost: r.chainsLost },
      load: {
        requestsPerSecond: r.requestsPerSecond,
        requestsTotal: r.ok,
        durationSeconds: r.seconds,
        latencyAvgMs: r.latencyMs.mean,
        latencyP50Ms: r.latencyMs.p50,
        latencyP99Ms: r.latencyMs.p99,
        errors: r.errors,
        timeouts: r.timeouts,
        non2xx: r.non2xx + r.badBodies,
        statusCodes: r.statusCounts,
      },
      token: facts,
    };
    h.checkRun(label, run);
    h.log(`${label}: ${Math.round(r.requestsPerSecond)} rotations/s, ${run.serverCpuMicrosPerRequest.toFixed(0)} µs CPU/rotation${postgres ? ` + ${run.dbCpuMicrosPerRequest.toFixed(0)} µs PostgreSQL` : ''}, server CPU ${Math.round(run.serverCpuPercent)} %, load generator ${Math.round(run.loadgenCpuPercent)} %`);

    const rate = latencyRate?.(run.load.requestsPerSecond);
    if (rate && tokens.length > 0) {
      const pool = tokenPool({ path, fields, tokens });
      run.latency = await latencyRuns(h, started, undefined, rate, meta, pool);
      const p = run.latency.paced;
      rotations += p ? Object.entries(p.statusCounts).reduce((n, [code, count]) => n + (code === '200' ? count : 0), 0) + p.warmupSent - p.warmupErrors : 0;
      if (pool.lost() > 0) {
        if (p) p.flagged = true;
        h.warn(`${label} latency run: ${pool.lost()} refresh-token chains lost`);
      }
    }
    started.stopped = true;
    await h.stopServer(started.server);
    if (postgres) {
      run.database = pgWork(statsBefore, await pgStats(h, started), rotations);
      h.log(`${label}: ${run.database.transactionsPerOp.toFixed(2)} statements and ${run.database.rowsWrittenPerOp.toFixed(2)} row writes per rotation (${run.database.insertedPerOp.toFixed(2)} inserted, ${run.database.updatedPerOp.toFixed(2)} updated, ${run.database.deletedPerOp.toFixed(2)} deleted), ${run.database.tableRowsWrittenPerOp.toFixed(2)} to Portcullis's tables (${tablesText(run.database.byTable)}; over ${rotations} rotations)`);
    }
    if (subject.kind === 'portcullis') {
      // The seeding logins saved one Grant and one RefreshToken each; what
      // more the database holds, the rotations wrote (the check included).
      run.census = { ops: rotations, seeded, ...(await artifactCensus(h, started)) };
    }
    return run;
  } catch (error) {
    throw started ? explainExit(started, label, error) : error;
  } finally {
    if (started && !started.server.exit) await h.stopServer(started.server);
    await started?.cleanup?.();
  }
}

export async function measureRefresh(h) {
  const out = { postgres: await postgresFor(h, 'refresh'), runs: [] };
  const subjects = [
    { server: 'baseline', kind: 'oidc-baseline', backend: 'memory' },
    { server: 'portcullis-sqlite', kind: 'portcullis', backend: 'sqlite' },
    ...(out.postgres.skipped ? [] : [{ server: 'portcullis-postgres', kind: 'portcullis', backend: 'postgres' }]),
  ];
  const { runs } = out;
  for (let round = 1; round <= h.settings.oidcRounds; round++) {
    const last = round === h.settings.oidcRounds;
    for (const subject of subjects) {
      const latencyRate = last ? (current) => 0.5 * median([...runs.filter((r) => r.server === subject.server).map((r) => r.load.requestsPerSecond), current]) : undefined;
      runs.push(await refreshRun(h, subject, round, latencyRate));
    }
  }
  return out;
}

function stat(runs, pick) {
  const values = runs.map(pick).filter((v) => Number.isFinite(v));
  return values.length ? spread(values) : undefined;
}

export function summarizeRefresh(refresh, goals) {
  const baseline = refresh.runs.filter((r) => r.server === 'baseline');
  const baselineRps = stat(baseline, (r) => r.load.requestsPerSecond);
  const baselineCpu = stat(baseline, (r) => r.serverCpuMicrosPerRequest);
  const rows = [];
  for (const server of [...new Set(refresh.runs.map((r) => r.server))]) {
    const mine = refresh.runs.filter((r) => r.server === server);
    const rps = stat(mine, (r) => r.load.requestsPerSecond);
    const cpuMicros = stat(mine, (r) => r.serverCpuMicrosPerRequest);
    const dbCpuMicros = stat(mine, (r) => r.dbCpuMicrosPerRequest);
    const isBaseline = server === 'baseline';
    const ratio = isBaseline || !baselineRps ? undefined : rps.median / baselineRps.median;
    const db = mine.filter((r) => r.database).map((r) => r.database);
    const census = mine.filter((r) => r.census).map((r) => r.census);
    const lastCensus = census.at(-1);
    const database = db.length ? { ...medianOfFields(db, ['transactionsPerOp', 'rowsReadPerOp', 'insertedPerOp', 'updatedPerOp', 'deletedPerOp', 'rowsWrittenPerOp', 'tableRowsWrittenPerOp']), byTable: db.at(-1).byTable } : undefined;
    rows.push({
      server,
      backend: mine[0].backend,
      rps,
      cpuMicros,
      dbCpuMicros,
      ratio,
      cpuRatio: isBaseline || !baselineCpu || !cpuMicros ? undefined : baselineCpu.median / (cpuMicros.median + (dbCpuMicros?.median ?? 0)),
      ratioPerRound: isBaseline ? undefined : mine.map((r) => r.load.requestsPerSecond / baseline.find((b) => b.round === r.round)?.load.requestsPerSecond),
      met: ratio === undefined ? undefined : ratio >= goals.refreshVsBaseline,
      // The goal is about Portcullis's writes: its own tables, not the catalog rows autovacuum rewrites.
      writesMet: database ? database.tableRowsWrittenPerOp <= goals.refreshWritesPerRotation : undefined,
      latency: mine.find((r) => r.latency)?.latency,
      closedLoopLatency: stat(mine, (r) => r.load.latencyP50Ms) && { p50: median(mine.map((r) => r.load.latencyP50Ms)), p99: median(mine.map((r) => r.load.latencyP99Ms)) },
      database,
      census: lastCensus ? censusPerOp(lastCensus, { rows: { Grant: lastCensus.seeded, RefreshToken: lastCensus.seeded }, logins: lastCensus.seeded }) : undefined,
      token: mine[0].token,
      flagged: mine.some((r) => r.flagged || r.latency?.paced?.flagged),
    });
  }
  return { rows };
}
