import type { Counter, CounterStore } from './counters.js';

/** The endpoint families with a per-tenant request budget. */
export type RateLimitFamily = 'token' | 'login' | 'management';

export type RateLimitBudgets = Readonly<Record<RateLimitFamily, number>>;

const LOGIN_POSTS = new Set(['/u/login', '/u/login/signup', '/dbconnections/signup']);

/** Which family a request belongs to, from its method and path alone (cheap: no route lookup). */
export function familyOf(method: string, url: string): RateLimitFamily | undefined {
  if (url.startsWith('/api/v2/')) return 'management';
  if (method !== 'POST') return undefined;
  const query = url.indexOf('?');
  const path = query === -1 ? url : url.slice(0, query);
  if (path === '/oauth/token') return 'token';
  if (LOGIN_POSTS.has(path)) return 'login';
  return undefined;
}

export interface RateLimitVerdict {
  readonly allowed: boolean;
  readonly limit: number;
  readonly remaining: number;
  /** UNIX time (seconds) at which the window ends (X-RateLimit-Reset, as Auth0 sends it). */
  readonly resetAt: number;
  readonly retryAfterSeconds: number;
  /** True for exactly one request per window and key: the first one refused (it reports `api_limit`). */
  readonly firstRefused: boolean;
}

/**
 * Requests per second per tenant and endpoint family (RATE_LIMIT_*_PER_SECOND;
 * 0 turns a family off). One atomic counter add per request: the cost on
 * the token endpoint's hot path is a Map update in memory, one Redis round
 * trip in distributed mode.
 */
export class RateLimits {
  readonly #counters: Partial<Record<RateLimitFamily, Counter>> = {};

  constructor(
    store: CounterStore,
    private readonly budgets: RateLimitBudgets,
  ) {
    for (const family of Object.keys(budgets) as RateLimitFamily[]) {
      if (budgets[family] > 0) this.#counters[family] = store.counter(`rl-${family}`, 1);
    }
  }

  async check(family: RateLimitFamily, tenantId: string): Promise<RateLimitVerdict | undefined> {
    const counter = this.#counters[family];
    if (!counter) return undefined;
    const limit = this.budgets[family];
    const state = await counter.add(tenantId);
    const resetInMs = Math.max(state.resetInMs, 1);
    return {
      allowed: state.count <= limit,
      limit,
      remaining: Math.max(0, limit - state.count),
      resetAt: Math.ceil((Date.now() + resetInMs) / 1000),
      retryAfterSeconds: Math.max(1, Math.ceil(resetInMs / 1000)),
      firstRefused: state.count === limit + 1,
    };
  }
}
