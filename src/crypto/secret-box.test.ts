import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../config/config.js';
import { parseMasterKey } from './master-key.js';
import { SecretBox, SecretBoxError } from './secret-box.js';

describe('SecretBox', () => {
  const key = randomBytes(32);

  it('round-trips a secret bound to its context, without the plain text in the sealed form', async () => {
    const box = new SecretBox(key);
    const sealed = await box.seal('s3cret-value', 'client-secret:t1:c1');
    expect(sealed).not.toContain('s3cret-value');
    expect(sealed.split('.')).toHaveLength(5); // compact JWE
    expect(await box.open(sealed, 'client-secret:t1:c1')).toBe('s3cret-value');
  });

  it('uses a fresh IV each time', async () => {
    const box = new SecretBox(key);
    expect(await box.seal('x', 'c')).not.toBe(await box.seal('x', 'c'));
  });

  it('refuses a sealed value moved to another context', async () => {
    const box = new SecretBox(key);
    const sealed = await box.seal('x', 'signing-key:t1:k1');
    await expect(box.open(sealed, 'signing-key:t2:k1')).rejects.toMatchObject({ code: 'CONTEXT_MISMATCH' });
  });

  it('reports a wrong master key distinctly', async () => {
    const sealed = await new SecretBox(key).seal('x', 'c');
    const error = await new SecretBox(randomBytes(32)).open(sealed, 'c').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SecretBoxError);
    expect((error as SecretBoxError).code).toBe('WRONG_MASTER_KEY');
  });

  it('reports tampering', async () => {
    const box = new SecretBox(key);
    const parts = (await box.seal('hello', 'c')).split('.');
    parts[3] = Buffer.from('jello').toString('base64url');
    await expect(box.open(parts.join('.'), 'c')).rejects.toBeInstanceOf(SecretBoxError);
  });

  it('has a stable fingerprint per key that does not reveal it', () => {
    expect(new SecretBox(key).fingerprint).toBe(new SecretBox(Buffer.from(key)).fingerprint);
    expect(new SecretBox(key).fingerprint).not.toBe(new SecretBox(randomBytes(32)).fingerprint);
    expect(new SecretBox(key).fingerprint).not.toContain(key.toString('base64url').slice(0, 8));
  });
});

describe('parseMasterKey', () => {
  it('accepts 64 hex characters and base64 / base64url of 32 bytes', () => {
    const bytes = randomBytes(32);
    expect(parseMasterKey(bytes.toString('hex'), 'MASTER_KEY').equals(bytes)).toBe(true);
    expect(parseMasterKey(bytes.toString('base64'), 'MASTER_KEY').equals(bytes)).toBe(true);
    expect(parseMasterKey(bytes.toString('base64url'), 'MASTER_KEY').equals(bytes)).toBe(true);
  });

  it.each(['', 'short', 'zz'.repeat(32), randomBytes(16).toString('hex'), randomBytes(33).toString('base64')])('refuses %j with a one-line message naming the variable', (value) => {
    expect(() => parseMasterKey(value, 'MASTER_KEY')).toThrow(ConfigError);
    expect(() => parseMasterKey(value, 'MASTER_KEY')).toThrow(/^Invalid configuration: MASTER_KEY: expected a 32-byte key/);
  });
});
