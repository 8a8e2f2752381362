import { describe, expect, it } from 'vitest';
import { toEngineAuthorizeUrl, toEngineTokenBody } from './auth0-params.js';

describe('Auth0 parameters for the engine', () => {
  it('maps audience to resource in token bodies, keeping an explicit resource', () => {
    expect(toEngineTokenBody({ grant_type: 'client_credentials', audience: 'https://api/' })).toEqual({ grant_type: 'client_credentials', resource: 'https://api/' });
    expect(toEngineTokenBody({ audience: 'https://a/', resource: 'https://b/' })).toEqual({ resource: 'https://b/' });
  });

  it('turns JSON scalars into strings and drops nested objects, keeping repeated values for the engine to refuse', () => {
    expect(toEngineTokenBody({ a: 1, b: true, c: { x: 1 }, d: ['x', 'y'], e: null })).toEqual({ a: '1', b: 'true', d: ['x', 'y'], e: null });
    expect(toEngineTokenBody(undefined)).toEqual({});
    expect(toEngineTokenBody(['x'])).toEqual({});
  });

  it('adds resource from a single audience to authorization URLs', () => {
    expect(toEngineAuthorizeUrl('/authorize?client_id=c&audience=https%3A%2F%2Fapi%2F')).toBe('/authorize?client_id=c&audience=https%3A%2F%2Fapi%2F&resource=https%3A%2F%2Fapi%2F');
    expect(toEngineAuthorizeUrl('/authorize?client_id=c')).toBe('/authorize?client_id=c');
    expect(toEngineAuthorizeUrl('/authorize')).toBe('/authorize');
    // Repeated audience or an explicit resource: left for the engine to judge.
    expect(toEngineAuthorizeUrl('/authorize?audience=a&audience=b')).toBe('/authorize?audience=a&audience=b');
    expect(toEngineAuthorizeUrl('/authorize?audience=a&resource=b')).toBe('/authorize?audience=a&resource=b');
  });
});
