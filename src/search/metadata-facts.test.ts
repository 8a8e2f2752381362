import { describe, expect, it } from 'vitest';
import { INDEXED_TEXT_MAX, metadataValues, sha256 } from './metadata-facts.js';

describe('metadata facts (what user_metadata_values indexes)', () => {
  const facts = (doc: Record<string, unknown>) => metadataValues(doc).map((f) => `${f.kind} ${f.path}=${f.value}`).sort();

  it('keeps texts, numbers and booleans at dotted paths, with a marker for each non-empty object', () => {
    expect(facts({ plan: 'gold', tier: 3, beta: true, flags: { beta: false, rank: 2.5 } })).toEqual(
      ['boolean beta=true', 'boolean flags.beta=false', 'number flags.rank=2.5', 'number tier=3', 'object flags=', 'text plan=gold'].sort(),
    );
  });

  it('skips array levels at any depth, as Auth0 does, and drops duplicates', () => {
    expect(facts({ addresses: [{ city: 'Paris' }, { city: 'London' }, { city: 'Paris' }], tags: ['vip', ['vip', 'new']] })).toEqual(
      ['object addresses=', 'text addresses.city=London', 'text addresses.city=Paris', 'text tags=new', 'text tags=vip'].sort(),
    );
  });

  it('does not index nulls, empty objects, empty arrays nor objects that hold only those', () => {
    expect(facts({ gone: null, empty: {}, none: [], hollow: { a: null, b: {}, c: [] } })).toEqual([]);
  });

  it('keeps numbers as their canonical text and long texts by hash', () => {
    expect(facts({ a: 3.0, b: 1e21, c: -0.5 })).toEqual(['number a=3', 'number b=1e+21', 'number c=-0.5']);
    const long = 'x'.repeat(INDEXED_TEXT_MAX + 1);
    expect(metadataValues({ note: long })).toEqual([{ path: 'note', kind: 'text_sha256', value: sha256(long) }]);
    expect(metadataValues({ note: long.slice(1) })).toEqual([{ path: 'note', kind: 'text', value: long.slice(1) }]);
  });
});
