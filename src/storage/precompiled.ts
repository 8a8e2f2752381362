import { CompiledQuery, type Compilable } from 'kysely';
import type { Executor } from './transaction.js';

/** Stand-ins for the arguments while the query is compiled; never sent to a database. */
const sentinel = (index: number) => `\u0000precompiled-argument-${index}\u0000`;

interface Template {
  readonly sql: string;
  /** Per compiled parameter: the argument index it takes, or the constant it was compiled with. */
  readonly slots: ReadonlyArray<{ readonly arg: number } | { readonly value: unknown }>;
}

/**
 * A hot statement built with Kysely once per dialect and then reused:
 * `build` runs with placeholder strings for the arguments, the compiled SQL
 * is kept, and each call only binds the new values (Kysely otherwise rebuilds
 * and recompiles the query on every call — a sizeable part of a small
 * statement's CPU). The query must be the same for every argument value (no
 * branching on the arguments), and every argument must reach the query as a
 * bound parameter; both are checked when the template is made. Templates are
 * kept per dialect adapter, which a database and its transactions share, so
 * a statement run inside transactions is compiled once too. Arguments are
 * bound as given (numbers stay numbers); `build` sees strings, so a number
 * column takes its placeholder through a cast.
 */
export function precompiled<R>(build: (db: Executor, ...args: string[]) => Compilable<R>, arity: number) {
  const templates = new WeakMap<object, Template>();

  function template(db: Executor): Template {
    const dialect = db.getExecutor().adapter;
    let found = templates.get(dialect);
    if (found) return found;
    const placeholders = Array.from({ length: arity }, (_, i) => sentinel(i));
    const compiled = build(db, ...placeholders).compile();
    const slots = compiled.parameters.map((value) => {
      const arg = typeof value === 'string' ? placeholders.indexOf(value) : -1;
      return arg >= 0 ? { arg } : { value };
    });
    for (let i = 0; i < arity; i++) {
      if (!slots.some((slot) => 'arg' in slot && slot.arg === i)) throw new Error(`precompiled query: argument ${i} is not a bound parameter`);
    }
    found = { sql: compiled.sql, slots };
    templates.set(dialect, found);
    return found;
  }

  return async function execute(db: Executor, ...args: unknown[]): Promise<R[]> {
    if (args.length !== arity) throw new Error(`precompiled query: expected ${arity} arguments, got ${args.length}`);
    const { sql, slots } = template(db);
    const parameters = slots.map((slot) => ('arg' in slot ? args[slot.arg] : slot.value));
    const result = await db.executeQuery<R>(CompiledQuery.raw(sql, parameters));
    return result.rows;
  };
}
