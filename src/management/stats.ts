import { z } from 'zod';
import { HttpError } from '../http/errors.js';
import { logsStore } from '../logs/store.js';
import type { Executor } from '../storage/transaction.js';
import type { ManagementDeps } from './plugin.js';
import type { ManagementRouter } from './route.js';

const DAY_MS = 86_400_000;
/** Auth0: "users that logged in during the last 30 days". */
const ACTIVE_WINDOW_DAYS = 30;
/** A daily-stats request spans at most this many days (each day is a row of the answer). */
export const MAX_DAILY_RANGE_DAYS = 90;
/** When `from` is not given: the last 30 days up to `to`. */
const DEFAULT_DAILY_RANGE_DAYS = 30;

/** The log event types each daily figure counts (Auth0's codes). */
const COUNTED = { logins: 's', signups: 'ss', leaked_passwords: 'pwd_leak' } as const;

/**
 * Users of the tenant whose last login is at or after `sinceIso`. It reads
 * the users table directly because the users store has no count by last
 * login yet; it belongs there (src/users/store.ts), tenant filter included.
 */
async function countUsersActiveSince(db: Executor, tenantId: string, sinceIso: string): Promise<number> {
  const row = await db
    .selectFrom('users')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('tenant_id', '=', tenantId)
    .where('last_login', '>=', sinceIso)
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

/** `YYYYMMDD` as the UTC midnight it names; a day that does not exist (20240230) is refused. */
const dayParam = z
  .string()
  .regex(/^\d{8}$/, 'must be a date in YYYYMMDD format')
  .transform((value, ctx) => {
    const [y, m, d] = [Number(value.slice(0, 4)), Number(value.slice(4, 6)), Number(value.slice(6, 8))];
    const date = new Date(Date.UTC(y, m - 1, d));
    if (date.getUTCFullYear() !== y || date.getUTCMonth() !== m - 1 || date.getUTCDate() !== d || y < 1970) {
      ctx.addIssue({ code: 'custom', message: `${value} is not a date` });
      return z.NEVER;
    }
    return date.getTime();
  });

export const dailyStatsSchema = z.object({
  date: z.string(),
  logins: z.number().int(),
  signups: z.number().int(),
  leaked_passwords: z.number().int(),
  /** The first and last counted event of the day; absent on a day without any. */
  created_at: z.string().optional(),
  updated_at: z.string().optional(),
});
type DailyStats = z.infer<typeof dailyStatsSchema>;

/** `/api/v2/stats/active-users` and `/api/v2/stats/daily`. */
export function registerStatsRoutes(router: ManagementRouter, deps: ManagementDeps): void {
  const { database, services } = deps;

  router.add({
    method: 'GET',
    path: '/stats/active-users',
    summary: 'Get the number of active users (logged in during the last 30 days)',
    scopes: ['read:stats'],
    response: z.number().int(),
    async handler({ tenant }) {
      const since = new Date(services.runtime.now().getTime() - ACTIVE_WINDOW_DAYS * DAY_MS).toISOString();
      return countUsersActiveSince(database.db, tenant.id, since);
    },
  });

  router.add({
    method: 'GET',
    path: '/stats/daily',
    summary: 'Get daily stats (logins, signups, breached-password detections) for a date range',
    scopes: ['read:stats'],
    query: z.object({ from: dayParam.optional(), to: dayParam.optional() }),
    response: z.array(dailyStatsSchema),
    async handler({ query, tenant }) {
      const now = services.runtime.now();
      const today = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate());
      const to = query.to ?? today;
      const from = query.from ?? to - (DEFAULT_DAILY_RANGE_DAYS - 1) * DAY_MS;
      if (from > to) throw new HttpError(400, "Query validation error: 'from must not be after to' on property from.", 'invalid_query_string');
      const days = (to - from) / DAY_MS + 1;
      if (days > MAX_DAILY_RANGE_DAYS) {
        throw new HttpError(400, `Query validation error: 'The range is ${days} days; at most ${MAX_DAILY_RANGE_DAYS} days can be asked at once' on property to.`, 'invalid_query_string');
      }
      const counts = await logsStore(database.db, tenant.id, services.runtime).dailyCounts(Object.values(COUNTED), new Date(from).toISOString(), new Date(to + DAY_MS).toISOString());
      const result: DailyStats[] = [];
      for (let day = from; day <= to; day += DAY_MS) {
        const date = new Date(day).toISOString();
        const ofDay = counts.filter((c) => c.day === date.slice(0, 10));
        const count = (type: string) => ofDay.find((c) => c.type === type)?.count ?? 0;
        const first = ofDay.map((c) => c.first).sort()[0];
        const last = ofDay.map((c) => c.last).sort().at(-1);
        result.push({
          date,
          logins: count(COUNTED.logins),
          signups: count(COUNTED.signups),
          leaked_passwords: count(COUNTED.leaked_passwords),
          ...(first ? { created_at: first } : {}),
          ...(last ? { updated_at: last } : {}),
        });
      }
      return result;
    },
  });
}
