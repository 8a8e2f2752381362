import { sql, type RawBuilder } from 'kysely';

export type SearchDialectName = 'sqlite' | 'postgres';

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
}

const postgres: SearchDialect = {
  orderedText: (column) => sql`${sql.ref(column)} collate "C"`,
};

const sqlite: SearchDialect = {
  orderedText: (column) => sql.ref(column),
};

export function searchDialect(name: SearchDialectName): SearchDialect {
  return name === 'postgres' ? postgres : sqlite;
}
