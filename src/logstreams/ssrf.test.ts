import { createServer, type Server } from 'node:http';
import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../config/config.js';
import { retryDelayMs } from './backoff.js';
import { AddressPolicy, parseCidr, SsrfRefusedError } from './ssrf.js';

describe('the SSRF address policy', () => {
  const strict = new AddressPolicy();
  const loopbackAllowed = new AddressPolicy(['127.0.0.0/8', '::1/128']);

  it.each([
    ['169.254.169.254', 'metadata'],
    ['100.100.100.200', 'metadata'],
    ['fd00:ec2::254', 'metadata'],
    ['169.254.1.1', 'link-local'],
    ['fe80::1', 'link-local'],
    ['fe80::1%eth0', 'link-local'],
    ['0.0.0.0', 'unspecified'],
    ['::', 'unspecified'],
    ['255.255.255.255', 'broadcast'],
    ['224.0.0.251', 'multicast'],
    ['ff02::1', 'multicast'],
    ['240.0.0.1', 'reserved'],
    ['192.0.0.192', 'reserved'],
    ['2001:db8::1', 'reserved'],
    ['2001:0:4136:e378:8000:63bf:3fff:fdd2', 'reserved'],
    // IPv6 forms that carry an IPv4 address are judged by it.
    ['::ffff:169.254.169.254', 'metadata'],
    ['::ffff:a9fe:a9fe', 'metadata'],
    ['64:ff9b::a9fe:a9fe', 'metadata'],
    ['2002:a9fe:a9fe::1', 'metadata'],
    ['::ffff:10.0.0.1', 'private'],
    ['127.0.0.1', 'private'],
    ['::1', 'private'],
    ['10.20.30.40', 'private'],
    ['172.16.0.1', 'private'],
    ['172.31.255.255', 'private'],
    ['192.168.1.1', 'private'],
    ['100.64.0.1', 'private'],
    ['fd12:3456::1', 'private'],
  ])('refuses %s (%s)', (address, reason) => {
    expect(strict.judge(address)).toEqual({ allowed: false, reason });
  });

  it.each(['93.184.216.34', '8.8.8.8', '172.32.0.1', '2606:4700::1111', '::ffff:8.8.8.8'])('allows the public address %s', (address) => {
    expect(strict.judge(address)).toEqual({ allowed: true });
  });

  it('allows loopback and private ranges only as the operator lists them, never link-local or metadata', () => {
    expect(loopbackAllowed.judge('127.0.0.1')).toEqual({ allowed: true });
    expect(loopbackAllowed.judge('::1')).toEqual({ allowed: true });
    expect(loopbackAllowed.judge('::ffff:127.0.0.1')).toEqual({ allowed: true });
    expect(loopbackAllowed.judge('10.0.0.1')).toMatchObject({ allowed: false, reason: 'private' });
    const everything = new AddressPolicy(['0.0.0.0/0', '::/0']);
    expect(everything.judge('10.0.0.1')).toEqual({ allowed: true });
    expect(everything.judge('169.254.169.254')).toMatchObject({ allowed: false, reason: 'metadata' });
    expect(everything.judge('fe80::1')).toMatchObject({ allowed: false, reason: 'link-local' });
  });

  it('judges hosts as written: IP literals, localhost, metadata names', () => {
    expect(strict.judgeHost('[::1]')).toMatchObject({ allowed: false, reason: 'private' });
    expect(strict.judgeHost('localhost')).toMatchObject({ allowed: false, reason: 'private' });
    expect(strict.judgeHost('api.localhost')).toMatchObject({ allowed: false, reason: 'private' });
    expect(loopbackAllowed.judgeHost('localhost')).toEqual({ allowed: true });
    expect(strict.judgeHost('metadata.google.internal.')).toMatchObject({ allowed: false, reason: 'metadata' });
    expect(strict.judgeHost('siem.example.com')).toEqual({ allowed: true });
  });

  it('parses CIDRs and refuses malformed ones', () => {
    expect(parseCidr('10.1.2.3/8')).toEqual({ version: 4, base: 10n << 24n, bits: 8 });
    expect(parseCidr('::1')).toMatchObject({ version: 6, bits: 128 });
    expect(() => parseCidr('10.0.0.0/33')).toThrow(/prefix/);
    expect(() => parseCidr('example.com/8')).toThrow(/not an IP address/);
    expect(() => parseCidr('10.0.0.0/')).toThrow(/prefix/);
  });
});

describe('the SSRF guard at connection time (after DNS resolution)', () => {
  let server: Server;
  let port: number;
  beforeAll(async () => {
    server = createServer((_req, res) => res.end('reached'));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as { port: number }).port;
  });
  afterAll(async () => new Promise<void>((resolve) => server.close(() => resolve())));

  const get = (policy: AddressPolicy, host: string) =>
    new Promise<string>((resolve, reject) => {
      const req = request({ host, port, path: '/', lookup: policy.lookup as never }, (res) => {
        let body = '';
        res.on('data', (d: Buffer) => (body += d.toString()));
        res.on('end', () => resolve(body));
      });
      req.on('error', reject);
      req.end();
    });

  it('refuses a name that resolves to a loopback address unless loopback is allowed, and connects to the checked address', async () => {
    await expect(get(new AddressPolicy(), 'localhost')).rejects.toBeInstanceOf(SsrfRefusedError);
    await expect(new AddressPolicy().resolve('localhost')).rejects.toThrow(/loopback or private/);
    expect(await get(new AddressPolicy(['127.0.0.0/8', '::1/128']), 'localhost')).toBe('reached');
  });
});

describe('retry delays', () => {
  it('grow exponentially with full jitter, capped', () => {
    expect(retryDelayMs(1, 1000, 60_000, () => 0.999)).toBe(999);
    expect(retryDelayMs(4, 1000, 60_000, () => 0.5)).toBe(4000);
    expect(retryDelayMs(30, 1000, 60_000, () => 0.999)).toBe(59_940);
    expect(retryDelayMs(3, 1000, 60_000, () => 0)).toBe(0);
  });
});

describe('LOG_STREAM_* settings', () => {
  it('parse into config.logStreams, and a malformed CIDR is refused naming the variable', () => {
    const config = loadConfig({ NODE_ENV: 'test', LOG_STREAM_ALLOWED_CIDRS: '10.0.0.0/8, ::1', LOG_STREAM_BATCH_SIZE: '50' });
    expect(config.logStreams).toMatchObject({ allowedCidrs: ['10.0.0.0/8', '::1'], batchSize: 50, lingerMs: 200, suspendAfterMs: 604_800_000 });
    expect(() => loadConfig({ NODE_ENV: 'test', LOG_STREAM_ALLOWED_CIDRS: '10.0.0.0/40' })).toThrow(/^Invalid configuration: LOG_STREAM_ALLOWED_CIDRS: "10.0.0.0\/40" has an invalid prefix length/);
    expect(() => loadConfig({ NODE_ENV: 'test', LOG_STREAM_BATCH_SIZE: '5000' })).toThrow(/^Invalid configuration: LOG_STREAM_BATCH_SIZE: /);
  });
});
