import { SearchSyntaxError } from './errors.js';

const INTEGER = /^-?\d{1,10}$/;
/** Number fields are integer columns (PostgreSQL `integer`): a bound value outside it would fail in the driver. */
const INT32_MAX = 2_147_483_647;

export function parseInteger(value: string, position: number): number {
  const n = INTEGER.test(value) ? Number(value) : Number.NaN;
  if (!(Math.abs(n) <= INT32_MAX)) throw new SearchSyntaxError(`expected an integer between -${INT32_MAX} and ${INT32_MAX}, got "${value}"`, position);
  return n;
}

export function parseBoolean(value: string, position: number): boolean {
  if (value === 'true') return true;
  if (value === 'false') return false;
  throw new SearchSyntaxError(`expected true or false, got "${value}"`, position);
}

/**
 * A date or date-time names an interval as long as its precision: a day for
 * `2024-01-31`, a minute for `2024-01-31T10:15`, a second, a millisecond.
 * `start` is inclusive, `end` exclusive; both are ISO-8601 UTC strings in the
 * stored format (`toISOString()`), so they compare as text with the columns
 * (docs/decisions/003-storage-conventions.md).
 */
export interface DateInterval {
  readonly start: string;
  readonly end: string;
}

const DATE = /^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,3}))?)?(Z|[+-]\d{2}:\d{2})?)?$/;

export function parseDate(value: string, position: number): DateInterval {
  const m = DATE.exec(value);
  const refuse = () => new SearchSyntaxError(`expected a date (YYYY-MM-DD) or date-time (YYYY-MM-DDTHH:MM[:SS[.sss]][Z|±HH:MM]), got "${value}"`, position);
  if (!m) throw refuse();
  const [, y, mo, d, h, mi, s, ms, zone] = m;
  const parts = [Number(y), Number(mo) - 1, Number(d), Number(h ?? 0), Number(mi ?? 0), Number(s ?? 0), Number((ms ?? '0').padEnd(3, '0'))] as const;
  const utc = Date.UTC(...parts);
  const check = new Date(utc);
  // Date.UTC rolls 2024-02-30 over to March; a real date survives the round trip.
  if (check.getUTCFullYear() !== parts[0] || check.getUTCMonth() !== parts[1] || check.getUTCDate() !== parts[2] || parts[3] > 23 || parts[4] > 59 || parts[5] > 59) {
    throw refuse();
  }
  let offsetMinutes = 0;
  if (zone && zone !== 'Z') {
    const sign = zone.startsWith('-') ? -1 : 1;
    const [zh, zm] = zone.slice(1).split(':').map(Number) as [number, number];
    if (zh > 23 || zm > 59) throw refuse();
    offsetMinutes = sign * (zh * 60 + zm);
  }
  const start = utc - offsetMinutes * 60_000;
  const unit = h === undefined ? 86_400_000 : s === undefined ? 60_000 : ms === undefined ? 1000 : 1;
  const startDate = new Date(start);
  const endDate = new Date(start + unit);
  if (Number.isNaN(startDate.getTime()) || Number.isNaN(endDate.getTime()) || startDate.getUTCFullYear() < 1 || endDate.getUTCFullYear() > 9999) throw refuse();
  return { start: startDate.toISOString(), end: endDate.toISOString() };
}
