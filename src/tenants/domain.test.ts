import { describe, expect, it } from 'vitest';
import { hostWithoutPort, normalizeDomain, TenantInputError, validateTenantName } from './domain.js';

describe('tenant domains and names', () => {
  it.each([
    ['Login.Example.COM', 'login.example.com'],
    ['login.example.com.', 'login.example.com'],
    [' auth.acme.test:8443 ', 'auth.acme.test:8443'],
    ['localhost', 'localhost'],
    ['127.0.0.1:3000', '127.0.0.1:3000'],
  ])('normalises %j to %j', (input, expected) => {
    expect(normalizeDomain(input)).toBe(expected);
  });

  it.each(['', 'http://x.test', 'x.test/path', '*.x.test', 'x_y.test', 'x.test:0', 'x.test:65536', 'user@x.test', 'a..b', '-a.test', `${'a'.repeat(64)}.test`])('refuses %j', (input) => {
    expect(() => normalizeDomain(input)).toThrow(TenantInputError);
  });

  it('strips ports from Host headers, keeping IPv6 brackets', () => {
    expect(hostWithoutPort('x.test:3000')).toBe('x.test');
    expect(hostWithoutPort('x.test')).toBe('x.test');
    expect(hostWithoutPort('[::1]:3000')).toBe('[::1]');
  });

  it('validates tenant names', () => {
    expect(validateTenantName('acme-2')).toBe('acme-2');
    for (const bad of ['A', 'Acme', 'acme_x', '-acme', 'a'.repeat(64), '']) expect(() => validateTenantName(bad)).toThrow(TenantInputError);
  });
});
