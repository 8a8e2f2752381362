// Summaries and the markdown report of `npm run bench`.

export function median(values) {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** median, min and max of a list of samples. */
export function spread(values) {
  return { median: median(values), min: Math.min(...values), max: Math.max(...values), n: values.length };
}

const int = (n) => (Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : 'n/a');
const fixed = (n, digits) => (Number.isFinite(n) ? n.toFixed(digits) : 'n/a');
const mib = (kib) => `${fixed(kib / 1024, 1)} MiB`;
const ms = (n) => `${int(n)} ms`;
const verdict = (met) => (met ? 'met' : '**missed**');

function goalRows(summary, goals) {
  const { throughput, cpuPerRequest: cost, startup, idleRss } = summary;
  const range = (stat, scale = 1) => `${int(stat.min / scale)}–${int(stat.max / scale)}`;
  const rows = [];
  if (throughput) {
    rows.push(
      `| GET /healthz req/s (median of ${throughput.portcullis.n} runs each) | ${int(throughput.portcullis.median)} | ${int(throughput.bare.median)} | ≥ ${goals.healthzRatio} × bare | ${fixed(throughput.ratio, 2)} × bare: ${verdict(throughput.ratio >= goals.healthzRatio)} |`,
      `| Server CPU per /healthz request (median) | ${fixed(cost.portcullisMicros.median, 1)} µs | ${fixed(cost.bareMicros.median, 1)} µs | same goal, per CPU-second | ${fixed(cost.ratio, 2)} × bare: ${verdict(cost.ratio >= goals.healthzRatio)} |`,
    );
  }
  if (startup) {
    const bare = startup.bare ? `${ms(startup.bare.median)}¹` : 'n/a';
    rows.push(
      `| Spawn → first /readyz 200, fresh DB (median, min–max of ${startup.fresh.n}) | ${ms(startup.fresh.median)} (${range(startup.fresh)}) | ${bare} | ≤ ${goals.startMs} ms | ${verdict(startup.fresh.median <= goals.startMs)} |`,
      `| Spawn → first /readyz 200, existing DB (median, min–max of ${startup.restart.n}) | ${ms(startup.restart.median)} (${range(startup.restart)}) | ${bare} | ≤ ${goals.startMs} ms | ${verdict(startup.restart.median <= goals.startMs)} |`,
    );
  }
  if (idleRss) {
    rows.push(`| Idle RSS (median, min–max of ${idleRss.portcullis.n}) | ${mib(idleRss.portcullis.median)} (${fixed(idleRss.portcullis.min / 1024, 1)}–${fixed(idleRss.portcullis.max / 1024, 1)}) | ${mib(idleRss.bare.median)} | ≤ ${goals.idleRssMiB} MB | ${verdict(idleRss.portcullis.median / 1024 <= goals.idleRssMiB)} |`);
  }
  return rows;
}

function runRows(runs) {
  return runs.map((run) => {
    const l = run.load;
    const usage = (own, core) => `${fixed(own, 0)} % of ${fixed(core, 0)} %`;
    return `| ${run.round} | ${run.kind} | ${int(l.requestsPerSecond)} | ${fixed(run.serverCpuMicrosPerRequest, 1)} | ${fixed(l.latencyAvgMs, 2)} | ${fixed(l.latencyP99Ms, 0)} | ${l.errors} / ${l.timeouts} / ${l.non2xx} | ${usage(run.serverCpuPercent, run.serverCoreBusyPercent)} | ${usage(run.loadgenCpuPercent, run.loadgenCoreBusyPercent)} | ${mib(run.memory.idle.rss)} → ${mib(run.memory.afterLoad.rss)} |`;
  });
}

const SERVER_NAMES = {
  baseline: 'bare oidc-provider',
  'portcullis-sqlite': 'Portcullis, SQLite',
  'portcullis-postgres': 'Portcullis, PostgreSQL',
  'bare-fastify': 'bare Fastify',
  argon2: 'raw argon2id verify',
};
const serverName = (server) => SERVER_NAMES[server] ?? server;
const rpsCell = (stat) => (stat ? `${int(stat.median)} (${int(stat.min)}–${int(stat.max)})` : 'n/a');
const ms2 = (n) => fixed(n, 2);

function tokenRows(summary) {
  return summary.token.map((row) => {
    const goal = row.ratio === undefined ? '—' : `${fixed(row.ratio, 2)} ×: ${verdict(row.met)}`;
    const cpu = `${fixed(row.cpuMicros?.median, 0)}${row.dbCpuMicros ? ` + ${fixed(row.dbCpuMicros.median, 0)} PG` : ''}`;
    const paced = row.latency?.paced;
    const ac = row.latency?.autocannon;
    const pacedCell = paced ? `${int(paced.targetRate)}/s: ${ms2(paced.latencyMs.p50)} / ${ms2(paced.latencyMs.p99)}` : 'n/a';
    const acCell = ac ? `${ms2(ac.latencyMs.p50)} / ${ms2(ac.latencyMs.p99)}` : '';
    const cpuGoal = row.cpuRatio === undefined ? '—' : `${fixed(row.cpuRatio, 2)} ×`;
    return `| ${row.alg} | ${serverName(row.server)}${row.flagged ? ' ⚠' : ''} | ${rpsCell(row.rps)} | ${cpu} | ${goal} | ${cpuGoal} | ${pacedCell} |${ac ? ` ${acCell} |` : ''}`;
  });
}

function authApiRuns(runs) {
  const usage = (own, core) => `${fixed(own, 0)} % of ${fixed(core, 0)} %`;
  return runs.map((run) => {
    const l = run.load;
    const db = run.dbCpuMicrosPerRequest !== undefined ? ` + ${fixed(run.dbCpuMicrosPerRequest, 0)} PG` : '';
    return `| ${run.round} | ${run.scenario} | ${serverName(run.server)}${run.flagged ? ' ⚠' : ''} | ${int(l.requestsPerSecond)} | ${fixed(run.serverCpuMicrosPerRequest, 1)}${db} | ${fixed(l.latencyAvgMs, 2)} | ${fixed(l.latencyP99Ms, 0)} | ${l.errors} / ${l.timeouts} / ${l.non2xx} | ${usage(run.serverCpuPercent, run.serverCoreBusyPercent)} | ${usage(run.loadgenCpuPercent, run.loadgenCoreBusyPercent)} |`;
  });
}

function renderAuthApi({ settings, summary, goals, authApi }) {
  const s = summary.authApi;
  const lines = ['', `#### Authentication API (issue 3, first slice): ${authApi.sections.join(', ')}`, ''];
  lines.push(
    `- Every run on a freshly started server pinned to CPU ${settings.serverCpu}; Portcullis on a fresh database, set up by \`portcullis admin-client --json\` before the server starts; ${settings.connections} connections, ${settings.warmupSeconds} s warm-up + ${settings.durationSeconds} s measured, ${settings.oidcRounds} rounds alternating baseline → Portcullis`,
    '- Baseline: `bench/oidc-baseline.mjs` (oidc-provider with node:http, in-memory adapter, one static client, two signing keys, the same 70 scopes as Portcullis\'s Management API)',
  );
  if (authApi.postgres) lines.push(`- PostgreSQL: ${authApi.postgres.skipped ? `skipped (${authApi.postgres.skipped})` : `${authApi.postgres.version} at ${authApi.postgres.url}, on the same machine and not pinned (its CPU per token is counted separately, from /proc)`}`);
  if (s.token) {
    const ac = settings.latencyTool !== 'paced' && s.token.some((r) => r.latency?.autocannon);
    lines.push(
      '',
      `POST /oauth/token, client_credentials, client_secret_post, JWT access token (req/s: median (min–max) of ${settings.oidcRounds} runs; latency in the last round at half the median maximum, ${settings.latencySeconds} s):`,
      '',
      `| Alg | Server | tokens/s | server CPU µs/token | tokens/s vs baseline (goal ≥ ${goals.tokenVsBaseline} ×) | per CPU-second vs baseline | p50 / p99 ms, open loop |${ac ? ' p50 / p99 ms, autocannon overallRate |' : ''}`,
      `|---|---|--:|--:|---|--:|---|${ac ? '---|' : ''}`,
      ...tokenRows(s),
    );
    const db = s.token.filter((r) => r.database);
    if (db.length) {
      lines.push('', 'PostgreSQL work per token (pg_stat_database over every token of the run, background queries included): ' + db.map((r) => `${r.alg}: ${fixed(r.database.transactionsPerToken, 2)} statements, ${fixed(r.database.rowsReadPerToken, 2)} rows read, ${fixed(r.database.rowsWrittenPerToken, 3)} rows written`).join('; ') + '.');
    }
    const sizes = s.token.filter((r) => r.token).map((r) => `${r.alg} ${serverName(r.server)} ${r.token.tokenBytes} B (${r.token.scopes} scopes)`);
    lines.push('', `Access token sizes: ${sizes.join('; ')}.`);
  }
  if (s.read) {
    const floor = s.read.floor;
    lines.push(
      '',
      `GET discovery and JWKS (req/s: median (min–max) of ${settings.oidcRounds} runs; hello world = bare Fastify /healthz in the same rounds: ${rpsCell(s.read.helloWorld.rps)}, ${fixed(s.read.helloWorld.cpuMicros?.median, 1)} µs CPU/request):`,
      '',
      '| Endpoint | Portcullis req/s | baseline req/s | CPU µs/req Portcullis / baseline | req/s vs baseline (goal ≥ ' + goals.readVsBaseline + ' ×) | req/s vs hello world (goal ≥ ' + goals.readVsHelloWorld + ' ×) | per CPU-second vs baseline / hello world |',
      '|---|--:|--:|--:|---|---|--:|',
      ...s.read.endpoints.map((e) => `| ${e.endpoint}${e.flagged ? ' ⚠' : ''} | ${rpsCell(e.portcullis)} | ${rpsCell(e.baseline)} | ${fixed(e.portcullisCpuMicros.median, 1)} / ${fixed(e.baselineCpuMicros.median, 1)} | ${fixed(e.vsBaseline, 2)} ×: ${verdict(e.metBaseline)} | ${fixed(e.vsHello, 2)} ×: ${verdict(e.metHello)} | ${fixed(e.cpuVsBaseline, 2)} × / ${fixed(e.cpuVsHello, 2)} × |`),
    );
    if (s.read.facts?.portcullis && s.read.facts?.baseline) {
      const p = s.read.facts.portcullis;
      const b = s.read.facts.baseline;
      lines.push('', `Bodies: discovery ${p.discoveryBytes} B (Portcullis) / ${b.discoveryBytes} B (baseline); JWKS ${p.jwksBytes} B, ${p.jwksKeys} keys / ${b.jwksBytes} B, ${b.jwksKeys} keys.`);
    }
    if (floor) lines.push('', `Latency floor of the open-loop generator (bare Fastify /healthz at ${int(floor.targetRate)}/s): p50 ${ms2(floor.latencyMs.p50)} ms, p99 ${ms2(floor.latencyMs.p99)} ms, p99.9 ${ms2(floor.latencyMs.p999)} ms.`);
  }
  const runs = [...(authApi.token ?? []), ...(authApi.read?.runs ?? [])];
  lines.push(
    '',
    '| Round | Scenario | Server | req/s | CPU µs/req | avg ms | p99 ms | errors / timeouts / non-2xx | server CPU (of its core busy) | load generator CPU (of its core busy) |',
    '|--:|---|---|--:|--:|--:|--:|--:|--:|--:|',
    ...authApiRuns(runs),
  );
  lines.push(...latencyTable(authApi.token ?? []));
  return lines;
}

/** The latency runs of `runs` (those with one), open loop and autocannon. */
function latencyTable(runs) {
  const latency = runs.filter((r) => r.latency);
  if (!latency.length) return [];
  return [
    '',
    '| Latency run | offered → achieved /s | p50 | p90 | p99 | p99.9 | max | non-2xx | generator lag p99 | server CPU (of its core busy) |',
    '|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|',
    ...latency.flatMap((r) => {
      const rows = [];
      const p = r.latency.paced;
      if (p) rows.push(`| ${r.scenario}, ${serverName(r.server)}, open loop${p.flagged ? ' ⚠' : ''} | ${int(p.targetRate)} → ${int(p.achievedRate)} | ${ms2(p.latencyMs.p50)} | ${ms2(p.latencyMs.p90)} | ${ms2(p.latencyMs.p99)} | ${ms2(p.latencyMs.p999)} | ${ms2(p.latencyMs.max)} | ${p.non2xx + p.errors + p.timeouts} | ${ms2(p.lagP99Ms)} | ${fixed(p.serverCpuPercent, 0)} % of ${fixed(p.serverCoreBusyPercent, 0)} % |`);
      const a = r.latency.autocannon;
      if (a) rows.push(`| ${r.scenario}, ${serverName(r.server)}, autocannon overallRate | ${int(a.targetRate)} → ${int(a.achievedRate)} | ${ms2(a.latencyMs.p50)} | | ${ms2(a.latencyMs.p99)} | | | ${a.non2xx + a.errors + a.timeouts} | | |`);
      return rows;
    }),
  ];
}

const pacedLatencyCell = (latency) => (latency?.paced ? `${int(latency.paced.targetRate)}/s: ${ms2(latency.paced.latencyMs.p50)} / ${ms2(latency.paced.latencyMs.p99)}` : 'n/a');
const cpuCell = (row) => `${fixed(row.cpuMicros?.median, 0)}${row.dbCpuMicros ? ` + ${fixed(row.dbCpuMicros.median, 0)} PG` : ''}`;
const tablesText = (byTable) =>
  Object.entries(byTable ?? {})
    .map(([table, t]) => `${table} ${[['inserted', t.insertedPerOp], ['updated', t.updatedPerOp], ['deleted', t.deletedPerOp]].filter(([, n]) => n > 0).map(([what, n]) => `${fixed(n, 2)} ${what}`).join(', ')}`)
    .join('; ') || 'none';
const pgWorkText = (d) =>
  `${fixed(d.transactionsPerOp, 2)} statements, ${fixed(d.rowsReadPerOp, 2)} rows read; rows written: ${fixed(d.rowsWrittenPerOp, 2)} in the database (${fixed(d.insertedPerOp, 2)} inserted, ${fixed(d.updatedPerOp, 2)} updated, ${fixed(d.deletedPerOp, 2)} deleted; system catalogs included), ${fixed(d.tableRowsWrittenPerOp, 2)} in Portcullis's tables (pg_stat_user_tables: ${tablesText(d.byTable)})`;
const censusText = (c) =>
  Object.entries(c.perKind)
    .map(([kind, k]) => `${kind} ${fixed(k.insertedPerOp, 2)} new rows${k.consumedPerOp ? `, ${fixed(k.consumedPerOp, 2)} marked consumed` : ''}`)
    .join('; ') + `; users.logins_count +${fixed(c.loginsPerOp, 2)} (one UPDATE each)`;

/** The `login` and `refresh` sections. */
function renderUserFlows({ settings, summary, goals, login, refresh }) {
  const sections = [login && 'login', refresh && 'refresh'].filter(Boolean);
  const lines = ['', `#### Authentication API (issue 3): ${sections.join(', ')}`, ''];
  const postgres = (login ?? refresh).postgres;
  lines.push(
    `- Every run on a freshly started server pinned to CPU ${settings.serverCpu}; Portcullis on a fresh database (RS256 tenant keys) set up by \`bench/lib/seed-users.mjs\` before the server starts: an application allowed password-realm and refresh_token (client_secret_post), one user, an API with allow_offline_access; ${settings.connections} connections, ${settings.warmupSeconds} s warm-up + ${settings.durationSeconds} s measured, ${settings.oidcRounds} rounds alternating baseline → SQLite → PostgreSQL`,
    `- PostgreSQL: ${postgres.skipped ? `skipped (${postgres.skipped})` : `${postgres.version} at ${postgres.url}, on the same machine and not pinned (its CPU per operation is counted separately, from /proc)`}`,
  );
  if (summary.login) {
    const rows = summary.login.rows;
    const a = rows.find((r) => r.server === 'argon2')?.argon2;
    lines.push(
      '',
      `POST /oauth/token, password-realm grant (\`audience\` = the Management API, no \`scope\`: an RS256 JWT access token, no ID or refresh token; autocannon, the same body every time), against raw argon2id verifications on the same core${a ? ` (m = ${a.params.memoryCost} KiB, t = ${a.params.timeCost}, p = ${a.params.parallelism}; ${a.concurrency} at once, as Portcullis's hasher on one core)` : ''}; median (min–max) of ${settings.oidcRounds} runs, latency in the last round at half the median maximum, ${settings.latencySeconds} s:`,
      '',
      `| Server | logins/s | server CPU µs/login | logins/s vs argon2id verifies/s (goal ≥ ${goals.loginVsArgon2} ×) | per CPU-second vs argon2id | p50 / p99 ms, open loop |`,
      '|---|--:|--:|---|--:|---|',
      ...rows.map((row) => {
        const goal = row.ratio === undefined ? '—' : `${fixed(row.ratio, 2)} ×: ${verdict(row.met)}`;
        const latency = row.server === 'argon2' ? `one verify: ${ms2(row.argon2.concurrency * (1000 / row.rps.median))} ms` : pacedLatencyCell(row.latency);
        return `| ${serverName(row.server)}${row.flagged ? ' ⚠' : ''} | ${rpsCell(row.rps)} | ${cpuCell(row)} | ${goal} | ${row.cpuRatio === undefined ? '—' : `${fixed(row.cpuRatio, 2)} ×`} | ${latency} |`;
      }),
    );
    const pg = rows.find((r) => r.database);
    if (pg) lines.push('', `PostgreSQL work per login (pg_stat_database over every login of the run, background queries included): ${pgWorkText(pg.database)}.`);
    const census = rows.filter((r) => r.census);
    if (census.length) lines.push('', `Left in the database per login (last run): ${census.map((r) => `${serverName(r.server)}: ${censusText(r.census)}`).join('. ')}.`);
  }
  if (summary.refresh) {
    const rows = summary.refresh.rows;
    lines.push(
      '',
      `POST /oauth/token (baseline: /token), grant_type=refresh_token with rotation, client_secret_post; an RS256 JWT access token for the bench API; ${settings.connections} refresh-token chains, closed loop (bench/lib/refresh-load.mjs); median (min–max) of ${settings.oidcRounds} runs, latency in the last round at half the median maximum, ${settings.latencySeconds} s, open loop:`,
      '',
      `| Server | rotations/s | server CPU µs/rotation | rotations/s vs baseline (goal ≥ ${goals.refreshVsBaseline} ×) | per CPU-second vs baseline | rows written per rotation to Portcullis's tables, PostgreSQL (goal ≤ ${goals.refreshWritesPerRotation}) | p50 / p99 ms, open loop | p50 / p99 ms, closed loop at max |`,
      '|---|--:|--:|---|--:|---|---|---|',
      ...rows.map((row) => {
        const goal = row.ratio === undefined ? '—' : `${fixed(row.ratio, 2)} ×: ${verdict(row.met)}`;
        const writes = row.database ? `${fixed(row.database.tableRowsWrittenPerOp, 2)}: ${verdict(row.writesMet)} (${fixed(row.database.rowsWrittenPerOp, 2)} database-wide)` : row.server === 'baseline' ? '— (in memory)' : 'n/a (see below)';
        const closed = row.closedLoopLatency ? `${ms2(row.closedLoopLatency.p50)} / ${ms2(row.closedLoopLatency.p99)}` : 'n/a';
        return `| ${serverName(row.server)}${row.flagged ? ' ⚠' : ''} | ${rpsCell(row.rps)} | ${cpuCell(row)} | ${goal} | ${row.cpuRatio === undefined ? '—' : `${fixed(row.cpuRatio, 2)} ×`} | ${writes} | ${pacedLatencyCell(row.latency)} | ${closed} |`;
      }),
    );
    const pg = rows.find((r) => r.database);
    if (pg) lines.push('', `PostgreSQL work per rotation (pg_stat_database over every rotation of the run, background queries included): ${pgWorkText(pg.database)}.`);
    const census = rows.filter((r) => r.census);
    if (census.length) lines.push('', `Artifact writes per rotation, from what the database holds after the run (SQLite has no statement counters; each new row is one INSERT, each consumed mark one UPDATE): ${census.map((r) => `${serverName(r.server)}: ${censusText(r.census)}`).join('. ')}.`);
    const sizes = rows.filter((r) => r.token).map((r) => `${serverName(r.server)} ${r.token.tokenBytes} B (scope "${r.token.scope ?? ''}")`);
    if (sizes.length) lines.push('', `Access token sizes: ${sizes.join('; ')}.`);
  }
  const runs = [...(login?.runs ?? []), ...(refresh?.runs ?? [])];
  lines.push(
    '',
    '| Round | Scenario | Server | req/s | CPU µs/req | avg ms | p99 ms | errors / timeouts / non-2xx | server CPU (of its core busy) | load generator CPU (of its core busy) |',
    '|--:|---|---|--:|--:|--:|--:|--:|--:|--:|',
    ...authApiRuns(runs),
    ...latencyTable(runs),
  );
  return lines;
}

const backendName = (backend) => (backend === 'postgres' ? 'PostgreSQL' : 'SQLite');
const mibCell = (bytes) => (Number.isFinite(bytes) ? `${fixed(bytes / 1024 ** 2, 0)} MiB` : 'n/a');
const cell = (text) => String(text).replace(/\|/g, '\\|');

/** The `users` section: seeding, reads, searches and their SQL. */
function renderUsers({ settings, summary, goals, users: out }) {
  const s = summary.users;
  const pg = out.postgres;
  const lines = ['', '#### Management API: users (section `users`)', ''];
  lines.push(
    `- Every database fresh, set up before its server starts: \`portcullis admin-client --json\`, then \`bench/lib/seed-many-users.mjs\` (generated users bulk-inserted into the default connection, secondary indexes re-created after the load, ${settings.usersSqliteAnalyze ? 'ANALYZE' : '**no ANALYZE on SQLite** (BENCH_USERS_SQLITE_ANALYZE=0: no statistics, as a database Portcullis filled itself)'}; on PostgreSQL VACUUM (ANALYZE)); server pinned to CPU ${settings.serverCpu}; one Management API token (client_credentials) per database`,
    `- PostgreSQL: ${pg.skipped ? `skipped (${pg.skipped})` : `${pg.version} at ${pg.url}, on the same machine and not pinned (its CPU is counted separately, from /proc)`}`,
  );
  for (const skip of out.skipped) lines.push(`- Not measured: ${backendName(skip.backend)} at ${int(skip.size)} users (${skip.why})`);
  lines.push(
    '',
    'Seeding (wall time of the seed script; inserted in transactions of 5,000 users, one users + user_identities + password_credentials row each plus the user_metadata_values facts of each):',
    '',
    '| Backend | Users | seeding s | insert / indexes (how many) / ANALYZE s | users/s inserted | database | users table with its indexes | matches: email / name / plan |',
    '|---|--:|--:|---|--:|--:|--:|---|',
    ...s.seeds.map((d) => `| ${backendName(d.backend)} | ${int(d.users)} | ${fixed(d.seconds, 1)} | ${fixed(d.insertSeconds, 1)} / ${fixed(d.indexSeconds, 1)} (${d.indexes}) / ${d.analyzed === false ? 'none' : fixed(d.analyzeSeconds, 1)} | ${int(d.usersPerSecond)} | ${mibCell(d.databaseBytes)} | ${mibCell(d.tables?.users)} | ${d.matches.email} / ${int(d.matches.name)} / ${int(d.matches.plan)} |`),
  );
  if (s.reads.length) {
    const size = s.reads[0].size;
    lines.push(
      '',
      `GET /api/v2/users/{id} and GET /api/v2/users-by-email at ${int(size)} users (autocannon, ${settings.connections} connections, ${settings.warmupSeconds} s warm-up + ${settings.durationSeconds} s per run, ${settings.usersRounds === 1 ? '1 round' : `${settings.usersRounds} rounds, the server restarted and the order of the endpoints alternating between them`}; each request for the next of ${int(settings.usersSample)} users spread over the population, every 200 checked to be that user); req/s median (min–max):`,
      '',
      `| Endpoint | Backend | req/s | server CPU µs/req | req per server CPU-second | goal ≥ ${int(goals.usersReadRps)} req/s on one core (SQLite, ${int(goals.usersGoalSize)} users) | answers checked / wrong |`,
      '|---|---|--:|--:|--:|---|--:|',
      ...s.reads.map((r) => {
        const goal = r.met === undefined ? (r.backend === 'sqlite' ? `— (at ${int(r.size)} users)` : '— (reported)') : `${int(r.rps.median)}: ${verdict(r.met)}`;
        const cpu = `${fixed(r.cpuMicros?.median, 0)}${r.dbCpuMicros ? ` + ${fixed(r.dbCpuMicros.median, 0)} PG` : ''}`;
        return `| ${r.scenario}${r.flagged ? ' ⚠' : ''} | ${backendName(r.backend)} | ${rpsCell(r.rps)} | ${cpu} | ${int(r.perCoreSecond)} | ${goal} | ${int(r.checked)} / ${r.wrong} |`;
      }),
    );
  }
  if (s.searches.length) {
    lines.push(
      '',
      `Searches: GET /api/v2/users?q=…&search_engine=v3&per_page=50&include_totals=true. Open loop (bench/lib/paced.mjs): ${settings.usersSearchRate}/s, Poisson arrivals, ${Math.min(2, settings.warmupSeconds)} s warm-up + ${settings.latencySeconds} s; closed loop: ${settings.usersProbe} searches one after another on one connection (after 5 unrecorded), before it; a search whose closed-loop median fills 80 % of the interval between arrivals is "saturated" and not run open loop. Every answer checked (total, page size, each user matching). "matched" is counted in SQL after seeding; Auth0's \`total\` stops at 1,000. Latency in ms:`,
      '',
      `| Users | Backend | Query | matched | total / returned | p50 | p95 | p99 | max | closed loop p50 / p95 | server CPU ms/search | goal p95 ≤ ${goals.usersSearchP95Ms} ms (${int(goals.usersGoalSize)} users) |`,
      '|--:|---|---|--:|--:|--:|--:|--:|--:|---|--:|---|',
      ...s.searches.map((r) => {
        const p = r.paced;
        const goal = r.met === undefined ? '—' : r.saturated ? `saturated: ${verdict(false)}` : `${ms2(p.latencyMs.p95)}: ${verdict(r.met)}`;
        const latency = p ? `${ms2(p.latencyMs.p50)} | ${ms2(p.latencyMs.p95)} | ${ms2(p.latencyMs.p99)} | ${ms2(p.latencyMs.max)}` : `saturated at ${settings.usersSearchRate}/s | | | `;
        const cpu = p ? `${fixed(p.serverCpuMsPerSearch, 2)}${p.dbCpuMsPerSearch !== undefined ? ` + ${fixed(p.dbCpuMsPerSearch, 2)} PG` : ''}` : 'n/a';
        return `| ${int(r.size)} | ${backendName(r.backend)} | \`${cell(r.q)}\`${p?.flagged ? ' ⚠' : ''} | ${int(r.matched)} | ${r.total} / ${r.returned} | ${latency} | ${ms2(r.closedLoop.p50)} / ${ms2(r.closedLoop.p95)} | ${cpu} | ${goal} |`;
      }),
    );
  }
  if (out.plans.length) {
    lines.push(
      '',
      'The SQL of each search (captured from the users store in dist/ and run on the same database after its server stopped; ms = median of 5 runs of the statement alone; plans: EXPLAIN QUERY PLAN on SQLite, EXPLAIN ANALYZE nodes on PostgreSQL; all statements and full plans in the JSON):',
      '',
      '| Users | Backend | Query | statement | ms (PostgreSQL: round trip / execution) | plan |',
      '|--:|---|---|---|--:|---|',
      ...out.plans.flatMap((p) =>
        p.statements
          .filter((st) => st.role !== 'identities')
          .map((st) => `| ${int(p.size)} | ${backendName(p.backend)} | ${p.query} | ${st.role} | ${ms2(st.ms)}${st.executionMs !== undefined ? ` / ${ms2(st.executionMs)}` : ''} | ${cell(st.outline)} |`),
      ),
    );
  }
  if (out.runs.length) {
    lines.push(
      '',
      '| Round | Scenario | Server | req/s | CPU µs/req | avg ms | p99 ms | errors / timeouts / non-2xx | server CPU (of its core busy) | load generator CPU (of its core busy) |',
      '|--:|---|---|--:|--:|--:|--:|--:|--:|--:|',
      ...authApiRuns(out.runs),
    );
  }
  return lines;
}

export function renderMarkdown({ machine, settings, summary, goals, runs, authApi, login, refresh, users, warnings }) {
  const lines = [
    `### Benchmark run of ${machine.date}`,
    '',
    `- Commit ${machine.revision.commit}${machine.revision.dirty ? ' with uncommitted changes' : ''}${machine.revision.exported ? ' (exported tree)' : ''}; Node ${machine.node}, ${machine.cpuModel} (${machine.onlineCpus} CPUs online), Linux ${machine.kernel}; load average at start ${machine.loadavgStart}, at end ${machine.loadavgEnd}; sections ${settings.sections.join(', ')}, ${fixed(machine.benchSeconds / 60, 1)} min`,
    `- Servers pinned to CPU ${settings.serverCpu} (\`taskset -c ${settings.serverCpu}\`), autocannon ${machine.autocannon} in the bench process pinned to CPU ${settings.loadgenCpu}; Fastify ${machine.fastify}, oidc-provider ${machine.oidcProvider}`,
  ];
  const allRuns = [...(runs ?? []), ...(authApi?.token ?? []), ...(authApi?.read?.runs ?? []), ...(login?.runs ?? []), ...(refresh?.runs ?? []), ...(users?.runs ?? [])].filter((r) => r.quiet);
  if (allRuns.length) {
    const quiet = allRuns.filter((r) => r.quiet.quiet).length;
    const waited = allRuns.reduce((sum, r) => sum + r.quiet.waitedMs, 0) / 1000;
    lines.push(`- Shared machine: before each run's warm-up the bench waits (≤ ${settings.quietWaitSeconds} s, ≤ ${settings.quietBudgetSeconds} s in all) for both cores to be under 15 % busy; ${quiet} of ${allRuns.length} runs started that quiet (${fixed(waited, 0)} s waited in all). The core-busy columns show what else ran during each window.`);
  }
  if (runs) lines.push(`- /healthz: ${settings.connections} connections, no pipelining, ${settings.warmupSeconds} s warm-up + ${settings.durationSeconds} s measured per run, ${settings.rounds} rounds alternating bare → Portcullis, each run on a freshly started server (Portcullis: fresh SQLite DB, NODE_ENV=production, LOG_LEVEL=warn)`);
  if (runs) lines.push(`- Idle RSS: VmRSS ${settings.idleWaitSeconds} s after a handful of requests, before the load`);
  if (summary.startup) lines.push(`- start→ready: ${settings.startRuns} runs each plus one discarded warm-up start`);
  const rows = goalRows(summary, goals);
  if (rows.length) {
    lines.push('', '| Measure | Portcullis | Bare Fastify | Goal | Result |', '|---|--:|--:|---|---|', ...rows);
    if (summary.startup?.bare) lines.push('', '¹ bare Fastify: spawn → first /healthz 200, median of its throughput runs (reference only).');
  }
  if (runs) {
    lines.push(
      '',
      '| Round | Server | req/s | server CPU µs/req | avg ms | p99 ms | errors / timeouts / non-2xx | server CPU (of its core busy) | load generator CPU (of its core busy) | RSS idle → after load |',
      '|--:|---|--:|--:|--:|--:|--:|--:|--:|---|',
      ...runRows(runs),
    );
  }
  if (authApi) lines.push(...renderAuthApi({ settings, summary, goals, authApi }));
  if (login || refresh) lines.push(...renderUserFlows({ settings, summary, goals, login, refresh }));
  if (users) lines.push(...renderUsers({ settings, summary, goals, users }));
  lines.push('', 'CPU columns: the process\'s own CPU time over the measured window, then how busy its core was in all (from /proc/stat); the difference is other work on that core.');
  if (warnings.length > 0) lines.push('', 'Warnings:', ...warnings.map((w) => `- ${w}`));
  return lines.join('\n') + '\n';
}
