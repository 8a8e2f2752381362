import { generateKeyPairSync } from 'node:crypto';
import { rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, describeEachBackend, openTestDatabase, type TestDatabase } from './support/backends.js';
import { runCli } from './support/cli.js';

const noStack = (text: string) => expect(text).not.toMatch(/^\s+at /m);

/** The single line a failed command prints. */
function failureLine(stderr: string): string {
  const lines = stderr.trim().split('\n').filter((l) => l.startsWith('portcullis: '));
  expect(lines).toHaveLength(1);
  return lines[0]!;
}

describeEachBackend('portcullis CLI', (backend) => {
  let testDb: TestDatabase;
  let env: Record<string, string>;

  beforeAll(async () => {
    testDb = await createTestDatabase(backend);
    env = { DATABASE_URL: testDb.url, PUBLIC_URL: 'https://login.example.test' };
  });
  afterAll(async () => testDb?.drop());

  it('migrate applies migrations once', async () => {
    const first = await runCli(['migrate'], env);
    expect(first).toMatchObject({ code: 0, stdout: 'Applied migrations: 0001-initial, 0002-tenant-config-version, 0003-user-search-indexes, 0004-artifact-account, 0005-log-sequence, 0006-log-streams, 0007-tickets, 0009-user-metadata-values\n' });
    const second = await runCli(['migrate'], env);
    expect(second).toMatchObject({ code: 0, stdout: 'Database is up to date.\n' });
  });

  it('admin-client --json creates a Management API client, and rotates its secret when run again', async () => {
    const first = await runCli(['admin-client', '--json'], env);
    expect(first.code).toBe(0);
    const created = JSON.parse(first.stdout) as Record<string, string>;
    expect(Object.keys(created).sort()).toEqual(['audience', 'client_id', 'client_secret', 'issuer']);
    expect(created.issuer).toBe('https://login.example.test/');
    expect(created.audience).toBe('https://login.example.test/api/v2/');
    expect(created.client_id).toMatch(/^[A-Za-z0-9]{32}$/);
    expect(created.client_secret).toMatch(/^[A-Za-z0-9_-]{64}$/);

    const second = JSON.parse((await runCli(['admin-client', '--json'], env)).stdout) as Record<string, string>;
    expect(second.client_id).toBe(created.client_id);
    expect(second.client_secret).not.toBe(created.client_secret);

    // The secret is stored sealed, and the grant covers every Management API scope.
    const database = openTestDatabase(testDb.config);
    try {
      const rows = await database.db.selectFrom('clients').select(['client_id', 'secret_enc']).execute();
      expect(rows).toHaveLength(1);
      expect(rows[0]!.secret_enc).not.toContain(second.client_secret);
      const grant = await database.db.selectFrom('client_grants').select(['audience', 'scope']).executeTakeFirstOrThrow();
      expect(grant.audience).toBe(created.audience);
      const scope = typeof grant.scope === 'string' ? JSON.parse(grant.scope) : grant.scope;
      expect(scope).toContain('read:users');
      expect(scope).toContain('create:clients');
    } finally {
      await database.close();
    }
  });

  it('tenant create / list, with clear one-line errors for bad input', async () => {
    const created = await runCli(['tenant', 'create', 'acme', '--domain', 'auth.acme.test', '--domain', 'acme.test', '--json'], env);
    expect(created.code).toBe(0);
    expect(JSON.parse(created.stdout)).toMatchObject({ name: 'acme', issuer: 'https://auth.acme.test/' });

    const list = JSON.parse((await runCli(['tenant', 'list', '--json'], env)).stdout) as Array<{ name: string; domains: string[]; default: boolean }>;
    expect(list.map((t) => t.name)).toEqual(['default', 'acme']);
    expect(list[1]!.domains.sort()).toEqual(['acme.test', 'auth.acme.test']);

    const duplicate = await runCli(['tenant', 'create', 'acme', '--domain', 'other.test'], env);
    expect(duplicate.code).toBe(1);
    expect(failureLine(duplicate.stderr)).toBe('portcullis: tenant "acme" already exists');

    const badDomain = await runCli(['tenant', 'create', 'beta', '--domain', 'https://beta.test/x'], env);
    expect(badDomain.code).toBe(1);
    expect(failureLine(badDomain.stderr)).toMatch(/^portcullis: "https:\/\/beta.test\/x" is not a valid domain/);
    noStack(badDomain.stderr);

    const noDomain = await runCli(['tenant', 'create', 'beta'], env);
    expect(noDomain.code).toBe(2);
    expect(failureLine(noDomain.stderr)).toBe('portcullis: tenant create needs at least one --domain <host>');

    const afterFailures = JSON.parse((await runCli(['tenant', 'list', '--json'], env)).stdout) as unknown[];
    expect(afterFailures).toHaveLength(2);
  });

  it('keys rotate moves next → current → previous, per tenant', async () => {
    const before = JSON.parse((await runCli(['keys', 'list', '--tenant', 'acme', '--json'], env)).stdout) as Array<{ kid: string; state: string }>;
    const next = before.find((k) => k.state === 'next')!.kid;
    const current = before.find((k) => k.state === 'current')!.kid;
    const rotated = await runCli(['keys', 'rotate', '--tenant', 'acme', '--json'], env);
    expect(rotated.code).toBe(0);
    expect(JSON.parse(rotated.stdout)).toMatchObject({ tenant: 'acme', current: next });
    const after = JSON.parse((await runCli(['keys', 'list', '--tenant', 'acme', '--json'], env)).stdout) as Array<{ kid: string; state: string }>;
    expect(after.find((k) => k.kid === current)!.state).toBe('previous');
    expect(after.filter((k) => k.state === 'current')).toHaveLength(1);
    // The default tenant's keys were not touched.
    const defaults = JSON.parse((await runCli(['keys', 'list', '--json'], env)).stdout) as Array<{ state: string }>;
    expect(defaults.map((k) => k.state).sort()).toEqual(['current', 'next']);
  });

  it('admin-client --tenant names the tenant; an unknown one is a one-line error', async () => {
    const acme = JSON.parse((await runCli(['admin-client', '--tenant', 'acme', '--json'], env)).stdout) as Record<string, string>;
    expect(acme.audience).toBe('https://auth.acme.test/api/v2/');
    const ghost = await runCli(['admin-client', '--tenant', 'ghost', '--json'], env);
    expect(ghost.code).toBe(1);
    expect(ghost.stdout).toBe('');
    expect(failureLine(ghost.stderr)).toBe('portcullis: tenant "ghost" does not exist');
  });

  it('admin-client reports the issuer the tenant was recorded with, and warns when this shell\'s PUBLIC_URL differs', async () => {
    const result = await runCli(['admin-client', '--json'], { ...env, PUBLIC_URL: 'https://elsewhere.example.test' });
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({ issuer: 'https://login.example.test/', audience: 'https://login.example.test/api/v2/' });
    expect(result.stderr).toContain('PUBLIC_URL here differs from the one the server last started with');
  });

  it('client create and user create set up an application and a user to log in with', async () => {
    const app = await runCli(['client', 'create', 'Sample', '--callback', 'http://localhost:4000/callback', '--logout-url', 'http://localhost:4000/', '--json'], env);
    expect(app.code).toBe(0);
    expect(JSON.parse(app.stdout)).toMatchObject({ issuer: 'https://login.example.test/', client_id: expect.stringMatching(/^[A-Za-z0-9]{32}$/), client_secret: expect.any(String) });
    // private_key_jwt: a public key instead of a secret (the flag reaches the command).
    const keyFile = join(tmpdir(), `portcullis-cli-${process.pid}-ec.pem`);
    const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    writeFileSync(keyFile, publicKey.export({ type: 'spki', format: 'pem' }));
    const keyed = await runCli(['client', 'create', 'Keyed', '--type', 'non_interactive', '--public-key-file', keyFile, '--alg', 'ES256', '--json'], env);
    rmSync(keyFile, { force: true });
    expect(keyed.code).toBe(0);
    const keyedOut = JSON.parse(keyed.stdout) as Record<string, unknown>;
    expect(keyedOut.client_secret).toBeUndefined();
    expect(keyedOut.client_id).toEqual(expect.stringMatching(/^[A-Za-z0-9]{32}$/));
    const insecure = await runCli(['client', 'create', 'Bad', '--callback', 'http://evil.example/cb'], env);
    expect(insecure.code).toBe(2);
    expect(failureLine(insecure.stderr)).toBe('portcullis: "http://evil.example/cb" must be https (http only for localhost)');

    const user = await runCli(['user', 'create', 'jane@example.test', '--json'], { ...env, PORTCULLIS_PASSWORD: 'correct horse battery staple' });
    expect(user.code).toBe(0);
    expect(JSON.parse(user.stdout)).toMatchObject({ email: 'jane@example.test', user_id: expect.stringMatching(/^auth0\|/) });
    const weak = await runCli(['user', 'create', 'joe@example.test'], { ...env, PORTCULLIS_PASSWORD: 'short' });
    expect(weak.code).toBe(1);
    expect(failureLine(weak.stderr)).toMatch(/^portcullis: .*12/);
  });

  it('refuses a different MASTER_KEY for an existing database, changing nothing', async () => {
    const wrong = await runCli(['keys', 'rotate', '--json'], { ...env, MASTER_KEY: 'cd'.repeat(32) });
    expect(wrong.code).toBe(1);
    expect(failureLine(wrong.stderr)).toMatch(/^portcullis: MASTER_KEY does not match the key this database was created with/);
    const keys = JSON.parse((await runCli(['keys', 'list', '--json'], env)).stdout) as Array<{ state: string }>;
    expect(keys.map((k) => k.state).sort()).toEqual(['current', 'next']);
  });
});

describe('portcullis CLI: usage and faults', () => {
  it('prints usage with --help and refuses unknown commands with exit code 2', async () => {
    const help = await runCli(['--help'], {});
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/^Usage: portcullis <command>/);
    const unknown = await runCli(['frobnicate'], {});
    expect(unknown.code).toBe(2);
    expect(failureLine(unknown.stderr)).toBe('portcullis: unknown command "frobnicate" (see portcullis --help)');
    const badFlag = await runCli(['tenant', 'list', '--bogus'], {});
    expect(badFlag.code).toBe(2);
  });

  it('stops on bad configuration with one line naming the variable', async () => {
    const result = await runCli(['migrate'], { PORT: 'eighty' });
    expect(result.code).toBe(1);
    expect(failureLine(result.stderr)).toMatch(/^portcullis: Invalid configuration: PORT: /);
    const prod = await runCli(['migrate'], { NODE_ENV: 'production', MASTER_KEY: '' });
    expect(failureLine(prod.stderr)).toMatch(/^portcullis: Invalid configuration: MASTER_KEY: required when NODE_ENV=production/);
  });

  it('gives up on an unreachable database after bounded retries, with one line', async () => {
    const started = Date.now();
    const result = await runCli(['migrate'], { DATABASE_URL: 'postgres://postgres:hunter2@127.0.0.1:1/nothing', DATABASE_CONNECT_RETRIES: '2' });
    expect(result.code).toBe(1);
    const line = failureLine(result.stderr);
    expect(line).toMatch(/^portcullis: Database postgres:\/\/postgres:\*\*\*@127\.0\.0\.1:1\/nothing is unreachable after 3 attempts: /);
    expect(result.stderr).not.toContain('hunter2');
    noStack(result.stderr);
    expect(Date.now() - started).toBeLessThan(20_000);
  });

  it('reports a corrupt SQLite file clearly', async () => {
    const testDb = await createTestDatabase('sqlite');
    try {
      writeFileSync((testDb.config as { path: string }).path, 'this is not a database'.repeat(100));
      const result = await runCli(['migrate'], { DATABASE_URL: testDb.url });
      expect(result.code).toBe(1);
      expect(failureLine(result.stderr)).toMatch(/is not a database or is corrupt$/);
      noStack(result.stderr);
    } finally {
      await testDb.drop();
    }
  });

  it('reports a SQLite file locked by another process clearly, and writes nothing', async () => {
    const testDb = await createTestDatabase('sqlite');
    const path = (testDb.config as { path: string }).path;
    const holder = new BetterSqlite3(path);
    try {
      holder.pragma('journal_mode = WAL');
      holder.exec('create table holder (x integer); begin exclusive; insert into holder values (1);');
      const result = await runCli(['migrate'], { DATABASE_URL: testDb.url, SQLITE_BUSY_TIMEOUT_MS: '200' });
      expect(result.code).toBe(1);
      expect(failureLine(result.stderr)).toMatch(/locked/);
      noStack(result.stderr);
      holder.exec('rollback');
      const tables = holder.prepare("select name from sqlite_master where type = 'table' and name = 'tenants'").all();
      expect(tables).toEqual([]);
    } finally {
      holder.close();
      await testDb.drop();
    }
  });

  it('two processes migrating one new SQLite file at once both succeed and apply each migration once', async () => {
    const testDb = await createTestDatabase('sqlite');
    try {
      const results = await Promise.all([runCli(['migrate'], { DATABASE_URL: testDb.url }), runCli(['migrate'], { DATABASE_URL: testDb.url })]);
      expect(results.map((r) => r.code)).toEqual([0, 0]);
      expect(results.map((r) => r.stdout).sort()).toEqual(['Applied migrations: 0001-initial, 0002-tenant-config-version, 0003-user-search-indexes, 0004-artifact-account, 0005-log-sequence, 0006-log-streams, 0007-tickets, 0009-user-metadata-values\n', 'Database is up to date.\n']);
    } finally {
      await testDb.drop();
    }
  });
});
