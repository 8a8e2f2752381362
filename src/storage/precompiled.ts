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
 * A hot read built with Kysely once per executor and then reused: `build`
 * runs with placeholder strings for the arguments, the compiled SQL is kept,
 * and each call only binds the new values (Kysely otherwise rebuilds and
 * recompiles the query on every call — a sizeable part of a small read's CPU).
 * The query must be the same for every argument value (no branching on the
 * arguments), and every argument must reach the query as a bound parameter;
 * both are checked when the template is made.
 */
export function precompiled<R>(build: (db: Executor, ...args: string[]) => Compilable<R>, arity: number) {
  const templates = new WeakMap<Executor, Template>();

  function template(db: Executor): Template {
    let found = templates.get(db);
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
    templates.set(db, found);
    return found;
  }

  return async function execute(db: Executor, ...args: string[]): Promise<R[]> {
    if (args.length !== arity) throw new Error(`precompiled query: expected ${arity} arguments, got ${args.length}`);
    const { sql, slots } = template(db);
    const parameters = slots.map((slot) => ('arg' in slot ? args[slot.arg] : slot.value));
    const result = await db.executeQuery<R>(CompiledQuery.raw(sql, parameters));
    return result.rows;
  };
}
