// PostgreSQL for the benchmark: a fresh database per Portcullis run, created
// and dropped with psql, and the server-wide counters of that database
// (pg_stat_database) to count statements and row writes per request.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';

const run = promisify(execFile);
const created = new Set();

/** `postgres://user@host:port` (no database) → URL of database `name`. */
export function databaseUrl(serverUrl, name) {
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

export async function psql(serverUrl, sql, { database = 'postgres', timeoutMs = 30_000 } = {}) {
  const { stdout } = await run('psql', [databaseUrl(serverUrl, database), '-v', 'ON_ERROR_STOP=1', '-X', '-q', '-A', '-t', '-c', sql], { timeout: timeoutMs, env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/tmp' } });
  return stdout.trim();
}

/** Whether the server answers; the error message when it does not. */
export async function checkServer(serverUrl) {
  try {
    const version = await psql(serverUrl, 'SHOW server_version', { timeoutMs: 10_000 });
    return { ok: true, version };
  } catch (error) {
    return { ok: false, error: String(error.stderr || error.message).trim().split('\n')[0] };
  }
}

export async function createDatabase(serverUrl) {
  const name = `portcullis_bench_${randomBytes(6).toString('hex')}`;
  await psql(serverUrl, `CREATE DATABASE ${name}`);
  created.add(`${serverUrl}\n${name}`);
  return { name, url: databaseUrl(serverUrl, name) };
}

export async function dropDatabase(serverUrl, name) {
  await psql(serverUrl, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  created.delete(`${serverUrl}\n${name}`);
}

/** Drops every database this process created and has not dropped yet. */
export async function dropAllCreated() {
  for (const key of [...created]) {
    const [serverUrl, name] = key.split('\n');
    try {
      await dropDatabase(serverUrl, name);
    } catch (error) {
      process.stderr.write(`bench: could not drop database ${name}: ${error.message}\n`);
    }
  }
}

/** Names of the databases still to drop (for a last-resort message). */
export function pendingDatabases() {
  return [...created].map((key) => key.split('\n')[1]);
}

/**
 * The database's cumulative counters. Backends publish them at most about
 * once a second and when they exit, so read the "after" sample once the
 * server (and its pool) has stopped.
 */
export async function databaseStats(serverUrl, name) {
  const row = await psql(
    serverUrl,
    `SELECT xact_commit + xact_rollback, tup_returned, tup_fetched, tup_inserted, tup_updated, tup_deleted FROM pg_stat_database WHERE datname = '${name}'`,
  );
  const [transactions, returned, fetched, inserted, updated, deleted] = row.split('|').map(Number);
  return { transactions, returned, fetched, inserted, updated, deleted };
}

/**
 * Rows inserted, updated and deleted per table of the database's own schema
 * (pg_stat_user_tables: no system catalogs, so no autovacuum ANALYZE
 * writes), published like databaseStats. { table: { inserted, updated, deleted } }.
 */
export async function tableStats(serverUrl, name) {
  const rows = await psql(serverUrl, 'SELECT relname, n_tup_ins, n_tup_upd, n_tup_del FROM pg_stat_user_tables ORDER BY relname', { database: name });
  const out = {};
  for (const line of rows ? rows.split('\n') : []) {
    const [table, inserted, updated, deleted] = line.split('|');
    out[table] = { inserted: Number(inserted), updated: Number(updated), deleted: Number(deleted) };
  }
  return out;
}

/** Per-counter difference of two samples. */
export function diffStats(before, after) {
  const out = {};
  for (const key of Object.keys(after)) out[key] = after[key] - before[key];
  return out;
}
