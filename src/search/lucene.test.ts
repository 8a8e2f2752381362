import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseSearchQuery, SEARCH_LIMITS, SearchSyntaxError, type SearchNode } from './lucene.js';

/** The AST without positions, to compare shapes. */
type Shape =
  | { kind: 'and' | 'or'; operands: Shape[] }
  | { kind: 'not'; operand: Shape }
  | { kind: 'term'; field: string | null; value: string; phrase: boolean }
  | { kind: 'prefix'; field: string | null; prefix: string }
  | { kind: 'range'; field: string | null; lower: { value: string; inclusive: boolean } | null; upper: { value: string; inclusive: boolean } | null }
  | { kind: 'exists'; field: string };

function shape(node: SearchNode): Shape {
  switch (node.kind) {
    case 'and':
    case 'or':
      return { kind: node.kind, operands: node.operands.map(shape) };
    case 'not':
      return { kind: 'not', operand: shape(node.operand) };
    case 'term':
      return { kind: 'term', field: node.field?.name ?? null, value: node.value, phrase: node.phrase };
    case 'prefix':
      return { kind: 'prefix', field: node.field?.name ?? null, prefix: node.prefix };
    case 'range':
      return {
        kind: 'range',
        field: node.field?.name ?? null,
        lower: node.lower && { value: node.lower.value, inclusive: node.lower.inclusive },
        upper: node.upper && { value: node.upper.value, inclusive: node.upper.inclusive },
      };
    case 'exists':
      return { kind: 'exists', field: node.field.name };
  }
}

const parse = (q: string) => shape(parseSearchQuery(q));
const term = (field: string | null, value: string, phrase = false): Shape => ({ kind: 'term', field, value, phrase });

/** The SearchSyntaxError a query throws (fails the test if it parses or throws anything else). */
function syntaxError(q: string): SearchSyntaxError {
  try {
    parseSearchQuery(q);
  } catch (error) {
    if (error instanceof SearchSyntaxError) return error;
    throw error;
  }
  throw new Error(`expected ${JSON.stringify(q)} to be refused`);
}

describe('search query parser: constructs', () => {
  it('parses field:value and field:"phrase" with the value positions', () => {
    const node = parseSearchQuery('email:"jane@x.com"');
    expect(node).toEqual({ kind: 'term', field: { name: 'email', position: 0 }, value: 'jane@x.com', phrase: true, position: 6 });
    expect(parseSearchQuery('  name:jane')).toEqual({ kind: 'term', field: { name: 'name', position: 2 }, value: 'jane', phrase: false, position: 7 });
  });

  it('parses a trailing wildcard as a prefix, from one literal character up', () => {
    expect(parse('name:jo*')).toEqual({ kind: 'prefix', field: 'name', prefix: 'jo' });
    expect(parse('name:j*')).toEqual({ kind: 'prefix', field: 'name', prefix: 'j' });
  });

  it('parses inclusive, exclusive, mixed and open ranges; bounds may hold colons or be quoted', () => {
    expect(parse('logins_count:[10 TO 20]')).toEqual({ kind: 'range', field: 'logins_count', lower: { value: '10', inclusive: true }, upper: { value: '20', inclusive: true } });
    expect(parse('created_at:{2024-01-01 TO *]')).toEqual({ kind: 'range', field: 'created_at', lower: { value: '2024-01-01', inclusive: false }, upper: null });
    expect(parse('logins_count:[* TO 5}')).toEqual({ kind: 'range', field: 'logins_count', lower: null, upper: { value: '5', inclusive: false } });
    expect(parse('created_at:[2024-01-01T10:00:00Z TO "2024-02-01"]')).toEqual({
      kind: 'range',
      field: 'created_at',
      lower: { value: '2024-01-01T10:00:00Z', inclusive: true },
      upper: { value: '2024-02-01', inclusive: true },
    });
    const range = parseSearchQuery('n:[1 TO 2]');
    expect(range).toMatchObject({ kind: 'range', position: 2, lower: { position: 3 }, upper: { position: 8 } });
  });

  it('parses _exists_ and dotted metadata field names', () => {
    expect(parseSearchQuery('_exists_:nickname')).toEqual({ kind: 'exists', field: { name: 'nickname', position: 9 }, position: 0 });
    expect(parse('user_metadata.addresses.city:"Paris"')).toEqual(term('user_metadata.addresses.city', 'Paris', true));
  });

  it('unescapes backslashes: an escaped * is a literal, an escaped space or colon is part of the term', () => {
    expect(parse('name:jo\\*hn')).toEqual(term('name', 'jo*hn'));
    expect(parse('name:jo\\**')).toEqual({ kind: 'prefix', field: 'name', prefix: 'jo*' });
    expect(parse('name:jane\\ smith')).toEqual(term('name', 'jane smith'));
    expect(parse('last_ip:\\:\\:1')).toEqual(term('last_ip', '::1'));
    expect(parse('name:"say \\"hi\\" \\\\ bye"')).toEqual(term('name', 'say "hi" \\ bye', true));
    expect(parse('name:"a*b (c)"')).toEqual(term('name', 'a*b (c)', true));
    expect(parse('name:\\AND')).toEqual(term('name', 'AND'));
  });

  it('joins with AND and OR; side by side means OR; lower-case and/or are terms', () => {
    expect(parse('a:1 AND b:2 AND c:3')).toEqual({ kind: 'and', operands: [term('a', '1'), term('b', '2'), term('c', '3')] });
    expect(parse('a:1 OR b:2')).toEqual({ kind: 'or', operands: [term('a', '1'), term('b', '2')] });
    expect(parse('a:1 b:2 c:3')).toEqual({ kind: 'or', operands: [term('a', '1'), term('b', '2'), term('c', '3')] });
    expect(parse('a:1 or b:2')).toEqual({ kind: 'or', operands: [term('a', '1'), term(null, 'or'), term('b', '2')] });
  });

  it('reads NOT as exclusion, standing alone, after AND, or side by side (a NOT b = a AND NOT b)', () => {
    const notB = { kind: 'not', operand: term('b', '2') };
    expect(parse('NOT b:2')).toEqual(notB);
    expect(parse('a:1 AND NOT b:2')).toEqual({ kind: 'and', operands: [term('a', '1'), notB] });
    expect(parse('a:1 NOT b:2')).toEqual({ kind: 'and', operands: [term('a', '1'), notB] });
    expect(parse('NOT b:2 a:1')).toEqual({ kind: 'and', operands: [term('a', '1'), notB] });
    expect(parse('a:1 c:3 NOT b:2')).toEqual({ kind: 'and', operands: [{ kind: 'or', operands: [term('a', '1'), term('c', '3')] }, notB] });
    expect(parse('NOT a:1 NOT b:2')).toEqual({ kind: 'and', operands: [{ kind: 'not', operand: term('a', '1') }, notB] });
    expect(parse('a:1 OR (NOT b:2)')).toEqual({ kind: 'or', operands: [term('a', '1'), notB] });
  });

  it('groups with parentheses, and a field applies to its group', () => {
    expect(parse('(a:1 OR b:2) AND c:3')).toEqual({ kind: 'and', operands: [{ kind: 'or', operands: [term('a', '1'), term('b', '2')] }, term('c', '3')] });
    expect(parse('name:(jane OR "john smith" OR jo*)')).toEqual({
      kind: 'or',
      operands: [term('name', 'jane'), term('name', 'john smith', true), { kind: 'prefix', field: 'name', prefix: 'jo' }],
    });
    expect(parse('name:(jane email:x)')).toEqual({ kind: 'or', operands: [term('name', 'jane'), term('email', 'x')] });
    expect(parse('((((a:1))))')).toEqual(term('a', '1'));
  });

  it('keeps a term without a field as a bare term (the compiler decides)', () => {
    expect(parse('jane')).toEqual(term(null, 'jane'));
    expect(parse('"jane smith"')).toEqual(term(null, 'jane smith', true));
  });
});

describe('search query parser: errors say what was expected, and where', () => {
  const cases: [query: string, position: number, message: RegExp][] = [
    ['', 0, /expected a search clause/],
    ['   ', 3, /expected a search clause/],
    ['name:', 5, /expected a value after "name:"/],
    [':jane', 0, /expected a field name before ":"/],
    ['name:"jane', 10, /expected '"' to close the phrase opened at position 5/],
    ['name:*ane', 5, /only supported at the end of a term/],
    ['name:ja*ne', 7, /only supported at the end of a term/],
    ['name:ja**', 7, /only supported at the end of a term/],
    ['name:*', 5, /use _exists_:name/],
    ['name:ja?e', 7, /"\?" wildcard is not supported/],
    ['name:jane~2', 9, /fuzzy, proximity or boost/],
    ['name:jane^2', 9, /fuzzy, proximity or boost/],
    ['name:/jo.*/', 5, /regular expressions/],
    ['(name:a', 7, /expected "\)" to close the "\(" at position 0/],
    ['name:a)', 6, /unexpected "\)" without a matching "\("/],
    ['name:a]', 6, /unexpected "\]"/],
    ['a:1 AND', 7, /expected a search clause after "AND"/],
    ['a:1 OR', 6, /expected a search clause after "OR"/],
    ['AND a:1', 0, /expected a search clause before "AND"/],
    ['a:1 AND OR b:2', 8, /expected a search clause after "AND"/],
    ['a:1 NOT', 7, /expected a search clause after "NOT"/],
    ['NOT NOT a:1', 4, /NOT \(NOT …\)/],
    ['a:1 AND b:2 OR c:3', 12, /AND and OR cannot be mixed/],
    ['a:1 OR b:2 AND c:3', 11, /AND and OR cannot be mixed/],
    ['a:1 AND b:2 c:3', 12, /expected AND between these clauses/],
    ['a:1 b:2 AND c:3', 8, /AND and OR cannot be mixed/],
    ['a:1 OR NOT b:2', 4, /"OR NOT" is ambiguous/],
    ['NOT a:1 OR b:2', 8, /NOT clause cannot be followed by OR/],
    ['logins_count:[1 TO', 18, /expected a range bound/],
    ['logins_count:[1 2]', 16, /expected "TO"/],
    ['logins_count:[1 TO 2', 20, /expected "\]" or "\}" to close the range opened at position 13/],
    ['logins_count:[1* TO 2]', 15, /wildcards are not allowed in range bounds/],
    ['-name:x', 0, /prefix operators are not supported/],
    ['+jane', 0, /prefix operators are not supported/],
    ['a:1 && b:2', 4, /use AND/],
    ['a:1 || b:2', 4, /use OR/],
    ['name:a\\', 7, /expected a character after "\\"/],
    ['_exists_:', 9, /expected a field name after "_exists_:"/],
    ['_exists_:(a)', 9, /expected a field name after "_exists_:"/],
    ['_exists_ name', 8, /expected ":" after "_exists_"/],
    ['na*me:x', 0, /not a valid field name/],
    ['a:1 \u0000', 4, /NUL/],
    ['name:\uD800x', 5, /unpaired UTF-16 surrogate/],
  ];

  it.each(cases)('%j → position %i', (query, position, message) => {
    const error = syntaxError(query);
    expect(error.position).toBe(position);
    expect(error.message).toMatch(message);
    expect(error.message).toMatch(new RegExp(`at position ${position}$`));
    expect(error.code).toBe('invalid_query');
  });

  it('refuses a query longer than the limit, and accepts one at the limit', () => {
    const atLimit = `name:${'a'.repeat(SEARCH_LIMITS.maxLength - 5)}`;
    expect(parseSearchQuery(atLimit)).toMatchObject({ kind: 'term' });
    const error = syntaxError(`${atLimit}a`);
    expect(error.position).toBe(SEARCH_LIMITS.maxLength);
    expect(error.message).toMatch(/longer than 2000 characters/);
  });

  it('refuses parentheses nested deeper than the limit, at the first "(" too deep', () => {
    const nest = (depth: number) => `${'('.repeat(depth)}a:1${')'.repeat(depth)}`;
    expect(parse(nest(SEARCH_LIMITS.maxDepth))).toEqual(term('a', '1'));
    const error = syntaxError(nest(SEARCH_LIMITS.maxDepth + 1));
    expect(error.position).toBe(SEARCH_LIMITS.maxDepth);
    expect(error.message).toMatch(/deeper than 10 levels/);
    // Far beyond: still a SearchSyntaxError, not a stack overflow.
    expect(syntaxError('('.repeat(1999)).position).toBe(SEARCH_LIMITS.maxDepth);
  });

  it('refuses more clauses than the limit, at the first clause too many', () => {
    const clauses = (n: number) => Array.from({ length: n }, (_, i) => `f:${i % 10}`).join(' ');
    expect(parseSearchQuery(clauses(SEARCH_LIMITS.maxClauses))).toMatchObject({ kind: 'or' });
    const error = syntaxError(clauses(SEARCH_LIMITS.maxClauses + 1));
    expect(error.position).toBe(SEARCH_LIMITS.maxClauses * 4);
    expect(error.message).toMatch(/more than 100 clauses/);
  });
});

/** Escapes a word so that it stands as one literal term after `field:`. */
const escapeTerm = (word: string) => word.replace(/[\s\\()[\]{}:"*?~^/|&]/g, (c) => `\\${c}`).replace(/^(AND|OR|NOT)$/, '\\$1');
const escapePhrase = (text: string) => text.replace(/["\\]/g, (c) => `\\${c}`);

interface Built {
  readonly text: string;
  readonly shape: Shape;
  readonly clauses: number;
}

const FIELDS = ['name', 'email', 'logins_count', 'created_at', 'app_metadata.plan', 'user_metadata.addresses.city', 'identities.connection', 'given-name'];
const WORD_CHARS = [...'abcAZ09-_.@|+!é', ' ', '\\', '(', ')', ':', '"', '*', '?', '[', ']', '{', '}', '~', '^', '/', 'AND', 'OR', 'NOT'];

/** Random valid queries built from the grammar, with the AST each must parse to. */
function validQuery(): fc.Arbitrary<Built> {
  const field = fc.constantFrom(...FIELDS);
  const word = fc.string({ unit: fc.constantFrom(...WORD_CHARS), minLength: 1, maxLength: 6 });
  const bound = fc.option(fc.stringMatching(/^[a-z0-9:.-]{1,8}$/), { nil: null });
  const leaf: fc.Arbitrary<Built> = fc.oneof(
    fc.tuple(field, word).map(([f, w]) => ({ text: `${f}:${escapeTerm(w)}`, shape: term(f, w), clauses: 1 })),
    fc.tuple(field, fc.string({ maxLength: 8 })).map(([f, s]) => ({ text: `${f}:"${escapePhrase(s)}"`, shape: term(f, s, true), clauses: 1 })),
    fc.tuple(field, word).map(([f, w]): Built => ({ text: `${f}:${escapeTerm(w)}*`, shape: { kind: 'prefix', field: f, prefix: w }, clauses: 1 })),
    fc.tuple(field, fc.boolean(), bound, bound, fc.boolean()).map(([f, li, lo, hi, ui]): Built => ({
      text: `${f}:${li ? '[' : '{'}${lo ?? '*'} TO ${hi ?? '*'}${ui ? ']' : '}'}`,
      shape: { kind: 'range', field: f, lower: lo === null ? null : { value: lo, inclusive: li }, upper: hi === null ? null : { value: hi, inclusive: ui } },
      clauses: 1,
    })),
    field.map((f): Built => ({ text: `_exists_:${f}`, shape: { kind: 'exists', field: f }, clauses: 1 })),
  );
  const { node } = fc.letrec<{ node: Built; group: Built }>((tie) => ({
    node: fc.oneof({ maxDepth: 4, depthIdentifier: 'query' }, leaf, tie('group')),
    group: fc
      .tuple(fc.constantFrom('AND', 'OR', 'implicit'), fc.array(fc.tuple(tie('node'), fc.boolean()), { minLength: 1, maxLength: 3 }))
      .map(([op, items]): Built => {
        const clauses = items.reduce((n, [item]) => n + item.clauses, 0);
        if (op === 'AND') {
          // AND NOT is allowed anywhere in an AND chain; NOT clauses go after the positive ones in the AST.
          const text = items.map(([item, negated]) => `${negated ? 'NOT ' : ''}${item.text}`).join(' AND ');
          const positives = items.filter(([, negated]) => !negated).map(([item]) => item.shape);
          const negatives = items.filter(([, negated]) => negated).map(([item]): Shape => ({ kind: 'not', operand: item.shape }));
          const operands = [...positives, ...negatives];
          return { text: `(${text})`, shape: operands.length === 1 ? (operands[0] as Shape) : { kind: 'and', operands }, clauses };
        }
        const text = items.map(([item]) => item.text).join(op === 'OR' ? ' OR ' : ' ');
        const operands = items.map(([item]) => item.shape);
        return { text: `(${text})`, shape: operands.length === 1 ? (operands[0] as Shape) : { kind: 'or', operands }, clauses };
      }),
  }));
  return node.filter((built) => built.text.length <= SEARCH_LIMITS.maxLength && built.clauses <= SEARCH_LIMITS.maxClauses);
}

/** Pieces of the grammar, glued at random: mostly invalid, often almost valid. */
const grammarSoup = fc
  .array(fc.constantFrom('(', ')', '[', ']', '{', '}', ':', '"', '\\', '*', '?', '~', ' ', 'AND', 'OR', 'NOT', 'TO', 'name', 'jo', '_exists_', 'app_metadata.plan', '-', '+', '!', '&&', '/', '\u0000', '\uD800', 'é', '1'), {
    maxLength: 40,
  })
  .map((parts) => parts.join(''));

/** Parsing either yields an AST or throws a SearchSyntaxError with a position inside the query — nothing else. */
function parsesOrRefuses(query: string): void {
  try {
    parseSearchQuery(query);
  } catch (error) {
    if (!(error instanceof SearchSyntaxError)) throw error;
    expect(error.position).toBeGreaterThanOrEqual(0);
    expect(error.position).toBeLessThanOrEqual(query.length);
  }
}

describe('search query parser: properties', () => {
  it('answers any string with an AST or a SearchSyntaxError', () => {
    fc.assert(fc.property(fc.string({ unit: 'binary', maxLength: 200 }), parsesOrRefuses), { numRuns: 2000 });
    fc.assert(fc.property(grammarSoup, parsesOrRefuses), { numRuns: 5000 });
    // Long inputs near and past the length limit, made of the characters that build structure.
    fc.assert(fc.property(fc.string({ unit: fc.constantFrom('(', ')', '[', 'a', ':', ' ', '"', 'NOT '), minLength: 1500, maxLength: 2600 }), parsesOrRefuses), { numRuns: 200 });
  });

  it('parses every query built from the grammar into the AST it was built from', () => {
    fc.assert(
      fc.property(validQuery(), (built) => {
        expect(parse(built.text)).toEqual(built.shape);
      }),
      { numRuns: 1500 },
    );
  });
});
