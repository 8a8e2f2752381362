import { sql, type RawBuilder, type SqlBool } from 'kysely';
import { searchDialect, type SearchDialect, type SearchDialectName } from './dialect.js';
import { SearchSyntaxError } from './errors.js';
import { indexedPath, indexedText } from './metadata-facts.js';
import type { FieldRef, PrefixNode, RangeNode, SearchNode, TermNode } from './lucene.js';
import { parseBoolean, parseDate, parseInteger } from './values.js';

export type { SearchDialectName };
/** `number` fields are integer columns. */
export type SearchFieldType = 'string' | 'number' | 'date' | 'boolean';

/** How one searchable field maps onto SQL. */
export interface SearchField {
  readonly type: SearchFieldType;
  /** The column compared (qualified, e.g. `users.email`). */
  readonly column: string;
  /** A column holding the value lower-cased by the writer: the field matches case-insensitively. */
  readonly caseInsensitive?: string;
  /**
   * Wraps the predicate on `column` when the column lives in a related table,
   * e.g. `users.user_id in (select … where <predicate>)`. The predicate never
   * answers NULL, and neither must the wrapper.
   */
  readonly through?: (predicate: RawBuilder<SqlBool>) => RawBuilder<SqlBool>;
}

export interface SearchSchema {
  readonly fields: Readonly<Record<string, SearchField>>;
  /**
   * Field roots searched by dotted path: `app_metadata.plan`. Exact match and
   * _exists_ only. The schema says how a fact is looked up (for users: the
   * indexed table user_metadata_values, src/users/metadata-values.ts).
   */
  readonly metadata?: Readonly<Record<string, MetadataLookup>>;
  /** Fields a term without a field searches (any of them); without it such a term is refused. */
  readonly defaultFields?: readonly string[];
}

/** One searchable fact at a metadata path, as src/users/metadata-values.ts stores it. */
export interface MetadataFact {
  readonly kind: 'text' | 'text_sha256' | 'number' | 'boolean';
  readonly value: string;
}

export interface MetadataLookup {
  /** Rows holding any of `facts` at `path` (member names joined with `.`). Never NULL. */
  readonly matches: (path: string, facts: readonly MetadataFact[]) => RawBuilder<SqlBool>;
  /** Rows holding a searchable value (or a non-empty object) at `path`. Never NULL. */
  readonly exists: (path: string) => RawBuilder<SqlBool>;
}

/** At most this many path segments below a metadata root. */
export const MAX_METADATA_DEPTH = 8;
const METADATA_SEGMENT = /^[\p{L}\p{N}_-]+$/u;
const NUMERIC = /^-?\d{1,15}(\.\d{1,15})?$/;

type Target = { readonly kind: 'field'; readonly name: string; readonly field: SearchField } | { readonly kind: 'metadata'; readonly lookup: MetadataLookup; readonly path: string };

/**
 * Compiles a parsed query into a boolean SQL expression over the schema's
 * columns. Every value is a bound parameter. Every predicate answers TRUE or
 * FALSE, never NULL (nullable columns are tested with IS NOT NULL), so NOT
 * excludes exactly the rows that match, as in Lucene. Type errors throw
 * SearchSyntaxError at the value's position.
 */
export function compileSearch(node: SearchNode, schema: SearchSchema, dialectName: SearchDialectName): RawBuilder<SqlBool> {
  return new Compiler(schema, searchDialect(dialectName)).compile(node);
}

class Compiler {
  constructor(
    private readonly schema: SearchSchema,
    private readonly dialect: SearchDialect,
  ) {}

  compile(node: SearchNode): RawBuilder<SqlBool> {
    switch (node.kind) {
      case 'and':
      case 'or':
        return sql<SqlBool>`(${sql.join(
          node.operands.map((operand) => this.compile(operand)),
          node.kind === 'and' ? sql` and ` : sql` or `,
        )})`;
      case 'not':
        return sql<SqlBool>`not (${this.compile(node.operand)})`;
      case 'exists': {
        const target = this.target(node.field);
        if (target.kind === 'metadata') return target.lookup.exists(target.path);
        return this.through(target.field, sql<SqlBool>`${sql.ref(target.field.column)} is not null`);
      }
      default:
        return this.valueClause(node);
    }
  }

  /** A term, prefix or range: on its field, or on every default field when it has none. */
  private valueClause(node: TermNode | PrefixNode | RangeNode): RawBuilder<SqlBool> {
    if (node.field) return this.onTarget(this.target(node.field), node);
    const defaults = this.schema.defaultFields ?? [];
    if (defaults.length === 0) {
      const what = node.kind === 'range' ? 'a range' : `"${node.kind === 'prefix' ? `${node.prefix}*` : node.value}"`;
      throw new SearchSyntaxError(`expected a field name before ${what} (e.g. name:${node.kind === 'term' && !node.phrase ? node.value : '…'}); terms without a field are not supported`, node.position);
    }
    const clauses = defaults.map((name) => this.onTarget(this.target({ name, position: node.position }), node));
    return sql<SqlBool>`(${sql.join(clauses, sql` or `)})`;
  }

  private target(ref: FieldRef): Target {
    if (Object.hasOwn(this.schema.fields, ref.name)) return { kind: 'field', name: ref.name, field: this.schema.fields[ref.name] as SearchField };
    const [root = '', ...path] = ref.name.split('.');
    const metadata = this.schema.metadata;
    if (metadata && Object.hasOwn(metadata, root)) {
      if (path.length === 0) throw new SearchSyntaxError(`expected a field inside ${root} (e.g. ${root}.plan)`, ref.position + ref.name.length);
      if (path.length > MAX_METADATA_DEPTH) throw new SearchSyntaxError(`${root} paths are limited to ${MAX_METADATA_DEPTH} levels`, ref.position);
      const bad = path.findIndex((segment) => !METADATA_SEGMENT.test(segment));
      if (bad !== -1) throw new SearchSyntaxError(`"${ref.name}" is not a valid ${root} path (names are letters, digits, "_" and "-")`, ref.position);
      return { kind: 'metadata', lookup: metadata[root] as MetadataLookup, path: indexedPath(path.join('.')) };
    }
    throw new SearchSyntaxError(`unknown field "${ref.name}"`, ref.position);
  }

  private onTarget(target: Target, node: TermNode | PrefixNode | RangeNode): RawBuilder<SqlBool> {
    if (target.kind === 'metadata') {
      // Auth0: "Range and wildcard searches are not available on user metadata fields."
      if (node.kind !== 'term') throw new SearchSyntaxError(`${node.kind === 'range' ? 'range' : 'wildcard'} searches are not available on metadata fields`, node.position);
      return target.lookup.matches(target.path, metadataFacts(node.value));
    }
    const { field, name } = target;
    switch (field.type) {
      case 'string':
        return this.through(field, this.stringClause(field, name, node));
      case 'number':
        return this.through(field, this.numberClause(field, name, node));
      case 'date':
        return this.through(field, this.dateClause(field, name, node));
      case 'boolean':
        if (node.kind !== 'term') throw new SearchSyntaxError(`${name} is a boolean field: expected true or false`, node.position);
        return this.through(field, sql<SqlBool>`${sql.ref(field.column)} = ${parseBoolean(node.value, node.position)}`);
    }
  }

  private through(field: SearchField, predicate: RawBuilder<SqlBool>): RawBuilder<SqlBool> {
    return field.through ? field.through(predicate) : predicate;
  }

  private stringClause(field: SearchField, name: string, node: TermNode | PrefixNode | RangeNode): RawBuilder<SqlBool> {
    if (node.kind === 'range') throw new SearchSyntaxError(`range searches are only supported on number and date fields, not on ${name}`, node.position);
    const column = field.caseInsensitive ?? field.column;
    const fold = (value: string) => (field.caseInsensitive ? value.toLowerCase() : value);
    const text = this.dialect.orderedText(column);
    const present = sql`${sql.ref(column)} is not null`;
    if (node.kind === 'term') return sql<SqlBool>`(${text} = ${fold(node.value)} and ${present})`;
    // A prefix is the half-open range [prefix, successor): a B-tree range scan.
    const prefix = fold(node.prefix);
    const upper = successor(prefix);
    return upper === null ? sql<SqlBool>`(${text} >= ${prefix} and ${present})` : sql<SqlBool>`(${text} >= ${prefix} and ${text} < ${upper} and ${present})`;
  }

  private numberClause(field: SearchField, name: string, node: TermNode | PrefixNode | RangeNode): RawBuilder<SqlBool> {
    const column = sql.ref(field.column);
    const present = sql`${column} is not null`;
    if (node.kind === 'prefix') throw new SearchSyntaxError(`wildcards are not supported on ${name} (a number); use a range`, node.position);
    if (node.kind === 'term') return sql<SqlBool>`(${column} = ${parseInteger(node.value, node.position)} and ${present})`;
    const parts: RawBuilder<unknown>[] = [present];
    if (node.lower) parts.push(sql`${column} ${sql.raw(node.lower.inclusive ? '>=' : '>')} ${parseInteger(node.lower.value, node.lower.position)}`);
    if (node.upper) parts.push(sql`${column} ${sql.raw(node.upper.inclusive ? '<=' : '<')} ${parseInteger(node.upper.value, node.upper.position)}`);
    return sql<SqlBool>`(${sql.join(parts, sql` and `)})`;
  }

  /** Dates compare as ISO-8601 text; a value stands for the interval of its precision (values.ts). */
  private dateClause(field: SearchField, name: string, node: TermNode | PrefixNode | RangeNode): RawBuilder<SqlBool> {
    const column = sql.ref(field.column);
    const present = sql`${column} is not null`;
    if (node.kind === 'prefix') throw new SearchSyntaxError(`wildcards are not supported on ${name} (a date); use a range`, node.position);
    if (node.kind === 'term') {
      const day = parseDate(node.value, node.position);
      return sql<SqlBool>`(${column} >= ${day.start} and ${column} < ${day.end} and ${present})`;
    }
    const parts: RawBuilder<unknown>[] = [present];
    if (node.lower) {
      const lower = parseDate(node.lower.value, node.lower.position);
      parts.push(sql`${column} >= ${node.lower.inclusive ? lower.start : lower.end}`);
    }
    if (node.upper) {
      const upper = parseDate(node.upper.value, node.upper.position);
      parts.push(sql`${column} < ${node.upper.inclusive ? upper.end : upper.start}`);
    }
    return sql<SqlBool>`(${sql.join(parts, sql` and `)})`;
  }
}

/**
 * What a metadata value may equal: the text itself, and the number or boolean
 * it spells (metadata is JSON; `app_metadata.count:3` finds 3 and "3"), in
 * the form the facts are stored (numbers as JavaScript's canonical text, long
 * texts by hash: src/users/metadata-values.ts).
 */
function metadataFacts(value: string): MetadataFact[] {
  const facts: MetadataFact[] = [indexedText(value)];
  if (NUMERIC.test(value)) facts.push({ kind: 'number', value: String(Number(value)) });
  if (value === 'true' || value === 'false') facts.push({ kind: 'boolean', value });
  return facts;
}

/**
 * The smallest string greater than every string that starts with `prefix`,
 * in code-point order: the last code point plus one (skipping surrogates);
 * null when there is none (every code point is U+10FFFF).
 */
export function successor(prefix: string): string | null {
  const points = Array.from(prefix, (c) => c.codePointAt(0) as number);
  while (points.length > 0) {
    const last = (points.pop() as number) + 1;
    if (last <= 0x10ffff) {
      points.push(last === 0xd800 ? 0xe000 : last);
      return String.fromCodePoint(...points);
    }
  }
  return null;
}
