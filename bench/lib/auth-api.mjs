// The Authentication API measurements of issue 3 (first slice): what exists
// today — client_credentials JWT access tokens, discovery and JWKS — against
// a bare oidc-provider 9 server (bench/oidc-baseline.mjs) and the hello-world
// Fastify server, measured in the same run on the same core.
//
// Sections (BENCH_ONLY): `token` — POST /oauth/token client_credentials on
// the baseline and on Portcullis with SQLite, RS256 and ES256; `pg` — the
// same on Portcullis with PostgreSQL (a fresh database per run); `read` —
// GET discovery and JWKS on the baseline and Portcullis, and GET /healthz on
// bare Fastify.
//
// Runs are started by the harness of bench/run.mjs (pinned server, load
// generator on the other core); every run is on a freshly started server and,
// for Portcullis, a fresh database.
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { checkServer, createDatabase, databaseStats, diffStats, dropDatabase, psql } from './postgres.mjs';
import { makeTempDir, memoryKiB, removeTempDir, send } from './processes.mjs';
import { median, spread } from './report.mjs';

const execFileAsync = promisify(execFile);
const FORM = Object.freeze({ 'content-type': 'application/x-www-form-urlencoded' });
export const PACED_WARMUP_SECONDS = 2;

// ------------------------------------------------------------- requests

export function tokenRequest(path, fields) {
  return { method: 'POST', path, headers: FORM, body: new URLSearchParams(fields).toString() };
}

export function decodeJwt(token) {
  const [header, payload] = String(token).split('.').slice(0, 2).map((part) => JSON.parse(Buffer.from(part, 'base64url').toString('utf8')));
  return { header, payload };
}

/**
 * One token request before any load: 200, a JWT access token of the expected
 * algorithm, `typ: at+jwt`, the expected audience. Returns facts for the report.
 */
export async function checkToken(port, request, { alg, audience, label }) {
  const response = await send(port, { ...request, timeoutMs: 15_000 });
  if (response.status !== 200) throw new Error(`${label}: POST ${request.path} answered ${response.status} ${response.error ?? response.body?.slice(0, 300)}`);
  const body = JSON.parse(response.body);
  const { header, payload } = decodeJwt(body.access_token);
  if (header.alg !== alg) throw new Error(`${label}: the access token is signed with ${header.alg}, not ${alg}`);
  if (header.typ !== 'at+jwt') throw new Error(`${label}: the access token's typ is ${header.typ}, not at+jwt`);
  if (payload.aud !== audience) throw new Error(`${label}: the access token's aud is ${JSON.stringify(payload.aud)}, not ${audience}`);
  return { tokenBytes: body.access_token.length, responseBytes: Buffer.byteLength(response.body), scopes: String(payload.scope ?? '').split(' ').filter(Boolean).length };
}

async function checkJson(port, path, label, pick) {
  const response = await send(port, { path, timeoutMs: 15_000 });
  if (response.status !== 200) throw new Error(`${label}: GET ${path} answered ${response.status} ${response.error ?? response.body?.slice(0, 300)}`);
  const value = pick(JSON.parse(response.body));
  return { value, bytes: Buffer.byteLength(response.body), etag: response.headers.etag, cacheControl: response.headers['cache-control'] };
}

// -------------------------------------------------------------- servers

/**
 * Sets the client's Auth0 `jwt_configuration.alg` in the database (what
 * PATCH /api/v2/clients/{id} will do once the Management API exists). Only
 * used as the workaround described at `needsClientAlg` in tokenRun.
 */
async function setClientAlg(h, { backend, dir, db, clientId, alg }) {
  const value = JSON.stringify({ alg });
  if (backend === 'postgres') {
    await psql(h.settings.pgUrl, `UPDATE clients SET config = jsonb_set(config::jsonb, '{jwt_configuration}', '${value}'::jsonb) WHERE client_id = '${clientId}'`, { database: db.name });
    return;
  }
  const { default: Sqlite } = await import('better-sqlite3');
  const sqlite = new Sqlite(join(dir, 'portcullis.db'));
  try {
    const result = sqlite.prepare("UPDATE clients SET config = json_set(config, '$.jwt_configuration', json(?)) WHERE client_id = ?").run(value, clientId);
    if (result.changes !== 1) throw new Error(`updated ${result.changes} clients`);
  } finally {
    sqlite.close();
  }
}

/**
 * Prepares a Portcullis run on a fresh database: runs
 * `portcullis admin-client --json` with the server's environment (it creates
 * the schema, the default tenant with keys of `alg`, and the Management API
 * client) and exits before the server starts, so the CLI and the server never
 * use the database at the same time.
 */
function preparePortcullis(h, backend, alg, { clientAlg = false } = {}) {
  return async (port) => {
    const dir = makeTempDir('portcullis-bench-');
    let db;
    const cleanup = async () => {
      removeTempDir(dir);
      if (db) await dropDatabase(h.settings.pgUrl, db.name);
    };
    try {
      if (backend === 'postgres') db = await createDatabase(h.settings.pgUrl);
      const env = { SIGNING_ALG: alg, ...(db ? { DATABASE_URL: db.url } : {}) };
      const cli = await execFileAsync(process.execPath, [join(h.root, 'bin', 'portcullis.js'), 'admin-client', '--json'], {
        cwd: h.root,
        env: { ...h.portcullisEnv(port, dir), ...env },
        timeout: 120_000,
      });
      if (cli.stderr.includes('portcullis: building')) h.warn(`Portcullis ${backend} ${alg}: the CLI rebuilt dist/ (sources changed during the bench)`);
      const admin = JSON.parse(cli.stdout.trim().split('\n').pop());
      if (clientAlg) await setClientAlg(h, { backend, dir, db, clientId: admin.client_id, alg });
      return { dir, env, admin, db, cleanup, clientAlg };
    } catch (error) {
      await cleanup();
      throw new Error(`portcullis admin-client (${backend}, ${alg}) failed: ${error.stderr || error.message}`);
    }
  };
}

// ------------------------------------------------------------------ runs

/**
 * One measured autocannon window at full load, with its CPU accounting.
 * `extra`: further autocannon options (e.g. `requests` that vary the path).
 */
export async function maxRun(h, started, request, meta, { dbProcess, extra } = {}) {
  const { server, port } = started;
  const window = await h.measureWindow(server, () => h.load(port, h.settings.durationSeconds, request, extra), { dbProcess });
  const { result } = window;
  const run = {
    ...meta,
    startMs: started.startMs,
    serverCpuPercent: window.serverCpuPercent,
    serverCpuMicrosPerRequest: (window.serverCpuSeconds * 1e6) / result.requests.total,
    ...(dbProcess ? { dbCpuMicrosPerRequest: (window.dbCpuSeconds * 1e6) / result.requests.total, dbCpuPercent: (window.dbCpuSeconds / window.wallSeconds) * 100 } : {}),
    loadgenCpuPercent: window.loadgenCpuPercent,
    serverCoreBusyPercent: window.serverCoreBusyPercent,
    loadgenCoreBusyPercent: window.loadgenCoreBusyPercent,
    rssAfterLoadKiB: memoryKiB(server.pid).rss,
    load: h.loadRecord(result),
  };
  h.checkRun(`${meta.scenario} round ${meta.round} ${meta.server}`, run);
  h.log(`${meta.scenario} round ${meta.round} ${meta.server}: ${Math.round(run.load.requestsPerSecond)} req/s, ${run.serverCpuMicrosPerRequest.toFixed(0)} µs CPU/req${dbProcess ? ` + ${run.dbCpuMicrosPerRequest.toFixed(0)} µs PostgreSQL` : ''}, server CPU ${Math.round(run.serverCpuPercent)} %, load generator ${Math.round(run.loadgenCpuPercent)} %`);
  return run;
}

/**
 * Latency at a fixed offered rate: the open-loop generator, autocannon's
 * overallRate, or both. `hooks` (prepare, onResponse, onFailure; see
 * bench/lib/paced.mjs) replace the fixed request for requests that depend on
 * earlier answers; autocannon, which can only send a fixed request, is then
 * not used.
 */
export async function latencyRuns(h, started, request, rate, meta, hooks) {
  const { server, port } = started;
  const out = {};
  const tools = (h.settings.latencyTool === 'both' ? ['paced', 'autocannon'] : [h.settings.latencyTool]).filter((tool) => !hooks || tool === 'paced');
  if (hooks && h.settings.latencyTool === 'autocannon') h.warn(`${meta.scenario} ${meta.server}: BENCH_LATENCY_TOOL=autocannon cannot chain requests; the open-loop generator measures its latency`);
  if (tools.length === 0) tools.push('paced');
  for (const tool of tools) {
    await h.waitForQuiet();
    if (tool === 'paced') {
      const window = await h.measureWindow(server, () => h.paced(port, h.settings.latencySeconds, rate, request, PACED_WARMUP_SECONDS, hooks));
      const r = window.result;
      out.paced = { ...r, serverCpuPercent: window.serverCpuPercent, serverCoreBusyPercent: window.serverCoreBusyPercent, loadgenCpuPercent: window.loadgenCpuPercent };
      if (r.non2xx > 0 || r.errors > 0 || r.timeouts > 0 || r.warmupErrors > 0) {
        out.paced.flagged = true;
        h.warn(`${meta.scenario} ${meta.server} latency run: ${r.errors} errors, ${r.timeouts} timeouts, ${r.non2xx} non-2xx (${JSON.stringify(r.statusCounts)}), ${r.warmupErrors} failures during its warm-up`);
      }
      if (Math.abs(r.achievedRate / rate - 1) > 0.05) h.warn(`${meta.scenario} ${meta.server} latency run: achieved ${Math.round(r.achievedRate)}/s of the ${Math.round(rate)}/s offered`);
      h.log(`${meta.scenario} ${meta.server} at ${Math.round(rate)}/s (open loop): p50 ${r.latencyMs.p50.toFixed(2)} ms, p99 ${r.latencyMs.p99.toFixed(2)} ms, generator lag p99 ${r.lagP99Ms.toFixed(2)} ms`);
    } else {
      const window = await h.measureWindow(server, () => h.load(port, h.settings.latencySeconds, request, { overallRate: Math.round(rate) }));
      const l = h.loadRecord(window.result);
      out.autocannon = { targetRate: Math.round(rate), achievedRate: l.requestsPerSecond, completed: l.requestsTotal, latencyMs: { p50: l.latencyP50Ms, p99: l.latencyP99Ms, mean: l.latencyAvgMs }, errors: l.errors, timeouts: l.timeouts, non2xx: l.non2xx, statusCodes: l.statusCodes };
      if (l.errors > 0 || l.timeouts > 0 || l.non2xx > 0) {
        out.autocannon.flagged = true;
        h.warn(`${meta.scenario} ${meta.server} autocannon overallRate run: ${l.errors} errors, ${l.timeouts} timeouts, ${l.non2xx} non-2xx`);
      }
      h.log(`${meta.scenario} ${meta.server} at ${Math.round(rate)}/s (autocannon overallRate): p50 ${l.latencyP50Ms} ms, p99 ${l.latencyP99Ms} ms`);
    }
  }
  return out;
}

/** The servers measured for client_credentials, in the order each round runs them. */
function tokenSubjects(sections, pgAvailable) {
  const subjects = [];
  if (sections.includes('token') || (sections.includes('pg') && pgAvailable)) subjects.push({ server: 'baseline', kind: 'oidc-baseline', backend: 'memory' });
  if (sections.includes('token')) subjects.push({ server: 'portcullis-sqlite', kind: 'portcullis', backend: 'sqlite' });
  if (sections.includes('pg') && pgAvailable) subjects.push({ server: 'portcullis-postgres', kind: 'portcullis', backend: 'postgres' });
  return subjects;
}

/** Starts the server of a token run and checks one token; see needsClientAlg. */
async function startTokenServer(h, subject, alg, shared) {
  const scenario = `client_credentials ${alg}`;
  if (subject.kind === 'oidc-baseline') {
    const started = await h.startServer('oidc-baseline', undefined, { alg, keys: 2, env: { BASELINE_SCOPES: shared.scopes }, label: `oidc-baseline-${alg}` });
    const audience = `http://127.0.0.1:${started.port}/api/`;
    const request = tokenRequest('/token', { grant_type: 'client_credentials', client_id: 'bench-client', client_secret: 'bench-secret-0123456789abcdefghijklmnopqrstuvwxyz', resource: audience });
    try {
      return { started, request, facts: await checkToken(started.port, request, { alg, audience, label: `${scenario} ${subject.server}` }) };
    } catch (error) {
      await h.stopServer(started.server);
      throw error;
    }
  }
  // needsClientAlg: at commit 91d8c64, a tenant whose keys are not RS256
  // cannot issue tokens to a client without `jwt_configuration.alg`:
  // toClientMetadata (src/oauth/client-metadata.ts) sets the client's
  // id_token_signed_response_alg to RS256 when the client names no alg, and
  // the engine rejects that metadata (400 invalid_client_metadata
  // "id_token_signed_response_alg must be 'ES256'"). When the first run of an
  // algorithm meets exactly that, the bench says so and sets the admin
  // client's jwt_configuration.alg to the tenant's alg for every run of that
  // algorithm, so the signing path can still be measured. Once the defect is
  // fixed, the first run succeeds and no workaround is applied.
  const attempt = async (clientAlg) => {
    const started = await h.startServer('portcullis', undefined, { prepare: preparePortcullis(h, subject.backend, alg, { clientAlg }), label: `portcullis-${subject.backend}-${alg}` });
    const audience = started.admin.audience;
    const request = tokenRequest('/oauth/token', { grant_type: 'client_credentials', client_id: started.admin.client_id, client_secret: started.admin.client_secret, audience });
    try {
      return { started, request, facts: { ...(await checkToken(started.port, request, { alg, audience, label: `${scenario} ${subject.server}` })), clientAlgWorkaround: clientAlg } };
    } catch (error) {
      await h.stopServer(started.server);
      await started.cleanup?.();
      throw error;
    }
  };
  if (shared.clientAlg.has(alg)) return attempt(true);
  try {
    return await attempt(false);
  } catch (error) {
    if (alg === 'RS256' || !/invalid_client_metadata.*id_token_signed_response_alg/.test(error.message)) throw error;
    shared.clientAlg.add(alg);
    h.warn(`${error.message.split('\n')[0]} — Portcullis cannot issue tokens on an ${alg} tenant to a client without jwt_configuration.alg (src/oauth/client-metadata.ts defaults id_token_signed_response_alg to RS256). Workaround for the measurement: the admin client's jwt_configuration.alg is set to ${alg} in the database before the server starts, in every ${alg} run.`);
    return attempt(true);
  }
}

async function tokenRun(h, subject, alg, round, latencyRate, shared) {
  const scenario = `client_credentials ${alg}`;
  const meta = { scenario, endpoint: 'token', alg, server: subject.server, backend: subject.backend, round };
  const { started, request, facts } = await startTokenServer(h, subject, alg, shared);
  const postgres = subject.backend === 'postgres';
  try {
    let tokens = 1;
    const statsBefore = postgres ? await databaseStats(h.settings.pgUrl, started.db.name) : undefined;
    const quiet = await h.waitForQuiet();
    if (h.settings.warmupSeconds > 0) {
      const warm = await h.load(started.port, h.settings.warmupSeconds, request);
      tokens += warm.requests.total;
      if (warm.non2xx > 0 || warm.errors > 0) h.warn(`${scenario} round ${round} ${subject.server}: ${warm.non2xx} non-2xx and ${warm.errors} errors during the warm-up`);
    }
    const run = await maxRun(h, started, request, meta, { dbProcess: postgres ? 'postgres' : undefined });
    run.quiet = quiet;
    run.token = facts;
    tokens += run.load.requestsTotal;
    const rate = latencyRate?.(run.load.requestsPerSecond);
    if (rate) {
      run.latency = await latencyRuns(h, started, request, rate, meta);
      tokens += (run.latency.paced ? run.latency.paced.completed + run.latency.paced.warmupSent : 0) + (run.latency.autocannon ? run.latency.autocannon.completed : 0);
    }
    await h.stopServer(started.server);
    if (postgres) {
      // The backends exited with the server's pool: their counters are published.
      const delta = diffStats(statsBefore, await databaseStats(h.settings.pgUrl, started.db.name));
      run.database = { tokens, ...delta, transactionsPerToken: delta.transactions / tokens, rowsWrittenPerToken: (delta.inserted + delta.updated + delta.deleted) / tokens, rowsReadPerToken: delta.fetched / tokens };
      h.log(`${scenario} round ${round} ${subject.server}: ${run.database.transactionsPerToken.toFixed(2)} statements and ${run.database.rowsWrittenPerToken.toFixed(3)} row writes per token (pg_stat_database over ${tokens} tokens)`);
    }
    return run;
  } finally {
    if (!started.server.exit) await h.stopServer(started.server);
    await started.cleanup?.();
  }
}

async function measureTokens(h, shared, pgAvailable) {
  const { settings } = h;
  const subjects = tokenSubjects(settings.sections, pgAvailable);
  const runs = [];
  for (let round = 1; round <= settings.oidcRounds; round++) {
    const last = round === settings.oidcRounds;
    for (const alg of settings.algs) {
      for (const subject of subjects) {
        // In the last round, after its maximum, each server is measured at
        // half the median of its maxima over all rounds.
        const latencyRate = last
          ? (current) => 0.5 * median([...runs.filter((r) => r.alg === alg && r.server === subject.server).map((r) => r.load.requestsPerSecond), current])
          : undefined;
        runs.push(await tokenRun(h, subject, alg, round, latencyRate, shared));
      }
    }
  }
  return runs;
}

// ------------------------------------------------------------ read paths

async function readRuns(h, round, floorRate) {
  const runs = [];
  const facts = {};
  let floor;
  const endpoints = async (started, server, paths) => {
    for (const [endpoint, path] of paths) {
      const quiet = await h.waitForQuiet();
      if (h.settings.warmupSeconds > 0) await h.load(started.port, h.settings.warmupSeconds, { path });
      const run = await maxRun(h, started, { path }, { scenario: `GET ${endpoint}`, endpoint, server, backend: server === 'portcullis-sqlite' ? 'sqlite' : 'memory', round });
      runs.push({ ...run, quiet });
    }
  };

  // Baseline: the engine serves both documents itself.
  {
    const started = await h.startServer('oidc-baseline', undefined, { alg: 'RS256', keys: 2, label: 'oidc-baseline-read' });
    try {
      const discovery = await checkJson(started.port, '/.well-known/openid-configuration', 'baseline discovery', (d) => d.jwks_uri);
      const jwksPath = new URL(discovery.value).pathname;
      const jwks = await checkJson(started.port, jwksPath, 'baseline JWKS', (d) => d.keys.length);
      facts.baseline = { discoveryBytes: discovery.bytes, jwksBytes: jwks.bytes, jwksKeys: jwks.value };
      await endpoints(started, 'baseline', [['discovery', '/.well-known/openid-configuration'], ['jwks', jwksPath]]);
    } finally {
      await h.stopServer(started.server);
    }
  }

  // Portcullis on a fresh SQLite database (RS256, the default): precomputed, ETag'd bodies.
  {
    const dir = makeTempDir('portcullis-bench-');
    const started = await h.startServer('portcullis', dir, { label: 'portcullis-read' });
    try {
      const discovery = await checkJson(started.port, '/.well-known/openid-configuration', 'Portcullis discovery', (d) => d.jwks_uri);
      const jwks = await checkJson(started.port, '/.well-known/jwks.json', 'Portcullis JWKS', (d) => d.keys.length);
      if (!discovery.etag || !jwks.etag) h.warn('Portcullis discovery or JWKS has no ETag');
      facts.portcullis = { discoveryBytes: discovery.bytes, jwksBytes: jwks.bytes, jwksKeys: jwks.value, cacheControl: jwks.cacheControl };
      await endpoints(started, 'portcullis-sqlite', [['discovery', '/.well-known/openid-configuration'], ['jwks', '/.well-known/jwks.json']]);
    } finally {
      await h.stopServer(started.server);
      removeTempDir(dir);
    }
  }

  // Hello world: bare Fastify /healthz, and (once) the open-loop generator's
  // own latency floor against it at the token latency runs' highest rate.
  {
    const started = await h.startServer('bare', undefined, { label: 'bare-read' });
    try {
      await endpoints(started, 'bare-fastify', [['healthz', '/healthz']]);
      if (floorRate) {
        const window = await h.measureWindow(started.server, () => h.paced(started.port, h.settings.latencySeconds, floorRate, { path: '/healthz' }, PACED_WARMUP_SECONDS));
        floor = { ...window.result, serverCpuPercent: window.serverCpuPercent, loadgenCpuPercent: window.loadgenCpuPercent };
        h.log(`harness floor (bare /healthz at ${Math.round(floorRate)}/s, open loop): p50 ${floor.latencyMs.p50.toFixed(2)} ms, p99 ${floor.latencyMs.p99.toFixed(2)} ms`);
      }
    } finally {
      await h.stopServer(started.server);
    }
  }
  return { runs, facts, floor };
}

async function measureReads(h, floorRate) {
  const runs = [];
  let facts;
  let floor;
  for (let round = 1; round <= h.settings.oidcRounds; round++) {
    const last = round === h.settings.oidcRounds;
    const measured = await readRuns(h, round, last ? floorRate : undefined);
    facts = measured.facts;
    floor = measured.floor ?? floor;
    runs.push(...measured.runs);
  }
  return { runs, facts, floor };
}

// ------------------------------------------------------------------ entry

export async function measureAuthApi(h) {
  const { settings } = h;
  const sections = settings.sections;
  const out = { sections: sections.filter((s) => ['token', 'pg', 'read'].includes(s)) };

  if (sections.includes('token') || sections.includes('pg')) {
    let pgAvailable = false;
    if (sections.includes('pg')) {
      const check = await checkServer(settings.pgUrl);
      pgAvailable = check.ok;
      out.postgres = check.ok ? { url: settings.pgUrl, version: check.version } : { url: settings.pgUrl, skipped: check.error };
      if (!check.ok) h.warn(`PostgreSQL at ${settings.pgUrl} is not reachable (${check.error}): the pg section is skipped`);
    }
    // The baseline's resource server gets the Management API's scopes, so that
    // both servers sign the same claims (Portcullis issues every granted scope).
    const { MANAGEMENT_SCOPES } = await import(pathToFileURL(join(h.root, 'dist', 'management', 'scopes.js')).href);
    const shared = { scopes: MANAGEMENT_SCOPES.join(' '), clientAlg: new Set() };
    out.token = await measureTokens(h, shared, pgAvailable);
    out.clientAlgWorkaround = [...shared.clientAlg];
  }
  if (sections.includes('read')) {
    const rates = (out.token ?? []).map((r) => r.latency?.paced?.targetRate).filter(Boolean);
    const floorRate = settings.latencyTool === 'autocannon' ? undefined : rates.length > 0 ? Math.max(...rates) : 1000;
    out.read = await measureReads(h, floorRate);
  }
  return out;
}

// --------------------------------------------------------------- summary

function stat(runs, pick) {
  const values = runs.map(pick).filter((v) => Number.isFinite(v));
  return values.length ? spread(values) : undefined;
}

export function summarizeAuthApi(authApi, goals) {
  const summary = {};
  if (authApi.token) {
    const runs = authApi.token;
    const algs = [...new Set(runs.map((r) => r.alg))];
    const servers = [...new Set(runs.map((r) => r.server))];
    summary.token = [];
    for (const alg of algs) {
      const baseline = runs.filter((r) => r.alg === alg && r.server === 'baseline');
      const baselineRps = stat(baseline, (r) => r.load.requestsPerSecond);
      for (const server of servers) {
        const mine = runs.filter((r) => r.alg === alg && r.server === server);
        const rps = stat(mine, (r) => r.load.requestsPerSecond);
        const withLatency = mine.find((r) => r.latency);
        const db = mine.filter((r) => r.database).map((r) => r.database);
        const ratio = server === 'baseline' || !baselineRps ? undefined : rps.median / baselineRps.median;
        const cpuMicros = stat(mine, (r) => r.serverCpuMicrosPerRequest);
        const dbCpuMicros = stat(mine, (r) => r.dbCpuMicrosPerRequest);
        const baselineCpu = stat(baseline, (r) => r.serverCpuMicrosPerRequest);
        // The same comparison per CPU-second (server + PostgreSQL): steadier than req/s on a shared machine.
        const cpuRatio = server === 'baseline' || !baselineCpu ? undefined : baselineCpu.median / (cpuMicros.median + (dbCpuMicros?.median ?? 0));
        summary.token.push({
          alg,
          server,
          backend: mine[0].backend,
          rps,
          cpuMicros,
          dbCpuMicros,
          ratio,
          cpuRatio,
          ratioPerRound: server === 'baseline' ? undefined : mine.map((r) => r.load.requestsPerSecond / baseline.find((b) => b.round === r.round)?.load.requestsPerSecond),
          met: ratio === undefined ? undefined : ratio >= goals.tokenVsBaseline,
          latency: withLatency?.latency,
          database: db.length ? { transactionsPerToken: median(db.map((d) => d.transactionsPerToken)), rowsWrittenPerToken: median(db.map((d) => d.rowsWrittenPerToken)), rowsReadPerToken: median(db.map((d) => d.rowsReadPerToken)) } : undefined,
          token: mine[0].token,
          flagged: mine.some((r) => r.flagged || r.latency?.paced?.flagged || r.latency?.autocannon?.flagged),
        });
      }
    }
  }
  if (authApi.read) {
    const runs = authApi.read.runs;
    const rpsOf = (endpoint, server) => stat(runs.filter((r) => r.endpoint === endpoint && r.server === server), (r) => r.load.requestsPerSecond);
    const cpuOf = (endpoint, server) => stat(runs.filter((r) => r.endpoint === endpoint && r.server === server), (r) => r.serverCpuMicrosPerRequest);
    const hello = rpsOf('healthz', 'bare-fastify');
    summary.read = {
      helloWorld: { rps: hello, cpuMicros: cpuOf('healthz', 'bare-fastify') },
      endpoints: ['discovery', 'jwks'].map((endpoint) => {
        const portcullis = rpsOf(endpoint, 'portcullis-sqlite');
        const baseline = rpsOf(endpoint, 'baseline');
        const vsBaseline = portcullis.median / baseline.median;
        const vsHello = portcullis.median / hello.median;
        const portcullisCpu = cpuOf(endpoint, 'portcullis-sqlite');
        const baselineCpu = cpuOf(endpoint, 'baseline');
        const helloCpu = cpuOf('healthz', 'bare-fastify');
        return {
          endpoint,
          portcullis,
          baseline,
          portcullisCpuMicros: portcullisCpu,
          baselineCpuMicros: baselineCpu,
          vsBaseline,
          vsHello,
          cpuVsBaseline: baselineCpu.median / portcullisCpu.median,
          cpuVsHello: helloCpu.median / portcullisCpu.median,
          metBaseline: vsBaseline >= goals.readVsBaseline,
          metHello: vsHello >= goals.readVsHelloWorld,
          flagged: runs.some((r) => r.endpoint === endpoint && r.flagged),
        };
      }),
      floor: authApi.read.floor,
      facts: authApi.read.facts,
    };
  }
  return summary;
}
