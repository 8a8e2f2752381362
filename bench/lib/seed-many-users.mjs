#!/usr/bin/env node
// Fills a Portcullis database with `--users N` generated users
// (bench/lib/user-population.mjs) for the bench's `users` section, FAST:
// rows go straight into the tables in transactions of `--batch` users, not
// through the users service (no argon2id per user: every user gets one
// precomputed hash of SEEDED_PASSWORD). Run it after
// `portcullis admin-client` has created the schema and the default tenant,
// and before the server starts, with the server's DATABASE_URL.
//
// Each user is written as the users store's insert writes it
// (src/users/store.ts): every column of `users`, the *_lower copies folded
// with JavaScript's toLowerCase, one `user_identities` row (provider auth0,
// the local id, not social, profile_data {}), one `password_credentials`
// row and the searchable facts of its metadata in `user_metadata_values`
// (computed by dist/search/metadata-facts.js, the store's own code), in the
// default tenant's default database connection. The script
// refuses to run when `users` has a column it does not fill (a new
// migration), so the seed cannot silently drift from the store.
//
// Then ANALYZE (SQLite) or VACUUM (ANALYZE) (PostgreSQL); Portcullis itself
// never runs ANALYZE, see docs/performance.md. One JSON line on stdout: timings, database size,
// how many users each search of the section matches (counted in SQL and
// cross-checked with the generator), and a sample of `--sample` users
// (user_id, email) drawn evenly from the population.
//
//   DATABASE_URL=… node bench/lib/seed-many-users.mjs --users 100000 [--batch 5000] [--sample 1000] [--sqlite-analyze 0]
import { hash } from '@node-rs/argon2';
import { spawn } from 'node:child_process';
import { statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { generateUser, NAME_PREFIX, prng, RARE_PLAN, SEEDED_PASSWORD } from './user-population.mjs';

const dist = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'dist');
const { values } = parseArgs({
  options: { users: { type: 'string' }, batch: { type: 'string', default: '5000' }, sample: { type: 'string', default: '1000' }, seed: { type: 'string', default: '1' }, 'sqlite-analyze': { type: 'string', default: '1' } },
});
// `--sqlite-analyze 0` leaves a SQLite database without statistics, as every
// database Portcullis created and filled through its API is (it never runs ANALYZE).
const sqliteAnalyze = values['sqlite-analyze'] !== '0';
const total = Number(values.users);
const batchSize = Number(values.batch);
const sampleSize = Math.min(Number(values.sample), total);
if (!Number.isInteger(total) || total < 1) throw new Error('--users must be a positive integer');
if (!Number.isInteger(batchSize) || batchSize < 1) throw new Error('--batch must be a positive integer');
const databaseUrl = process.env.DATABASE_URL;
if (!databaseUrl) throw new Error('DATABASE_URL is required (the server\'s)');

const [{ ARGON2_PARAMS }, { DEFAULT_DATABASE_CONNECTION }, { metadataValues }] = await Promise.all([
  import(pathToFileURL(join(dist, 'users', 'password-hasher.js')).href),
  import(pathToFileURL(join(dist, 'connections', 'store.js')).href),
  // The searchable metadata facts, computed by the code the users store uses.
  import(pathToFileURL(join(dist, 'search', 'metadata-facts.js')).href),
]);

/** The columns of `users` the store's insert writes (all of them), in the order the writers bind them. */
const USER_COLUMNS = [
  'tenant_id', 'user_id', 'connection_id', 'email', 'email_lower', 'email_verified', 'username', 'username_lower', 'phone_number', 'phone_verified',
  'name', 'given_name', 'family_name', 'nickname', 'name_lower', 'given_name_lower', 'family_name_lower', 'nickname_lower', 'picture',
  'app_metadata', 'user_metadata', 'blocked', 'created_at', 'updated_at', 'last_login', 'last_ip', 'logins_count',
];
const IDENTITY_COLUMNS = ['tenant_id', 'user_id', 'connection_id', 'provider', 'external_id', 'is_social', 'profile_data', 'created_at'];
const CREDENTIAL_COLUMNS = ['tenant_id', 'user_id', 'hash', 'created_at', 'updated_at'];
const FACT_COLUMNS = ['tenant_id', 'user_id', 'root', 'path', 'kind', 'value'];
const SEEDED_TABLES = ['users', 'user_identities', 'password_credentials', 'user_metadata_values'];
const BOOLEAN_COLUMNS = new Set(['email_verified', 'phone_verified', 'blocked', 'is_social']);

/** The last code point + 1: the end of the prefix range, as src/search/compile.ts builds it. */
function successor(prefix) {
  const points = Array.from(prefix, (c) => c.codePointAt(0));
  points[points.length - 1] += 1;
  return String.fromCodePoint(...points);
}

function checkColumns(actual) {
  const filled = new Set(USER_COLUMNS);
  const missing = actual.filter((c) => !filled.has(c));
  const unknown = USER_COLUMNS.filter((c) => !actual.includes(c));
  if (missing.length || unknown.length) {
    throw new Error(`users has columns this seed does not fill (${missing.join(', ') || 'none'}) or lacks columns it fills (${unknown.join(', ') || 'none'}): update bench/lib/seed-many-users.mjs to match src/users/store.ts`);
  }
}

// ---------------------------------------------------------------- SQLite

async function sqliteBackend(path) {
  const { default: Sqlite } = await import('better-sqlite3');
  const db = new Sqlite(path);
  // A bench database: durability during the load is not needed (the WAL is
  // checkpointed at the end), and a larger cache keeps the indexes in memory.
  db.pragma('synchronous = OFF');
  db.pragma('cache_size = -1048576');
  db.pragma('foreign_keys = ON');
  const placeholders = (columns) => columns.map(() => '?').join(', ');
  const insertUser = db.prepare(`insert into users (${USER_COLUMNS.join(', ')}) values (${placeholders(USER_COLUMNS)})`);
  const insertIdentity = db.prepare(`insert into user_identities (${IDENTITY_COLUMNS.join(', ')}) values (${placeholders(IDENTITY_COLUMNS)})`);
  const insertCredential = db.prepare(`insert into password_credentials (${CREDENTIAL_COLUMNS.join(', ')}) values (${placeholders(CREDENTIAL_COLUMNS)})`);
  const insertFact = db.prepare(`insert into user_metadata_values (${FACT_COLUMNS.join(', ')}) values (${placeholders(FACT_COLUMNS)})`);
  const bind = (row, columns) => columns.map((c) => (BOOLEAN_COLUMNS.has(c) ? (row[c] ? 1 : 0) : row[c]));
  const writeBatch = db.transaction((rows) => {
    for (const row of rows) {
      insertUser.run(bind(row.user, USER_COLUMNS));
      insertIdentity.run(bind(row.identity, IDENTITY_COLUMNS));
      insertCredential.run(bind(row.credential, CREDENTIAL_COLUMNS));
      for (const fact of row.facts) insertFact.run(bind(fact, FACT_COLUMNS));
    }
  });
  return {
    name: 'sqlite',
    defaults() {
      const tenant = db.prepare('select id from tenants where is_default = 1').get();
      if (!tenant) throw new Error('no default tenant: run portcullis admin-client first');
      const connection = db.prepare('select id from connections where tenant_id = ? and name = ?').get(tenant.id, DEFAULT_DATABASE_CONNECTION);
      if (!connection) throw new Error(`the default tenant has no ${DEFAULT_DATABASE_CONNECTION} connection`);
      checkColumns(db.prepare("select name from pragma_table_info('users')").all().map((r) => r.name));
      return { tenantId: tenant.id, connectionId: connection.id };
    },
    async dropIndexes() {
      const indexes = db.prepare(`select name, sql from sqlite_master where type = 'index' and sql is not null and tbl_name in (${SEEDED_TABLES.map((t) => `'${t}'`).join(', ')}) order by name`).all();
      db.transaction(() => indexes.forEach((i) => db.exec(`drop index "${i.name}"`)))();
      return indexes;
    },
    async createIndexes(indexes) {
      db.transaction(() => indexes.forEach((i) => db.exec(i.sql)))();
      const again = db.prepare(`select name, sql from sqlite_master where type = 'index' and sql is not null and tbl_name in (${SEEDED_TABLES.map((t) => `'${t}'`).join(', ')}) order by name`).all();
      return again;
    },
    async write(rows) {
      writeBatch(rows);
    },
    /** Foreign keys were enforced while loading (foreign_keys = ON). */
    references: async () => 0,
    async analyze() {
      if (sqliteAnalyze) db.exec('analyze');
      db.pragma('wal_checkpoint(TRUNCATE)');
      return sqliteAnalyze;
    },
    async counts(tenantId, email) {
      const one = (sql, ...args) => Number(Object.values(db.prepare(sql).get(...args))[0]);
      return {
        users: one('select count(*) from users where tenant_id = ?', tenantId),
        identities: one('select count(*) from user_identities where tenant_id = ?', tenantId),
        email: one('select count(*) from users where tenant_id = ? and email_lower = ?', tenantId, email.toLowerCase()),
        name: one('select count(*) from users where tenant_id = ? and name_lower >= ? and name_lower < ?', tenantId, NAME_PREFIX, successor(NAME_PREFIX)),
        plan: one("select count(*) from users where tenant_id = ? and json_extract(app_metadata, '$.plan') = ?", tenantId, RARE_PLAN),
      };
    },
    async size() {
      const pageSize = db.pragma('page_size', { simple: true });
      const pages = db.pragma('page_count', { simple: true });
      let tables;
      try {
        // dbstat is compiled into better-sqlite3's SQLite; sizes per table with its indexes.
        const rows = db.prepare("select coalesce(m.tbl_name, s.name) as tbl, sum(s.pgsize) as bytes from dbstat s left join sqlite_master m on m.name = s.name group by tbl").all();
        tables = Object.fromEntries(rows.filter((r) => ['users', 'user_identities', 'password_credentials'].includes(r.tbl)).map((r) => [r.tbl, r.bytes]));
      } catch {
        tables = undefined;
      }
      let wal = 0;
      try {
        wal = statSync(`${path}-wal`).size;
      } catch {
        wal = 0;
      }
      return { databaseBytes: pageSize * pages + wal, tables };
    },
    async close() {
      db.close();
    },
  };
}

// ------------------------------------------------------------ PostgreSQL

/** A value in COPY's text format (PostgreSQL docs, COPY, "Text Format"): \N for null, t/f, backslash escapes. */
function copyField(value) {
  if (value === null || value === undefined) return '\\N';
  if (typeof value === 'boolean') return value ? 't' : 'f';
  const text = String(value);
  return COPY_SPECIAL.test(text) ? text.replace(COPY_SPECIALS, (c) => COPY_ESCAPES[c]) : text;
}
const COPY_SPECIAL = /[\\\t\n\r]/;
const COPY_SPECIALS = /[\\\t\n\r]/g;
const COPY_ESCAPES = { '\\': '\\\\', '\t': '\\t', '\n': '\\n', '\r': '\\r' };

/**
 * Rows go through one `psql` process reading a script on its standard input,
 * as a plain pg_dump file does: per batch, `BEGIN`, one `COPY … FROM STDIN`
 * per table followed by its rows, `COMMIT`. COPY is PostgreSQL's bulk path
 * (no statement to parse per row, no array literals to build).
 */
function copyWriter(url, preamble) {
  const child = spawn('psql', [url, '-X', '-q', '-v', 'ON_ERROR_STOP=1'], { stdio: ['pipe', 'ignore', 'pipe'], env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/tmp' } });
  let stderr = '';
  child.stderr.on('data', (chunk) => (stderr = (stderr + chunk).slice(-4000)));
  const exited = new Promise((resolve) => child.once('close', (code) => resolve(code)));
  const failed = () => new Error(`psql (COPY) failed: ${stderr.trim() || 'exited early'}`);
  let ended = false;
  child.stdin.on('error', () => {});
  const send = async (text) => {
    if (ended || child.exitCode !== null) throw failed();
    if (!child.stdin.write(text)) await Promise.race([new Promise((resolve) => child.stdin.once('drain', resolve)), exited]);
  };
  const tables = [
    ['users', USER_COLUMNS, (row) => [row.user]],
    ['user_identities', IDENTITY_COLUMNS, (row) => [row.identity]],
    ['password_credentials', CREDENTIAL_COLUMNS, (row) => [row.credential]],
    ['user_metadata_values', FACT_COLUMNS, (row) => row.facts],
  ];
  let started = false;
  return {
    async write(rows) {
      const parts = started ? [] : [preamble];
      started = true;
      parts.push('begin;\n');
      for (const [table, columns, of] of tables) {
        parts.push(`copy ${table} (${columns.join(', ')}) from stdin;\n`);
        for (const row of rows) {
          for (const values of of(row)) parts.push(columns.map((c) => copyField(values[c])).join('\t') + '\n');
        }
        parts.push('\\.\n');
      }
      parts.push('commit;\n');
      await send(parts.join(''));
    },
    async end() {
      ended = true;
      child.stdin.end();
      if ((await exited) !== 0) throw failed();
    },
  };
}

async function postgresBackend(url) {
  const { default: pg } = await import('pg');
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  await client.query("set maintenance_work_mem = '512MB'");
  // Commits need not wait for the WAL flush while seeding (a crash would only
  // lose the bench database). A superuser may also skip the foreign-key
  // triggers for the load (session_replication_role = replica, as pg_restore
  // --disable-triggers does); the rows' references are checked in one query
  // afterwards instead (references()).
  const superuser = (await client.query('select rolsuper from pg_roles where rolname = current_user')).rows[0]?.rolsuper === true;
  const copy = copyWriter(url, `set synchronous_commit = off;\n${superuser ? 'set session_replication_role = replica;\n' : ''}`);
  // Indexes that back no constraint (the primary keys stay), with their exact definitions.
  const secondaryIndexes = async () =>
    (
      await client.query(
        `select i.relname as name, pg_get_indexdef(x.indexrelid) as sql from pg_index x
         join pg_class i on i.oid = x.indexrelid join pg_class t on t.oid = x.indrelid
         where t.relname = any($1) and t.relnamespace = current_schema()::regnamespace
           and not exists (select 1 from pg_constraint c where c.conindid = x.indexrelid)
         order by i.relname`,
        [SEEDED_TABLES],
      )
    ).rows;
  return {
    name: 'postgres',
    async defaults() {
      const tenant = (await client.query('select id from tenants where is_default')).rows[0];
      if (!tenant) throw new Error('no default tenant: run portcullis admin-client first');
      const connection = (await client.query('select id from connections where tenant_id = $1 and name = $2', [tenant.id, DEFAULT_DATABASE_CONNECTION])).rows[0];
      if (!connection) throw new Error(`the default tenant has no ${DEFAULT_DATABASE_CONNECTION} connection`);
      const columns = await client.query("select column_name from information_schema.columns where table_schema = current_schema() and table_name = 'users'");
      checkColumns(columns.rows.map((r) => r.column_name));
      return { tenantId: tenant.id, connectionId: connection.id };
    },
    async dropIndexes() {
      const indexes = await secondaryIndexes();
      for (const { name } of indexes) await client.query(`drop index "${name}"`);
      return indexes;
    },
    async createIndexes(indexes) {
      await copy.end();
      for (const { sql } of indexes) await client.query(sql);
      return secondaryIndexes();
    },
    write: (rows) => copy.write(rows),
    /** Rows whose foreign keys point nowhere (0 expected), for when the load skipped the triggers. */
    async references() {
      const orphans = await client.query(
        `select (select count(*) from users u where not exists (select 1 from connections c where c.id = u.connection_id and c.tenant_id = u.tenant_id))
              + (select count(*) from user_identities i where not exists (select 1 from users u where u.tenant_id = i.tenant_id and u.user_id = i.user_id))
              + (select count(*) from password_credentials p where not exists (select 1 from users u where u.tenant_id = p.tenant_id and u.user_id = p.user_id))
              + (select count(*) from user_metadata_values m where not exists (select 1 from users u where u.tenant_id = m.tenant_id and u.user_id = m.user_id)) as n`,
      );
      return Number(orphans.rows[0].n);
    },
    async analyze() {
      // VACUUM too: a million freshly inserted rows would otherwise start
      // autovacuum (insert threshold) during the measurements, and
      // index-only scans need the visibility map it sets.
      await client.query('vacuum (analyze)');
      return true;
    },
    async counts(tenantId, email) {
      const one = async (sql, args) => Number(Object.values((await client.query(sql, args)).rows[0])[0]);
      return {
        users: await one('select count(*) from users where tenant_id = $1', [tenantId]),
        identities: await one('select count(*) from user_identities where tenant_id = $1', [tenantId]),
        email: await one('select count(*) from users where tenant_id = $1 and email_lower = $2', [tenantId, email.toLowerCase()]),
        name: await one('select count(*) from users where tenant_id = $1 and name_lower collate "C" >= $2 and name_lower collate "C" < $3', [tenantId, NAME_PREFIX, successor(NAME_PREFIX)]),
        plan: await one("select count(*) from users where tenant_id = $1 and app_metadata->>'plan' = $2", [tenantId, RARE_PLAN]),
      };
    },
    async size() {
      const row = (
        await client.query(
          "select pg_database_size(current_database()) as db, pg_total_relation_size('users') as users, pg_total_relation_size('user_identities') as identities, pg_total_relation_size('password_credentials') as credentials",
        )
      ).rows[0];
      return { databaseBytes: Number(row.db), tables: { users: Number(row.users), user_identities: Number(row.identities), password_credentials: Number(row.credentials) } };
    },
    async close() {
      await client.end();
    },
  };
}

// ------------------------------------------------------------------ main

const started = performance.now();
const backend = /^(sqlite|file):/.test(databaseUrl) ? await sqliteBackend(databaseUrl.replace(/^(sqlite|file):(\/\/)?/, '')) : await postgresBackend(databaseUrl);
try {
  const { tenantId, connectionId } = await backend.defaults();
  const passwordHash = await hash(SEEDED_PASSWORD, ARGON2_PARAMS);
  const random = prng(Number(values.seed));
  const endMs = Date.now();
  // An even spread over the population (every total/sample-th user), so the
  // sample covers old and new users alike.
  const every = total / sampleSize;
  let nextSample = 0;
  const sample = [];
  const expected = { name: 0, plan: 0 };

  // Secondary indexes are dropped for the load and re-created from their own
  // stored definitions after it, as a bulk import would: building an index
  // from sorted keys is several times faster than 13 random-order inserts per
  // user (the primary keys stay, so duplicates still fail at once).
  const indexes = await backend.dropIndexes();
  const insertStarted = performance.now();
  let batch = [];
  let writing = Promise.resolve();
  for (let i = 0; i < total; i++) {
    const user = generateUser(random, i, total, endMs);
    const row = {
      user: { ...user, tenant_id: tenantId, connection_id: connectionId },
      identity: { tenant_id: tenantId, user_id: user.user_id, connection_id: connectionId, provider: 'auth0', external_id: user.localId, is_social: false, profile_data: '{}', created_at: user.created_at },
      credential: { tenant_id: tenantId, user_id: user.user_id, hash: passwordHash, created_at: user.created_at, updated_at: user.created_at },
      facts: ['app_metadata', 'user_metadata'].flatMap((root) => metadataValues(JSON.parse(user[root])).map((fact) => ({ tenant_id: tenantId, user_id: user.user_id, root, ...fact }))),
    };
    if (user.name_lower.startsWith(NAME_PREFIX)) expected.name++;
    if (user.plan === RARE_PLAN) expected.plan++;
    if (i >= nextSample && sample.length < sampleSize) {
      sample.push({ user_id: user.user_id, email: user.email });
      nextSample += every;
    }
    batch.push(row);
    if (batch.length === batchSize || i === total - 1) {
      // One batch in flight while the next is generated (PostgreSQL works in
      // its own processes meanwhile; SQLite's writes are synchronous anyway).
      await writing;
      writing = backend.write(batch);
      batch = [];
    }
  }
  await writing;
  const insertSeconds = (performance.now() - insertStarted) / 1000;
  const indexStarted = performance.now();
  const rebuilt = await backend.createIndexes(indexes);
  if (JSON.stringify(rebuilt) !== JSON.stringify(indexes)) throw new Error(`the re-created indexes differ from the migrated ones:\n${JSON.stringify(indexes)}\n${JSON.stringify(rebuilt)}`);
  const indexSeconds = (performance.now() - indexStarted) / 1000;
  const orphans = await backend.references();
  if (orphans !== 0) throw new Error(`${orphans} seeded rows reference no row (connection or user)`);
  const analyzeStarted = performance.now();
  const analyzed = await backend.analyze();
  const analyzeSeconds = (performance.now() - analyzeStarted) / 1000;
  const seconds = (performance.now() - started) / 1000;

  // The middle user's email: the `email:"…"` search.
  const searchEmail = sample[Math.floor(sample.length / 2)].email;
  const counts = await backend.counts(tenantId, searchEmail);
  if (counts.users !== total || counts.identities !== total) throw new Error(`expected ${total} users and identities, the database holds ${counts.users} and ${counts.identities}`);
  if (counts.email !== 1 || counts.name !== expected.name || counts.plan !== expected.plan) {
    throw new Error(`the database's counts (${JSON.stringify(counts)}) differ from the generator's (email 1, name ${expected.name}, plan ${expected.plan})`);
  }
  const size = await backend.size();
  process.stdout.write(
    JSON.stringify({
      backend: backend.name,
      users: total,
      batch: batchSize,
      tenantId,
      connectionId,
      seconds,
      insertSeconds,
      indexSeconds,
      indexes: indexes.length,
      analyzeSeconds,
      analyzed,
      usersPerSecond: total / insertSeconds,
      ...size,
      queries: { email: searchEmail, namePrefix: NAME_PREFIX, plan: RARE_PLAN },
      matches: { email: counts.email, name: counts.name, plan: counts.plan },
      sample,
    }) + '\n',
  );
} finally {
  await backend.close();
}
