import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from './config.js';
import { envSchema, settingDocs } from './schema.js';

const load = (env: Record<string, string>) => loadConfig({ NODE_ENV: 'test', ...env });

function errorOf(env: Record<string, string>): string {
  try {
    load(env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as Error).message;
  }
  throw new Error('expected a ConfigError');
}

describe('loadConfig', () => {
  it('has working defaults for embedded use', () => {
    const config = load({});
    expect(config.port).toBe(3000);
    expect(config.database).toEqual({ kind: 'sqlite', path: './data/portcullis.db', busyTimeoutMs: 5000 });
    expect(config.publicUrl).toBe('http://localhost:3000');
    expect(config.publicHost).toBe('localhost:3000');
    expect(config.role).toBe('all');
    expect(config.masterKey).toBeUndefined();
    expect(config.trustProxy).toBe(false);
  });

  it('is frozen', () => {
    const config = load({});
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config.database)).toBe(true);
    expect(() => {
      (config as { port: number }).port = 1;
    }).toThrow(TypeError);
  });

  it.each([
    ['sqlite:/tmp/x.db', { kind: 'sqlite', path: '/tmp/x.db' }],
    ['file:./data/y.db', { kind: 'sqlite', path: './data/y.db' }],
    ['sqlite:///abs/z.db', { kind: 'sqlite', path: '/abs/z.db' }],
    ['postgres://u:p@db:5432/app', { kind: 'postgres', url: 'postgres://u:p@db:5432/app' }],
    ['postgresql://db/app', { kind: 'postgres', url: 'postgresql://db/app' }],
  ])('parses DATABASE_URL %s', (url, expected) => {
    expect(load({ DATABASE_URL: url }).database).toMatchObject(expected);
  });

  it.each([
    [{ PORT: 'eighty' }, /^Invalid configuration: PORT: /],
    [{ PORT: '70000' }, /^Invalid configuration: PORT: /],
    [{ DATABASE_URL: 'mysql://x' }, /^Invalid configuration: DATABASE_URL: .*sqlite:<path>/],
    [{ DATABASE_URL: 'sqlite:' }, /^Invalid configuration: DATABASE_URL: /],
    [{ NODE_ROLE: 'frontend' }, /^Invalid configuration: NODE_ROLE: /],
    [{ LOG_LEVEL: 'loud' }, /^Invalid configuration: LOG_LEVEL: /],
    [{ PUBLIC_URL: 'ftp://x' }, /^Invalid configuration: PUBLIC_URL: /],
    [{ PUBLIC_URL: 'https://x.example/path' }, /^Invalid configuration: PUBLIC_URL: expected an origin/],
    [{ REDIS_URL: 'localhost:6379' }, /^Invalid configuration: REDIS_URL: /],
    [{ TLS_CERT_FILE: '/nonexistent' }, /^Invalid configuration: TLS_CERT_FILE and TLS_KEY_FILE: set both or neither/],
    [{ TLS_CERT_FILE: '/nonexistent', TLS_KEY_FILE: '/nonexistent' }, /^Invalid configuration: TLS_CERT_FILE: cannot read file/],
    [{ TRUST_PROXY: 'everyone' }, /^Invalid configuration: TRUST_PROXY: /],
    [{ NODE_ENV: 'production' }, /^Invalid configuration: MASTER_KEY: required when NODE_ENV=production/],
    [{ SIGNING_ALG: 'HS256' }, /^Invalid configuration: SIGNING_ALG: /],
  ])('refuses %j with one line naming the variable', (env, message) => {
    const text = errorOf(env);
    expect(text).toMatch(message);
    expect(text).not.toContain('\n');
  });

  it('parses TRUST_PROXY forms', () => {
    expect(load({ TRUST_PROXY: 'true' }).trustProxy).toBe(true);
    expect(load({ TRUST_PROXY: '2' }).trustProxy).toBe(2);
    expect(load({ TRUST_PROXY: '10.0.0.0/8, 127.0.0.1' }).trustProxy).toEqual(['10.0.0.0/8', '127.0.0.1']);
  });

  it('treats empty variables as unset', () => {
    expect(load({ PORT: '', DATABASE_URL: '' }).port).toBe(3000);
  });

  it('defaults PUBLIC_URL to https when TLS is configured', () => {
    const file = join(import.meta.dirname, 'config.ts');
    const config = load({ TLS_CERT_FILE: file, TLS_KEY_FILE: file, PORT: '8443' });
    expect(config.publicUrl).toBe('https://localhost:8443');
    expect(config.tls).toEqual({ certFile: file, keyFile: file });
  });
});

describe('docs/configuration.md', () => {
  const doc = readFileSync(join(import.meta.dirname, '../../docs/configuration.md'), 'utf8');

  it('documents every variable of the schema, with its default', () => {
    const schemaKeys = Object.keys(envSchema.shape).sort();
    expect(settingDocs.map((d) => d.env).sort()).toEqual(schemaKeys);
    for (const setting of settingDocs) {
      const row = doc.split('\n').find((line) => line.startsWith(`| \`${setting.env}\` |`));
      expect(row, `docs/configuration.md has no row for ${setting.env}`).toBeDefined();
      expect(row).toContain(setting.default);
    }
  });
});
