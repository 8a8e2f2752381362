// What the `login` and `refresh` sections share: a Portcullis server on a
// fresh database that bench/lib/seed-users.mjs set up before it started (an
// application allowed the password-realm grant, a user, an API that allows
// offline access), and the database figures read after the run.
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { checkServer, createDatabase, databaseStats, diffStats, dropDatabase, psql, tableStats } from './postgres.mjs';
import { makeTempDir, removeTempDir } from './processes.mjs';

const execFileAsync = promisify(execFile);

export const PASSWORD_REALM_GRANT = 'http://auth0.com/oauth/grant-type/password-realm';
/** The user every login is for (≥ 12 characters, not on the common-password list). */
export const BENCH_USER = Object.freeze({ email: 'bench-user@example.test', password: 'bench login password 0123' });
/** The API refresh tokens are issued for (allow_offline_access), on Portcullis and on the baseline alike. */
export const BENCH_API = Object.freeze({ identifier: 'https://api.bench.portcullis.test/', scopes: 'read:things write:things' });
/** Both sections sign with RS256, the tenant default (see docs/performance.md). */
export const SEED_ALG = 'RS256';

/**
 * startServer's `prepare` for a seeded Portcullis: a fresh directory (and, for
 * PostgreSQL, a fresh database), then seed-users.mjs with the server's
 * environment; it exits before the server starts.
 */
function prepareSeeded(h, backend) {
  return async (port) => {
    const dir = makeTempDir('portcullis-bench-');
    let db;
    const cleanup = async () => {
      removeTempDir(dir);
      if (db) await dropDatabase(h.settings.pgUrl, db.name);
    };
    try {
      if (backend === 'postgres') db = await createDatabase(h.settings.pgUrl);
      const env = { SIGNING_ALG: SEED_ALG, ...(db ? { DATABASE_URL: db.url } : {}) };
      const args = [join(h.root, 'bench', 'lib', 'seed-users.mjs'), '--api', BENCH_API.identifier, '--scopes', BENCH_API.scopes, '--email', BENCH_USER.email, '--password', BENCH_USER.password];
      const run = await execFileAsync(process.execPath, args, { cwd: h.root, env: { ...h.portcullisEnv(port, dir), ...env }, timeout: 120_000 });
      const seed = JSON.parse(run.stdout.trim().split('\n').pop());
      // `env` goes to the server; `serverEnv` stays with the run, for a restart.
      return { dir, env, serverEnv: env, seed, db, backend, cleanup };
    } catch (error) {
      await cleanup();
      throw new Error(`bench/lib/seed-users.mjs (${backend}) failed: ${error.stderr || error.message}`);
    }
  };
}

/** Starts Portcullis on a freshly seeded database; the caller stops it and calls `cleanup()`. */
export function startSeeded(h, backend, label) {
  return h.startServer('portcullis', undefined, { prepare: prepareSeeded(h, backend), label });
}

/**
 * Stops a seeded server and starts a fresh one on the same database and the
 * same port (so PUBLIC_URL, hence the issuer, is unchanged). The caller
 * stops the new one and calls `cleanup()`.
 */
export async function restartSeeded(h, started, label) {
  started.stopped = true;
  await h.stopServer(started.server);
  try {
    const again = await h.startServer('portcullis', started.dir, { port: started.port, env: started.serverEnv, label });
    return { ...started, ...again, stopped: false };
  } catch (error) {
    await started.cleanup();
    throw error;
  }
}

/** Fails, with the end of its output, when the server exited during a run (e.g. it crashed under load). */
export function assertRunning(started, label) {
  const { server } = started;
  if (server.exit) throw new Error(`${label}: ${server.label} (pid ${server.pid}) exited during the run (${JSON.stringify(server.exit)}); its output:\n${server.output().slice(-4000)}`);
}

/**
 * `error`, with the end of the server's output added when the server exited
 * on its own (a failed /proc read is then only the symptom).
 */
export function explainExit(started, label, error) {
  const { server } = started;
  if (!server.exit || started.stopped) return error;
  return new Error(`${label}: ${server.label} (pid ${server.pid}) exited during the run (${JSON.stringify(server.exit)}); its output:\n${server.output().slice(-4000)}\n(then: ${error.message})`);
}

/** Whether PostgreSQL answers at BENCH_PG_URL; warns once per section when it does not. */
export async function postgresFor(h, section) {
  const check = await checkServer(h.settings.pgUrl);
  if (!check.ok) h.warn(`PostgreSQL at ${h.settings.pgUrl} is not reachable (${check.error}): the ${section} section measures SQLite only`);
  return check.ok ? { url: h.settings.pgUrl, version: check.version } : { url: h.settings.pgUrl, skipped: check.error };
}

export async function pgStats(h, started) {
  const [database, tables] = await Promise.all([databaseStats(h.settings.pgUrl, started.db.name), tableStats(h.settings.pgUrl, started.db.name)]);
  return { database, tables };
}

/**
 * PostgreSQL's counters over `ops` operations (read once the server stopped,
 * when its backends have published them), per operation:
 * - pg_stat_database: statements (transactions; every statement outside a
 *   transaction is one), rows read, rows written (inserted + updated +
 *   deleted) — the whole database, so system catalogs too (autovacuum's
 *   ANALYZE of a table that changed a lot rewrites its pg_statistic rows);
 * - pg_stat_user_tables: rows written to Portcullis's own tables, by table.
 */
export function pgWork(before, after, ops) {
  const d = diffStats(before.database, after.database);
  const byTable = {};
  let tableRows = 0;
  for (const [table, counts] of Object.entries(after.tables)) {
    const was = before.tables[table] ?? { inserted: 0, updated: 0, deleted: 0 };
    const delta = { inserted: counts.inserted - was.inserted, updated: counts.updated - was.updated, deleted: counts.deleted - was.deleted };
    const rows = delta.inserted + delta.updated + delta.deleted;
    if (rows === 0) continue;
    tableRows += rows;
    byTable[table] = { insertedPerOp: delta.inserted / ops, updatedPerOp: delta.updated / ops, deletedPerOp: delta.deleted / ops };
  }
  return {
    ops,
    ...d,
    transactionsPerOp: d.transactions / ops,
    rowsReadPerOp: d.fetched / ops,
    insertedPerOp: d.inserted / ops,
    updatedPerOp: d.updated / ops,
    deletedPerOp: d.deleted / ops,
    rowsWrittenPerOp: (d.inserted + d.updated + d.deleted) / ops,
    tableRowsWrittenPerOp: tableRows / ops,
    byTable,
  };
}

/**
 * What the run left in the database, once the server stopped: the engine's
 * artifacts by kind (rows, and how many are marked consumed) and the bench
 * user's logins_count. Each artifact row is one INSERT and each consumed mark
 * one UPDATE, so on SQLite — which has no statement counters — this counts
 * the artifact writes; writes that leave no trace (an UPDATE rewriting the
 * same row, a deleted row) only PostgreSQL's counters show.
 */
export async function artifactCensus(h, started) {
  const kindsSql = 'SELECT kind, COUNT(*) AS n, COUNT(consumed_at) AS consumed FROM oidc_artifacts GROUP BY kind ORDER BY kind';
  const loginsSql = 'SELECT COALESCE(SUM(logins_count), 0) AS logins FROM users';
  let kinds;
  let logins;
  if (started.backend === 'postgres') {
    const rows = await psql(h.settings.pgUrl, kindsSql, { database: started.db.name });
    kinds = rows ? rows.split('\n').map((line) => line.split('|')).map(([kind, n, consumed]) => ({ kind, n: Number(n), consumed: Number(consumed) })) : [];
    logins = Number(await psql(h.settings.pgUrl, loginsSql, { database: started.db.name }));
  } else {
    const { default: Sqlite } = await import('better-sqlite3');
    const sqlite = new Sqlite(join(started.dir, 'portcullis.db'), { readonly: true });
    try {
      kinds = sqlite.prepare(kindsSql).all();
      logins = Number(sqlite.prepare(loginsSql).get().logins);
    } finally {
      sqlite.close();
    }
  }
  return { artifacts: Object.fromEntries(kinds.map((k) => [k.kind, { rows: k.n, consumed: k.consumed }])), logins };
}
