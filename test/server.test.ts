import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, describeEachBackend, type TestDatabase } from './support/backends.js';
import { runCli, spawnServer, waitForStatus } from './support/cli.js';

describeEachBackend('portcullis start', (backend) => {
  let testDb: TestDatabase;
  beforeAll(async () => {
    testDb = await createTestDatabase(backend);
  });
  afterAll(async () => testDb?.drop());

  it('creates the database, default tenant and keys on first start, serves /readyz, and shuts down cleanly on SIGTERM', async () => {
    const server = await spawnServer([], { DATABASE_URL: testDb.url, PUBLIC_URL: 'http://localhost:3000' });
    try {
      await waitForStatus(`${server.base}/readyz`, 200, 20_000);
      const info = await (await fetch(`${server.base}/`)).json();
      expect(info).toMatchObject({ tenant: 'default', issuer: 'http://localhost:3000/' });
      expect(server.output()).toContain('created the default tenant');
      expect(server.output()).toContain('Next: get a Management API client');
    } finally {
      expect(await server.stop('SIGTERM')).toBe(0);
    }
    expect(server.output()).toContain('shutdown complete');
  });

  it('restarts on the existing database without creating anything again, following a changed PUBLIC_URL', async () => {
    const env = { DATABASE_URL: testDb.url, PUBLIC_URL: 'https://id.example.test' };
    const server = await spawnServer([], env);
    try {
      await waitForStatus(`${server.base}/readyz`, 200, 20_000);
      expect(server.output()).not.toContain('created the default tenant');
      const tenants = JSON.parse((await runCli(['tenant', 'list', '--json'], env)).stdout) as Array<{ issuer: string; domains: string[] }>;
      expect(tenants).toHaveLength(1);
      expect(tenants[0]).toMatchObject({ issuer: 'https://id.example.test/', domains: ['id.example.test'] });
      const admin = await runCli(['admin-client', '--json'], env);
      expect(JSON.parse(admin.stdout)).toMatchObject({ issuer: 'https://id.example.test/', audience: 'https://id.example.test/api/v2/' });
      expect(admin.stderr).not.toContain('differs');
    } finally {
      expect(await server.stop('SIGINT')).toBe(0);
    }
  });

  it('a key rotation by another process (the CLI) is served by the running node within about a second', async () => {
    const env = { DATABASE_URL: testDb.url, PUBLIC_URL: 'https://id.example.test' };
    const server = await spawnServer([], env);
    try {
      await waitForStatus(`${server.base}/readyz`, 200, 20_000);
      const kids = async () => ((await (await fetch(`${server.base}/.well-known/jwks.json`)).json()) as { keys: Array<{ kid: string }> }).keys.map((k) => k.kid).sort();
      const before = await kids();
      const rotated = await runCli(['keys', 'rotate', '--json'], env);
      expect(rotated.code).toBe(0);
      const { next } = JSON.parse(rotated.stdout) as { next: string };
      const started = Date.now();
      let after = await kids();
      while (!after.includes(next) && Date.now() - started < 5000) {
        await new Promise((r) => setTimeout(r, 50));
        after = await kids();
      }
      expect(after).toContain(next);
      expect(Date.now() - started).toBeLessThan(1500);
      expect(after).toEqual(expect.arrayContaining(before)); // previous keys stay published
    } finally {
      expect(await server.stop()).toBe(0);
    }
  });

  it('--role worker serves health and metrics but no tenant routes', async () => {
    const server = await spawnServer(['--role', 'worker'], { DATABASE_URL: testDb.url });
    try {
      await waitForStatus(`${server.base}/readyz`, 200, 20_000);
      expect((await fetch(`${server.base}/metrics`)).status).toBe(200);
      expect((await fetch(`${server.base}/`)).status).toBe(404);
    } finally {
      expect(await server.stop()).toBe(0);
    }
  });
});

describe('portcullis start: faults', () => {
  it('exits with one line when the database is unreachable', async () => {
    const server = await spawnServer([], { DATABASE_URL: 'postgres://postgres@127.0.0.1:1/x', DATABASE_CONNECT_RETRIES: '1' });
    const code = await new Promise<number | null>((resolve) => server.child.on('close', resolve));
    expect(code).toBe(1);
    expect(server.output()).toMatch(/portcullis: Database postgres:\/\/postgres@127\.0\.0\.1:1\/x is unreachable after 2 attempts/);
    expect(server.output()).not.toMatch(/^\s+at /m);
  });

  it('refuses an invalid --role', async () => {
    const result = await runCli(['start', '--role', 'frontend'], {});
    expect(result.code).toBe(2);
    expect(result.stderr.trim()).toBe('portcullis: --role must be one of api, worker, all');
  });

  it('exits with one line when the port is taken', async () => {
    const testDb = await createTestDatabase('sqlite');
    const first = await spawnServer([], { DATABASE_URL: testDb.url });
    try {
      await waitForStatus(`${first.base}/readyz`, 200, 20_000);
      const port = new URL(first.base).port;
      const second = await runCli(['start'], { DATABASE_URL: testDb.url, PORT: port, HOST: '127.0.0.1' });
      expect(second.code).toBe(1);
      expect(second.stderr).toMatch(/portcullis: cannot listen: address already in use .*; set PORT to another port/);
    } finally {
      await first.stop();
      await testDb.drop();
    }
  });
});
