import { z } from 'zod';

/** Auth0's boolean query values: `true` / `false` (strings on the wire). */
export const booleanQuery = z.union([z.boolean(), z.enum(['true', 'false']).transform((v) => v === 'true')]);

/** Auth0 paging: `page` from 0, `per_page` up to 100 (default 50), `include_totals`. */
export const pagingQuery = {
  page: z.coerce.number().int().min(0).max(100_000).default(0),
  per_page: z.coerce.number().int().min(1).max(100).default(50),
  include_totals: booleanQuery.default(false),
};

/** Auth0 field selection: `fields` (comma-separated) with `include_fields` (default true). */
export const fieldsQuery = {
  fields: z.string().max(2000).optional(),
  include_fields: booleanQuery.default(true),
};

export interface Paging {
  readonly page: number;
  readonly per_page: number;
  readonly include_totals: boolean;
}

export const offsetOf = (paging: Paging) => ({ offset: paging.page * paging.per_page, limit: paging.per_page });

/** An id in a path: bounded, printable, no slash (Fastify already split on it). */
export const pathId = z.string().min(1).max(256).regex(/^\S+$/, 'Invalid id').refine((v) => !v.includes('\u0000'), 'Invalid id');

/** One page of a list already in memory, in the router's Page shape (total = the whole list). */
export function pageOf<T, R = T>(all: readonly T[], paging: Paging, map: (item: T) => R = (item) => item as unknown as R) {
  const { offset, limit } = offsetOf(paging);
  return { items: all.slice(offset, offset + limit).map(map), start: offset, limit, total: all.length };
}
