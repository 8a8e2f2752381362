import { describe, expect, it } from 'vitest';
import { parseTenantSettings } from '../tenants/settings.js';
import { sessionLifetime, sessionTtlSeconds } from './session-lifetime.js';

const HOUR = 3600;

describe('session lifetime', () => {
  it("reads Auth0's defaults from the tenant settings: 72 h idle, 168 h absolute", () => {
    expect(sessionLifetime(parseTenantSettings({}))).toEqual({ idleSeconds: 72 * HOUR, absoluteSeconds: 168 * HOUR });
    expect(sessionLifetime({ idle_session_lifetime: 0.5, session_lifetime: 1.25 })).toEqual({ idleSeconds: 1800, absoluteSeconds: 4500 });
  });

  const lifetime = { idleSeconds: 1 * HOUR, absoluteSeconds: 4 * HOUR };
  const login = 1_900_000_000;

  it('keeps a session for the idle period from each use', () => {
    expect(sessionTtlSeconds(lifetime, login, login)).toBe(HOUR);
    expect(sessionTtlSeconds(lifetime, login, login + 2 * HOUR)).toBe(HOUR);
  });

  it('never past the absolute lifetime from login', () => {
    expect(sessionTtlSeconds(lifetime, login, login + 3.5 * HOUR)).toBe(0.5 * HOUR);
    expect(sessionTtlSeconds(lifetime, login, login + 4 * HOUR - 1)).toBe(1);
  });

  it('ends within a second a session already past its absolute lifetime (lifetimes shortened meanwhile)', () => {
    expect(sessionTtlSeconds(lifetime, login, login + 5 * HOUR)).toBe(1);
  });

  it('uses the absolute lifetime when it is the shorter of the two', () => {
    expect(sessionTtlSeconds({ idleSeconds: 10 * HOUR, absoluteSeconds: 2 * HOUR }, login, login)).toBe(2 * HOUR);
  });

  it('bounds a session saved before any login by both periods from now', () => {
    expect(sessionTtlSeconds(lifetime, undefined, login)).toBe(HOUR);
    expect(sessionTtlSeconds({ idleSeconds: 10 * HOUR, absoluteSeconds: 2 * HOUR }, undefined, login)).toBe(2 * HOUR);
  });

  it('defaults to the engine clock (epoch seconds)', () => {
    const now = Math.floor(Date.now() / 1000);
    expect(sessionTtlSeconds(lifetime, now - HOUR * 3.75)).toBeLessThanOrEqual(0.25 * HOUR);
    expect(sessionTtlSeconds(lifetime, now - HOUR * 3.75)).toBeGreaterThanOrEqual(0.25 * HOUR - 2);
  });
});
