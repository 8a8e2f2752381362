import { SearchSyntaxError } from './errors.js';

export { SearchSyntaxError };

/**
 * Auth0's search query strings (user search v3, log search) are Lucene's
 * classic query syntax, of which this parses a stated subset into a typed AST
 * (docs/decisions/009-user-search.md):
 *
 *   query    := sequence EOF
 *   sequence := clause ( ("AND" | "OR" | nothing) ["NOT"] clause )*   — first clause may start with NOT
 *   clause   := "(" sequence ")" | field ":" value | "_exists_" ":" field | value
 *   value    := TERM | TERM* | PHRASE | range | "(" sequence ")"     — a group inherits the field
 *   range    := ("[" | "{") bound "TO" bound ("]" | "}")               — bound: TERM | PHRASE | *
 *
 * Clauses side by side mean OR (Lucene's default operator); a NOT clause
 * side by side excludes (`a NOT b` = a AND NOT b). Where Lucene's clause
 * model and ordinary boolean precedence would disagree — AND mixed with OR at
 * one level, `OR NOT`, `NOT a OR b` — the query is refused, so every accepted
 * query means the same thing here and in Auth0.
 *
 * Nothing here recurses deeper than `maxDepth` parentheses, and the input is
 * capped at `maxLength` characters, so no query can exhaust the stack.
 */
export const SEARCH_LIMITS = { maxLength: 2000, maxDepth: 10, maxClauses: 100 } as const;

export interface FieldRef {
  readonly name: string;
  readonly position: number;
}

/** `field:value` or `field:"a phrase"` — the field's whole value equals `value`. */
export interface TermNode {
  readonly kind: 'term';
  /** null: a bare term, searched in the schema's default fields (if it has any). */
  readonly field: FieldRef | null;
  readonly value: string;
  readonly phrase: boolean;
  readonly position: number;
}

/** `field:jo*` — the field's value starts with `prefix`. */
export interface PrefixNode {
  readonly kind: 'prefix';
  readonly field: FieldRef | null;
  readonly prefix: string;
  readonly position: number;
}

export interface RangeBound {
  readonly value: string;
  readonly inclusive: boolean;
  readonly position: number;
}

/** `field:[a TO b]`, `{` `}` exclusive; a null bound is `*` (open). */
export interface RangeNode {
  readonly kind: 'range';
  readonly field: FieldRef | null;
  readonly lower: RangeBound | null;
  readonly upper: RangeBound | null;
  readonly position: number;
}

/** `_exists_:field` — the field has a (non-null) value. */
export interface ExistsNode {
  readonly kind: 'exists';
  readonly field: FieldRef;
  readonly position: number;
}

export type SearchNode =
  | { readonly kind: 'and'; readonly operands: readonly SearchNode[] }
  | { readonly kind: 'or'; readonly operands: readonly SearchNode[] }
  | { readonly kind: 'not'; readonly operand: SearchNode }
  | TermNode
  | PrefixNode
  | RangeNode
  | ExistsNode;

type Token =
  | { readonly type: 'lparen' | 'rparen' | 'colon' | 'and' | 'or' | 'not' | 'to' | 'eof'; readonly pos: number }
  | { readonly type: 'open' | 'close'; readonly inclusive: boolean; readonly pos: number }
  | { readonly type: 'phrase'; readonly value: string; readonly pos: number }
  | {
      readonly type: 'term';
      readonly value: string;
      /** Source offsets of the unescaped `*` in the term, and their indexes in `value`. */
      readonly wildcards: readonly { readonly pos: number; readonly index: number }[];
      readonly raw: string;
      readonly pos: number;
    };

type TermToken = Extract<Token, { type: 'term' }>;

const WHITESPACE = /\s/;
const UNPAIRED_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
/** Characters that end a term outside a range. */
const TERM_END = new Set(['(', ')', ':', '[', ']', '{', '}', '"']);
const KEYWORDS = new Map<string, 'and' | 'or' | 'not'>([
  ['AND', 'and'],
  ['OR', 'or'],
  ['NOT', 'not'],
]);

function tokenize(source: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  let inRange = false;

  function readPhrase(): Token {
    const start = i;
    i++; // opening quote
    let value = '';
    while (i < source.length && source[i] !== '"') {
      if (source[i] === '\\') {
        if (i + 1 >= source.length) throw new SearchSyntaxError('expected a character after "\\"', i + 1);
        i++;
      }
      value += source[i];
      i++;
    }
    if (i >= source.length) throw new SearchSyntaxError(`expected '"' to close the phrase opened at position ${start}`, source.length);
    i++; // closing quote
    return { type: 'phrase', value, pos: start };
  }

  function readTerm(): TermToken {
    const start = i;
    let value = '';
    const wildcards: { pos: number; index: number }[] = [];
    while (i < source.length) {
      const c = source[i] as string;
      if (WHITESPACE.test(c)) break;
      if (inRange ? c === ']' || c === '}' || c === '"' : TERM_END.has(c)) break;
      if (c === '\\') {
        if (i + 1 >= source.length) throw new SearchSyntaxError('expected a character after "\\"', i + 1);
        value += source[i + 1];
        i += 2;
        continue;
      }
      if (c === '*') wildcards.push({ pos: i, index: value.length });
      else if (!inRange && c === '?') throw new SearchSyntaxError('the "?" wildcard is not supported; use "*" at the end of a term', i);
      else if (!inRange && (c === '~' || c === '^')) throw new SearchSyntaxError(`"${c}" (fuzzy, proximity or boost) is not supported`, i);
      else if (!inRange && c === '/' && i === start) throw new SearchSyntaxError('regular expressions are not supported', i);
      value += c;
      i++;
    }
    return { type: 'term', value, wildcards, raw: source.slice(start, i), pos: start };
  }

  while (i < source.length) {
    const c = source[i] as string;
    if (WHITESPACE.test(c)) {
      i++;
      continue;
    }
    if (c === '"') {
      tokens.push(readPhrase());
      continue;
    }
    if (inRange) {
      if (c === ']' || c === '}') {
        tokens.push({ type: 'close', inclusive: c === ']', pos: i++ });
        inRange = false;
        continue;
      }
      const term = readTerm();
      tokens.push(term.raw === 'TO' ? { type: 'to', pos: term.pos } : term);
      continue;
    }
    if (c === '(' || c === ')' || c === ':') {
      tokens.push({ type: c === '(' ? 'lparen' : c === ')' ? 'rparen' : 'colon', pos: i++ });
      continue;
    }
    if (c === '[' || c === '{') {
      tokens.push({ type: 'open', inclusive: c === '[', pos: i++ });
      inRange = true;
      continue;
    }
    if (c === ']' || c === '}') {
      tokens.push({ type: 'close', inclusive: c === ']', pos: i++ });
      continue;
    }
    const term = readTerm();
    const keyword = KEYWORDS.get(term.raw);
    if (keyword) tokens.push({ type: keyword, pos: term.pos });
    else if (term.raw === '&&' || term.raw === '||') throw new SearchSyntaxError(`"${term.raw}" is not supported; use ${term.raw === '&&' ? 'AND' : 'OR'}`, term.pos);
    else tokens.push(term);
  }
  tokens.push({ type: 'eof', pos: source.length });
  return tokens;
}

/** One clause of a sequence, with the operator that joined it to the previous one. */
interface Item {
  readonly node: SearchNode;
  readonly negated: boolean;
  readonly connector: 'and' | 'or' | 'implicit' | null;
  readonly connectorPos: number;
}

const FIELD_NAME = /^[\p{L}\p{N}_][\p{L}\p{N}_.-]*$/u;

function describe(token: Token): string {
  switch (token.type) {
    case 'eof':
      return 'the end of the query';
    case 'term':
      return `"${token.raw}"`;
    case 'phrase':
      return 'a phrase';
    case 'lparen':
      return '"("';
    case 'rparen':
      return '")"';
    case 'colon':
      return '":"';
    case 'open':
      return token.inclusive ? '"["' : '"{"';
    case 'close':
      return token.inclusive ? '"]"' : '"}"';
    default:
      return `"${token.type.toUpperCase()}"`;
  }
}

class Parser {
  private index = 0;
  private clauses = 0;

  constructor(private readonly tokens: readonly Token[]) {}

  parse(): SearchNode {
    const node = this.sequence(null, 0);
    const next = this.peek();
    if (next.type !== 'eof') {
      throw new SearchSyntaxError(next.type === 'rparen' ? 'unexpected ")" without a matching "("' : `unexpected ${describe(next)}`, next.pos);
    }
    return node;
  }

  private peek(offset = 0): Token {
    return this.tokens[Math.min(this.index + offset, this.tokens.length - 1)] as Token;
  }

  private next(): Token {
    const token = this.peek();
    if (this.index < this.tokens.length - 1) this.index++;
    return token;
  }

  private sequence(field: FieldRef | null, depth: number): SearchNode {
    const items: Item[] = [];
    for (;;) {
      const start = this.peek();
      if (start.type === 'eof' || start.type === 'rparen') break;
      let connector: Item['connector'] = null;
      const connectorPos = start.pos;
      if (start.type === 'and' || start.type === 'or') {
        if (items.length === 0) throw new SearchSyntaxError(`expected a search clause before ${describe(start)}`, start.pos);
        connector = start.type;
        this.next();
      } else if (items.length > 0) {
        connector = 'implicit';
      }
      let negated = false;
      if (this.peek().type === 'not') {
        negated = true;
        this.next();
        if (this.peek().type === 'not') throw new SearchSyntaxError('expected a search clause after "NOT" (write NOT (NOT …) to negate twice)', this.peek().pos);
      }
      const operand = this.peek();
      if (operand.type === 'eof' || operand.type === 'rparen' || operand.type === 'and' || operand.type === 'or') {
        const after = negated ? '"NOT"' : connector === 'and' ? '"AND"' : '"OR"';
        throw new SearchSyntaxError(`expected a search clause after ${after}`, operand.pos);
      }
      items.push({ node: this.clause(field, depth), negated, connector, connectorPos });
    }
    if (items.length === 0) throw new SearchSyntaxError('expected a search clause', this.peek().pos);
    return combine(items);
  }

  private clause(field: FieldRef | null, depth: number): SearchNode {
    const token = this.peek();
    switch (token.type) {
      case 'lparen':
        return this.group(field, depth);
      case 'phrase':
        this.next();
        return this.leaf({ kind: 'term', field, value: token.value, phrase: true, position: token.pos });
      case 'open':
        return this.range(field);
      case 'term':
        if (this.peek(1).type === 'colon') return this.fieldClause(token, depth);
        if (token.raw === '_exists_') throw new SearchSyntaxError('expected ":" after "_exists_"', token.pos + token.raw.length);
        if (/^[+\-!]/.test(token.raw)) throw new SearchSyntaxError(`"${token.raw[0]}" prefix operators are not supported; use AND / NOT`, token.pos);
        this.next();
        return this.leaf(termNode(token, field));
      case 'colon':
        throw new SearchSyntaxError('expected a field name before ":"', token.pos);
      default:
        throw new SearchSyntaxError(`unexpected ${describe(token)}`, token.pos);
    }
  }

  private group(field: FieldRef | null, depth: number): SearchNode {
    const open = this.next();
    if (depth + 1 > SEARCH_LIMITS.maxDepth) throw new SearchSyntaxError(`parentheses nest deeper than ${SEARCH_LIMITS.maxDepth} levels`, open.pos);
    const node = this.sequence(field, depth + 1);
    const close = this.peek();
    if (close.type !== 'rparen') throw new SearchSyntaxError(`expected ")" to close the "(" at position ${open.pos}`, close.pos);
    this.next();
    return node;
  }

  private fieldClause(name: TermToken, depth: number): SearchNode {
    if (/^[+\-!]/.test(name.raw)) throw new SearchSyntaxError(`"${name.raw[0]}" prefix operators are not supported; use AND / NOT`, name.pos);
    if (name.wildcards.length > 0 || name.raw !== name.value || !FIELD_NAME.test(name.value)) {
      throw new SearchSyntaxError(`"${name.raw}" is not a valid field name`, name.pos);
    }
    this.next(); // name
    this.next(); // colon
    const field: FieldRef = { name: name.value, position: name.pos };
    if (name.value === '_exists_') return this.exists(name.pos);
    const value = this.peek();
    switch (value.type) {
      case 'phrase':
        this.next();
        return this.leaf({ kind: 'term', field, value: value.value, phrase: true, position: value.pos });
      case 'term':
        this.next();
        return this.leaf(termNode(value, field));
      case 'open':
        return this.range(field);
      case 'lparen':
        return this.group(field, depth);
      default:
        throw new SearchSyntaxError(`expected a value after "${name.value}:"`, value.pos);
    }
  }

  private exists(position: number): SearchNode {
    const target = this.peek();
    if (target.type !== 'term' || target.wildcards.length > 0 || target.raw !== target.value || !FIELD_NAME.test(target.value) || this.peek(1).type === 'colon') {
      throw new SearchSyntaxError('expected a field name after "_exists_:"', target.pos);
    }
    this.next();
    return this.leaf({ kind: 'exists', field: { name: target.value, position: target.pos }, position });
  }

  private range(field: FieldRef | null): SearchNode {
    const open = this.next() as Extract<Token, { type: 'open' | 'close' }>;
    const lower = this.bound();
    const to = this.peek();
    if (to.type !== 'to') throw new SearchSyntaxError('expected "TO" between the bounds of a range', to.pos);
    this.next();
    const upper = this.bound();
    const close = this.peek();
    if (close.type !== 'close') throw new SearchSyntaxError(`expected "]" or "}" to close the range opened at position ${open.pos}`, close.pos);
    this.next();
    return this.leaf({
      kind: 'range',
      field,
      lower: lower && { ...lower, inclusive: open.inclusive },
      upper: upper && { ...upper, inclusive: close.inclusive },
      position: open.pos,
    });
  }

  /** A range bound; null for `*` (open end). */
  private bound(): { value: string; position: number } | null {
    const token = this.peek();
    if (token.type === 'phrase') {
      this.next();
      return { value: token.value, position: token.pos };
    }
    if (token.type !== 'term') throw new SearchSyntaxError('expected a range bound (a value or *)', token.pos);
    this.next();
    if (token.raw === '*') return null;
    const wildcard = token.wildcards[0];
    if (wildcard) throw new SearchSyntaxError('wildcards are not allowed in range bounds (use * alone for an open end)', wildcard.pos);
    return { value: token.value, position: token.pos };
  }

  /** Counts a leaf clause against the limit; the error points at the clause's start. */
  private leaf<T extends TermNode | PrefixNode | RangeNode | ExistsNode>(node: T): T {
    this.clauses++;
    if (this.clauses > SEARCH_LIMITS.maxClauses) {
      const clause: TermNode | PrefixNode | RangeNode | ExistsNode = node;
      const start = clause.kind !== 'exists' && clause.field ? clause.field.position : clause.position;
      throw new SearchSyntaxError(`the query has more than ${SEARCH_LIMITS.maxClauses} clauses`, start);
    }
    return node;
  }
}

/** A term token as a value: exact, or a prefix when its only wildcard ends it. */
function termNode(token: TermToken, field: FieldRef | null): TermNode | PrefixNode {
  const [first, ...more] = token.wildcards;
  if (!first) return { kind: 'term', field, value: token.value, phrase: false, position: token.pos };
  if (token.raw === '*') {
    throw new SearchSyntaxError(field ? `"${field.name}:*" is not supported; use _exists_:${field.name}` : 'a lone "*" is not supported', token.pos);
  }
  const misplaced = first.index !== token.value.length - 1 ? first : more[0];
  if (misplaced) throw new SearchSyntaxError('a wildcard is only supported at the end of a term (prefix search)', misplaced.pos);
  return { kind: 'prefix', field, prefix: token.value.slice(0, -1), position: token.pos };
}

/**
 * Joins one level's clauses. Positive clauses are joined by the level's
 * operator (AND if any explicit AND, else OR — explicit or implied); NOT
 * clauses exclude. Refuses the combinations on which Lucene's clause model
 * and boolean precedence disagree.
 */
function combine(items: readonly Item[]): SearchNode {
  let level: 'and' | 'or' | null = null;
  for (const [k, item] of items.entries()) {
    if (item.connector === 'or' && item.negated) {
      throw new SearchSyntaxError('"OR NOT" is ambiguous (Lucene reads it as AND NOT); write "AND NOT …" or "OR (NOT …)"', item.connectorPos);
    }
    const following = items[k + 1];
    if (item.negated && following?.connector === 'or') {
      throw new SearchSyntaxError('a NOT clause cannot be followed by OR (Lucene reads "NOT a OR b" as "b AND NOT a"); add parentheses', following.connectorPos);
    }
    const kind = item.connector === 'and' ? 'and' : item.connector === 'or' || (item.connector === 'implicit' && !item.negated) ? 'or' : null;
    if (kind === null) continue;
    if (level !== null && level !== kind) {
      throw new SearchSyntaxError(
        item.connector === 'implicit'
          ? 'expected AND between these clauses (clauses without an operator mean OR, which cannot be mixed with AND at one level; add parentheses)'
          : 'AND and OR cannot be mixed at one level; add parentheses',
        item.connectorPos,
      );
    }
    level = kind;
  }
  const positives = items.filter((item) => !item.negated).map((item) => item.node);
  const negatives: SearchNode[] = items.filter((item) => item.negated).map((item) => ({ kind: 'not', operand: item.node }));
  const operator: 'and' | 'or' = level ?? 'or';
  const joined: SearchNode[] = positives.length <= 1 ? positives : [{ kind: operator, operands: positives }];
  const operands = operator === 'and' ? [...positives, ...negatives] : [...joined, ...negatives];
  return operands.length === 1 ? (operands[0] as SearchNode) : { kind: 'and', operands };
}

/** Parses a search query; throws SearchSyntaxError, and nothing else, on any input it refuses. */
export function parseSearchQuery(query: string): SearchNode {
  if (query.length > SEARCH_LIMITS.maxLength) {
    throw new SearchSyntaxError(`the query is longer than ${SEARCH_LIMITS.maxLength} characters`, SEARCH_LIMITS.maxLength);
  }
  // PostgreSQL text cannot hold NUL; refuse it here rather than fail in the driver.
  const nul = query.indexOf('\u0000');
  if (nul !== -1) throw new SearchSyntaxError('NUL characters are not allowed', nul);
  // An unpaired surrogate has no UTF-8 form: PostgreSQL would see U+FFFD, a jsonpath escape would fail.
  const unpaired = UNPAIRED_SURROGATE.exec(query);
  if (unpaired) throw new SearchSyntaxError('unpaired UTF-16 surrogate', unpaired.index);
  return new Parser(tokenize(query)).parse();
}
