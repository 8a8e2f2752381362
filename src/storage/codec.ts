/** Reads a JSON column: PostgreSQL (jsonb) hands back parsed values, SQLite text. */
export function decodeJson<T>(value: unknown, fallback: T): T {
  if (value === null || value === undefined) return fallback;
  if (typeof value === 'string') return JSON.parse(value) as T;
  return value as T;
}

export function encodeJson(value: unknown): string {
  return JSON.stringify(value ?? null);
}

/** Reads a boolean column: PostgreSQL returns booleans, SQLite 0/1. */
export function decodeBool(value: boolean | number | null | undefined): boolean {
  return value === true || value === 1;
}
