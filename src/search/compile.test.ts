import { describe, expect, it } from 'vitest';
import { userSearchSchema } from '../users/search.js';
import { compileSearch, successor } from './compile.js';
import { SearchSyntaxError } from './errors.js';
import { parseSearchQuery } from './lucene.js';
import { parseDate } from './values.js';

/** Compiling is pure: these refusals happen before any SQL runs (the SQL itself is tested against both databases in src/users/search.test.ts). */
function compileError(q: string, dialect: 'sqlite' | 'postgres' = 'sqlite'): SearchSyntaxError {
  try {
    compileSearch(parseSearchQuery(q), userSearchSchema('ten_x'), dialect);
  } catch (error) {
    if (error instanceof SearchSyntaxError) return error;
    throw error;
  }
  throw new Error(`expected ${JSON.stringify(q)} to be refused`);
}

describe('search compiler: refusals, at the position of the value at fault', () => {
  const cases: [query: string, position: number, message: RegExp][] = [
    ['logins_count:abc', 13, /expected an integer .* got "abc"/],
    ['logins_count:1.5', 13, /expected an integer/],
    ['logins_count:99999999999', 13, /expected an integer between/],
    ['logins_count:[1 TO x]', 19, /expected an integer .* got "x"/],
    ['logins_count:12*', 13, /wildcards are not supported on logins_count/],
    ['created_at:2024-02-30', 11, /expected a date/],
    ['created_at:yesterday', 11, /expected a date/],
    ['created_at:[2024-01-01 TO 2024-13-01]', 26, /expected a date .* got "2024-13-01"/],
    ['created_at:"2024-01-01T24:00"', 11, /expected a date/],
    ['created_at:2024*', 11, /wildcards are not supported on created_at/],
    ['blocked:yes', 8, /expected true or false, got "yes"/],
    ['email_verified:[true TO false]', 15, /boolean field/],
    ['name:[a TO b]', 5, /range searches are only supported on number and date fields/],
    ['unknown:x', 0, /unknown field "unknown"/],
    ['email:x OR constructor:x', 11, /unknown field "constructor"/],
    ['_exists_:nope', 9, /unknown field "nope"/],
    ['identities.nope:x', 0, /unknown field "identities.nope"/],
    ['app_metadata.plan:gol*', 18, /wildcard searches are not available on metadata fields/],
    ['user_metadata.count:[1 TO 2]', 20, /range searches are not available on metadata fields/],
    ['app_metadata:gold', 12, /expected a field inside app_metadata/],
    ['_exists_:user_metadata', 22, /expected a field inside user_metadata/],
    ['app_metadata.a..b:x', 0, /not a valid app_metadata path/],
    ['app_metadata.a.b.c.d.e.f.g.h.i:x', 0, /limited to 8 levels/],
    ['jane', 0, /expected a field name before "jane" \(e\.g\. name:jane\)/],
    ['name:x OR "jane smith"', 10, /expected a field name before "jane smith"/],
    ['[1 TO 2]', 0, /expected a field name before a range/],
  ];

  it.each(cases)('%j → position %i', (query, position, message) => {
    for (const dialect of ['sqlite', 'postgres'] as const) {
      const error = compileError(query, dialect);
      expect(error.position).toBe(position);
      expect(error.message).toMatch(message);
    }
  });

  it('searches the default fields for a bare term when the schema has them', () => {
    const schema = { fields: { type: { type: 'string', column: 'log_events.type' }, user_name: { type: 'string', column: 'log_events.user_name' } }, defaultFields: ['type', 'user_name'] } as const;
    expect(() => compileSearch(parseSearchQuery('fp'), schema, 'sqlite')).not.toThrow();
    expect(() => compileSearch(parseSearchQuery('fp'), { fields: schema.fields }, 'sqlite')).toThrow(SearchSyntaxError);
  });
});

describe('prefix upper bound (successor)', () => {
  it('is the prefix with its last code point plus one', () => {
    expect(successor('jo')).toBe('jp');
    expect(successor('a')).toBe('b');
    expect(successor('é')).toBe('ê');
    expect(successor('z\u{1F600}')).toBe('z\u{1F601}');
  });

  it('skips the surrogate block and drops code points that cannot grow', () => {
    expect(successor('a\uD7FF')).toBe('a\uE000');
    expect(successor('a\u{10FFFF}')).toBe('b');
    expect(successor('\u{10FFFF}\u{10FFFF}')).toBeNull();
  });
});

describe('date values', () => {
  it('stand for the interval of their precision, in UTC, in the stored format', () => {
    expect(parseDate('2024-03-01', 0)).toEqual({ start: '2024-03-01T00:00:00.000Z', end: '2024-03-02T00:00:00.000Z' });
    expect(parseDate('2024-12-31T23:59', 0)).toEqual({ start: '2024-12-31T23:59:00.000Z', end: '2025-01-01T00:00:00.000Z' });
    expect(parseDate('2024-03-01T10:00:00Z', 0)).toEqual({ start: '2024-03-01T10:00:00.000Z', end: '2024-03-01T10:00:01.000Z' });
    expect(parseDate('2024-03-01T10:00:00.123Z', 0)).toEqual({ start: '2024-03-01T10:00:00.123Z', end: '2024-03-01T10:00:00.124Z' });
    expect(parseDate('2024-03-01T10:00:00+02:00', 0)).toEqual({ start: '2024-03-01T08:00:00.000Z', end: '2024-03-01T08:00:01.000Z' });
    expect(parseDate('2024-02-29', 0).start).toBe('2024-02-29T00:00:00.000Z');
  });

  it('refuses dates that do not exist', () => {
    for (const bad of ['2023-02-29', '2024-04-31', '2024-00-10', '2024-01-01T10:60', '2024-01-01T10:00:00+25:00', '24-01-01', '2024-1-1']) {
      expect(() => parseDate(bad, 7), bad).toThrow(SearchSyntaxError);
    }
  });
});
