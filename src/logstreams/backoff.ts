/**
 * Retry delay after the `attempt`-th consecutive failure (1, 2, …):
 * exponential backoff with "full jitter" — uniform in [0, min(max, base·2^(attempt−1))]
 * — so that streams failing together (one receiver down for many tenants)
 * do not retry in lockstep (AWS Architecture Blog, "Exponential Backoff And Jitter", 2015).
 */
export function retryDelayMs(attempt: number, baseMs: number, maxMs: number, random: () => number = Math.random): number {
  const exponent = Math.min(Math.max(attempt - 1, 0), 40);
  const ceiling = Math.min(maxMs, baseMs * 2 ** exponent);
  return Math.floor(random() * ceiling);
}
