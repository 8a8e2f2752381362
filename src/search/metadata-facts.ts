import { createHash } from 'node:crypto';

/**
 * One searchable fact of a metadata document (for users: table user_metadata_values, migration 0009): at `path` (member names joined with `.`, array levels
 * skipped as Auth0 skips them) there is a text, number or boolean `value`, or
 * — kind `object` — a non-empty object (what `_exists_` finds). Numbers are
 * kept as JavaScript's canonical text of the number, so `3`, `3.0` and `3e0`
 * are one value; texts longer than INDEXED_TEXT_MAX bytes are kept as their
 * SHA-256 (kind `text_sha256`), and such paths likewise (indexedPath), so
 * that every row fits a B-tree index entry.
 */
export interface MetadataValue {
  readonly path: string;
  readonly kind: 'text' | 'text_sha256' | 'number' | 'boolean' | 'object';
  readonly value: string;
}

/**
 * Texts and paths longer than this many UTF-8 bytes are indexed by hash: a
 * PostgreSQL B-tree entry holds at most ~2.7 kB, and metadata keys may be 255
 * characters on up to 10 levels.
 */
export const INDEXED_TEXT_MAX = 256;

const bytes = (text: string) => Buffer.byteLength(text, 'utf8');

/** A text value as stored and searched: itself, or its SHA-256 when too long to index. */
export function indexedText(value: string): { kind: 'text' | 'text_sha256'; value: string } {
  return bytes(value) > INDEXED_TEXT_MAX ? { kind: 'text_sha256', value: sha256(value) } : { kind: 'text', value };
}

/**
 * A path as stored and searched: itself, or `$sha256:<hex>` when too long to
 * index (no real path starts with `$`: metadata names may not).
 */
export function indexedPath(path: string): string {
  return bytes(path) > INDEXED_TEXT_MAX ? `$sha256:${sha256(path)}` : path;
}

/** The facts of one metadata document, without duplicates. Nulls, empty objects and empty arrays are not searchable (Auth0). */
export function metadataValues(document: Record<string, unknown>): MetadataValue[] {
  const found = new Map<string, MetadataValue>();
  const add = (fact: MetadataValue) => {
    const stored = { ...fact, path: indexedPath(fact.path) };
    found.set(`${stored.kind}\u0000${stored.path}\u0000${stored.value}`, stored);
  };
  /** Returns whether anything searchable lies at or below `value`. */
  const walk = (path: string, value: unknown): boolean => {
    if (Array.isArray(value)) {
      let any = false;
      for (const element of value) any = walk(path, element) || any;
      return any;
    }
    if (value === null || value === undefined) return false;
    switch (typeof value) {
      case 'string':
        add({ path, ...indexedText(value) });
        return true;
      case 'number':
        if (!Number.isFinite(value)) return false;
        add({ path, kind: 'number', value: String(value) });
        return true;
      case 'boolean':
        add({ path, kind: 'boolean', value: String(value) });
        return true;
      case 'object': {
        let any = false;
        for (const [key, inner] of Object.entries(value)) any = walk(path === '' ? key : `${path}.${key}`, inner) || any;
        if (any && path !== '') add({ path, kind: 'object', value: '' });
        return any;
      }
      default:
        return false;
    }
  };
  walk('', document);
  return [...found.values()];
}

/** How a text too long to index is indexed (and searched for). */
export function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}
