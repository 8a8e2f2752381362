import { sql, type RawBuilder, type SqlBool } from 'kysely';

export type SearchDialectName = 'sqlite' | 'postgres';
export type JsonScalar = string | number | boolean;

/**
 * The SQL that differs between the backends, in one place (the compiler
 * itself has no `if (postgres)`).
 */
export interface SearchDialect {
  /**
   * A text column compared in code-point order, so that `col >= 'jo' AND
   * col < 'jp'` is exactly "starts with jo". SQLite's default BINARY collation
   * already is; PostgreSQL's database collation may not be (en_US ignores
   * punctuation at first level), so comparisons say COLLATE "C" and the
   * search indexes are built with the same collation (migration 0003).
   */
  orderedText(column: string): RawBuilder<unknown>;
  /** The JSON document in `column` holds one of `candidates` at `path`, array levels skipped. */
  jsonMatches(column: string, path: readonly string[], candidates: readonly JsonScalar[]): RawBuilder<SqlBool>;
  /** The JSON document in `column` holds a non-null value at `path`, array levels skipped. */
  jsonExists(column: string, path: readonly string[]): RawBuilder<SqlBool>;
}

/** A JSONPath of quoted member names; segments are restricted to letters, digits, `_` and `-` by the compiler. */
const jsonPath = (path: readonly string[]) => '$' + path.map((segment) => `.${JSON.stringify(segment)}`).join('');
const jsonLiteral = (value: JsonScalar) => (typeof value === 'string' ? JSON.stringify(value) : String(value));

/**
 * PostgreSQL: a jsonpath filter in lax mode, which unwraps arrays at every
 * step (`$.addresses.city` reaches the city of each address). `@?` never
 * answers NULL (a filter that is unknown just selects nothing), so NOT stays
 * two-valued, and a GIN `jsonb_path_ops` index serves `@?` with equality
 * filters. The path is a bound parameter, never SQL text.
 */
const postgres: SearchDialect = {
  orderedText: (column) => sql`${sql.ref(column)} collate "C"`,
  jsonMatches(column, path, candidates) {
    const filter = candidates.map((value) => `@ == ${jsonLiteral(value)}`).join(' || ');
    return sql<SqlBool>`${sql.ref(column)} @? cast(${`${jsonPath(path)} ? (${filter})`} as jsonpath)`;
  },
  jsonExists: (column, path) => sql<SqlBool>`${sql.ref(column)} @? cast(${`${jsonPath(path)} ? (@ != null)`} as jsonpath)`,
};

/**
 * SQLite: one `json_each` per path segment. At each step, if the value at the
 * step is an array its elements are walked, otherwise the member itself is
 * taken from its parent object — so arrays are skipped as Auth0 skips them.
 * `fullkey` (SQLite's own path of the row) carries the position to the next
 * step. Evaluated per row of the tenant: SQLite has no general JSON index.
 */
function sqliteChain(column: string, path: readonly string[], leaf: (row: RawBuilder<unknown>) => RawBuilder<SqlBool>): RawBuilder<SqlBool> {
  const doc = sql.ref(column);
  const from: RawBuilder<unknown>[] = [];
  const where: RawBuilder<unknown>[] = [];
  let base: RawBuilder<unknown> = sql`${'$'}`;
  let row: RawBuilder<unknown> = base;
  path.forEach((segment, i) => {
    row = sql.raw(`j${i}`);
    const step = sql`(${base} || ${`.${JSON.stringify(segment)}`})`;
    const isArray = sql`json_type(${doc}, ${step}) = 'array'`;
    from.push(sql`json_each(${doc}, case when ${isArray} then ${step} else ${base} end) as ${row}`);
    where.push(sql`(${isArray} or ${row}.key = ${segment})`);
    if (i < path.length - 1) where.push(sql`${row}.type = 'object'`);
    base = sql`${row}.fullkey`;
  });
  where.push(leaf(row));
  return sql<SqlBool>`exists (select 1 from ${sql.join(from, sql`, `)} where ${sql.join(where, sql` and `)})`;
}

function sqliteScalarEquals(row: RawBuilder<unknown>, value: JsonScalar): RawBuilder<SqlBool> {
  if (typeof value === 'string') return sql<SqlBool>`(${row}.type = 'text' and ${row}.atom = ${value})`;
  if (typeof value === 'number') return sql<SqlBool>`(${row}.type in ('integer', 'real') and ${row}.atom = ${value})`;
  return sql<SqlBool>`${row}.type = ${value ? 'true' : 'false'}`;
}

const sqlite: SearchDialect = {
  orderedText: (column) => sql.ref(column),
  jsonMatches: (column, path, candidates) =>
    sqliteChain(column, path, (row) => sql<SqlBool>`(${sql.join(
      candidates.map((value) => sqliteScalarEquals(row, value)),
      sql` or `,
    )})`),
  jsonExists: (column, path) => sqliteChain(column, path, (row) => sql<SqlBool>`${row}.type <> 'null'`),
};

export function searchDialect(name: SearchDialectName): SearchDialect {
  return name === 'postgres' ? postgres : sqlite;
}
