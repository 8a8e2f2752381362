import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import type pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../../test/support/app.js';
import { createLogger } from './logger.js';

describe('HTTP surface', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await startTestApp('sqlite', { BODY_LIMIT_BYTES: '1024' });
    // Test-only routes to exercise body parsing and error rendering.
    t.app.post('/test/echo', async (request) => ({ got: request.body }));
    t.app.get('/test/crash', async () => {
      throw new Error('secret internal detail at /srv/db.ts:12');
    });
    await t.app.ready();
  });
  afterAll(async () => t?.cleanup());

  it('GET /healthz is 200 while the process lives', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/healthz' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ status: 'ok' });
  });

  it('GET /readyz is 200 with each check named', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/readyz' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ status: 'ready', checks: { database: 'ok', migrations: 'ok', keys: 'ok' } });
    expect(res.headers['cache-control']).toBe('no-store');
  });

  it('unknown routes are 404 JSON', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/nope?x=1' });
    expect(res.statusCode).toBe(404);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    expect(res.json()).toEqual({ statusCode: 404, error: 'Not Found', message: 'Route GET /nope not found' });
  });

  it('invalid JSON is 400, not 500', async () => {
    const res = await t.app.inject({ method: 'POST', url: '/test/echo', headers: { 'content-type': 'application/json' }, payload: '{"a":' });
    expect(res.statusCode).toBe(400);
    expect(res.json()).toMatchObject({ statusCode: 400, error: 'Bad Request' });
    expect(res.body).not.toMatch(/at .*\.js:\d+/);
  });

  it('a body over the limit is 413', async () => {
    const res = await t.app.inject({ method: 'POST', url: '/test/echo', headers: { 'content-type': 'application/json' }, payload: JSON.stringify({ a: 'x'.repeat(2000) }) });
    expect(res.statusCode).toBe(413);
    expect(res.json()).toMatchObject({ statusCode: 413, error: 'Payload Too Large' });
  });

  it('an unsupported media type is 415', async () => {
    const res = await t.app.inject({ method: 'POST', url: '/test/echo', headers: { 'content-type': 'application/x-unknown' }, payload: 'x' });
    expect(res.statusCode).toBe(415);
  });

  it('an unexpected error is a generic 500 without message or stack', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/test/crash' });
    expect(res.statusCode).toBe(500);
    expect(res.json()).toEqual({ statusCode: 500, error: 'Internal Server Error', message: 'An unexpected error occurred.' });
  });

  it('echoes a plain X-Request-Id and replaces a hostile one', async () => {
    const ok = await t.app.inject({ method: 'GET', url: '/healthz', headers: { 'x-request-id': 'abc-123' } });
    expect(ok.headers['x-request-id']).toBe('abc-123');
    const bad = await t.app.inject({ method: 'GET', url: '/healthz', headers: { 'x-request-id': 'a\u0000b<script>' } });
    expect(bad.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('sets security headers on every response', async () => {
    for (const url of ['/', '/healthz', '/nope']) {
      const res = await t.app.inject({ method: 'GET', url });
      expect(res.headers['content-security-policy']).toBe("default-src 'none'; frame-ancestors 'none'");
      expect(res.headers['x-content-type-options']).toBe('nosniff');
      expect(res.headers['referrer-policy']).toBe('no-referrer');
    }
  });

  it('GET /metrics exposes request durations by route and status, pool gauges and process metrics', async () => {
    await t.app.inject({ method: 'GET', url: '/healthz' });
    await t.app.inject({ method: 'GET', url: '/nope/123' });
    const res = await t.app.inject({ method: 'GET', url: '/metrics' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/plain/);
    expect(res.body).toMatch(/portcullis_http_request_duration_seconds_count\{method="GET",route="\/healthz",status_code="200"\} \d+/);
    expect(res.body).toMatch(/portcullis_http_request_duration_seconds_count\{method="GET",route="unmatched",status_code="404"\} \d+/);
    expect(res.body).toMatch(/portcullis_db_pool_connections\{state="total"\} 1/);
    expect(res.body).toContain('portcullis_process_resident_memory_bytes');
  });
});

describe('tenant resolution over HTTP', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp('sqlite', { PUBLIC_URL: 'http://login.example.test:3000', TENANT_CACHE_TTL_MS: '0' });
  });
  afterAll(async () => t?.cleanup());

  it('answers on any host while only the default tenant exists', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/', headers: { host: 'whatever.test' } });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ tenant: 'default', issuer: 'http://login.example.test:3000/' });
  });

  it('with several tenants, routes by Host and refuses unknown hosts with a clear 404', async () => {
    await t.services.tenants.create({ name: 'acme', domains: ['auth.acme.test'] });
    const acme = await t.app.inject({ method: 'GET', url: '/', headers: { host: 'auth.acme.test:3000' } });
    expect(acme.json()).toEqual({ tenant: 'acme', friendly_name: 'acme', issuer: 'http://auth.acme.test:3000/', management_api_audience: 'http://auth.acme.test:3000/api/v2/' });
    const main = await t.app.inject({ method: 'GET', url: '/', headers: { host: 'login.example.test:3000' } });
    expect(main.json()).toMatchObject({ tenant: 'default' });
    const unknown = await t.app.inject({ method: 'GET', url: '/', headers: { host: 'evil.test' } });
    expect(unknown.statusCode).toBe(404);
    expect(unknown.json()).toEqual({ statusCode: 404, error: 'Not Found', message: 'No tenant is configured for host "evil.test"', errorCode: 'unknown_tenant' });
  });

  it('health and metrics answer on any host', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/readyz', headers: { host: 'evil.test' } });
    expect(res.statusCode).toBe(200);
  });
});

describe('readiness', () => {
  it('is 503 until the signing keys are loaded, and while draining', async () => {
    const t = await startTestApp('sqlite', {}, { loadKeys: false });
    try {
      const before = await t.app.inject({ method: 'GET', url: '/readyz' });
      expect(before.statusCode).toBe(503);
      expect(before.json()).toMatchObject({ status: 'unavailable', reason: 'signing keys not loaded', checks: { database: 'ok', migrations: 'ok', keys: 'failing' } });
      t.readiness.markKeysLoaded();
      expect((await t.app.inject({ method: 'GET', url: '/readyz' })).statusCode).toBe(200);
      t.readiness.markDraining();
      const draining = await t.app.inject({ method: 'GET', url: '/readyz' });
      expect(draining.statusCode).toBe(503);
      expect(draining.json()).toMatchObject({ reason: 'shutting down' });
      expect((await t.app.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(200);
    } finally {
      await t.cleanup();
    }
  });
});

describe('graceful close', () => {
  it('lets an in-flight request finish and then refuses new connections', async () => {
    const t = await startTestApp('sqlite');
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => (release = resolve));
    t.app.get('/test/slow', async () => {
      await gate;
      return { done: true };
    });
    await t.app.listen({ port: 0, host: '127.0.0.1' });
    const address = t.app.server.address() as { port: number };
    const base = `http://127.0.0.1:${address.port}`;
    const inFlight = fetch(`${base}/test/slow`).then(async (r) => ({ status: r.status, body: await r.json() }));
    await new Promise((r) => setTimeout(r, 100));
    const closing = t.cleanup();
    await new Promise((r) => setTimeout(r, 50));
    release();
    expect(await inFlight).toEqual({ status: 200, body: { done: true } });
    await closing;
    await expect(fetch(`${base}/healthz`)).rejects.toThrow();
  });
});

describe('TLS', () => {
  it('serves HTTPS directly when TLS_CERT_FILE and TLS_KEY_FILE are set', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'portcullis-tls-'));
    const cert = join(dir, 'cert.pem');
    const key = join(dir, 'key.pem');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=localhost'], { stdio: 'ignore' });
    const t = await startTestApp('sqlite', { TLS_CERT_FILE: cert, TLS_KEY_FILE: key });
    try {
      await t.app.listen({ port: 0, host: '127.0.0.1' });
      const { port } = t.app.server.address() as { port: number };
      const body = await new Promise<string>((resolve, reject) => {
        const req = httpsRequest({ host: '127.0.0.1', port, path: '/healthz', ca: [execFileSync('cat', [cert])], servername: 'localhost' }, (res) => {
          let data = '';
          res.on('data', (chunk: Buffer) => (data += chunk.toString()));
          res.on('end', () => resolve(data));
        });
        req.on('error', reject);
        req.end();
      });
      expect(JSON.parse(body)).toEqual({ status: 'ok' });
      expect(t.config.publicUrl).toBe('http://localhost:3000'); // PUBLIC_URL given by testConfig wins
    } finally {
      await t.cleanup();
    }
  });
});

describe('logging', () => {
  it('redacts credentials and secret-named fields', () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        lines.push(chunk.toString());
        done();
      },
    });
    const logger = createLogger({ logLevel: 'info', logFormat: 'json' }, sink as unknown as pino.DestinationStream);
    logger.info({ req: { headers: { authorization: 'Bearer tok123', cookie: 'sid=abc' } }, client_secret: 'cs-456', body: { password: 'pw-789', refresh_token: 'rt-000' } }, 'event');
    const line = lines.join('');
    for (const secret of ['tok123', 'sid=abc', 'cs-456', 'pw-789', 'rt-000']) expect(line).not.toContain(secret);
    expect(line).toContain('[REDACTED]');
  });

  it('binds the request id to per-request log lines', async () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        lines.push(chunk.toString());
        done();
      },
    });
    const t = await startTestApp('sqlite', {}, { logger: createLogger({ logLevel: 'info', logFormat: 'json' }, sink as unknown as pino.DestinationStream) });
    try {
      t.app.get('/test/log', async (request) => {
        request.log.info({ step: 'handler' }, 'inside');
        request.log.debug('not at this level');
        return {};
      });
      await t.app.inject({ method: 'GET', url: '/test/log', headers: { 'x-request-id': 'req-42' } });
      const entries = lines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((e) => e.reqId === 'req-42');
      expect(entries.map((e) => e.msg)).toEqual(['incoming request', 'inside', 'request completed']);
      expect(entries[1]).toMatchObject({ step: 'handler', level: 30 });
    } finally {
      await t.cleanup();
    }
  });
});
