import { z } from 'zod';
import type { Tenant } from '../tenants/store.js';
import { ipEntryProblem } from './ip-list.js';

/**
 * Attack-protection settings in Auth0's shapes (GET/PATCH
 * /api/v2/attack-protection/…), stored in the tenant's settings JSON under
 * `attack_protection`. Defaults are Auth0's for a new tenant, except breached
 * password detection, which Auth0 sells separately and Portcullis runs
 * offline: on, blocking breached passwords at signup and password change
 * (NIST SP 800-63B §3.1.1.2), and recording (`pwd_leak`) without blocking at
 * login. docs/attack-protection.md, decision 013.
 */

const allowlistEntry = z.string().max(64).superRefine((value, ctx) => {
  const problem = ipEntryProblem(value);
  if (problem) ctx.addIssue({ code: 'custom', message: problem });
});
export const allowlist = z.array(allowlistEntry).max(100);

const uniqueShields = <T extends string>(values: readonly [T, ...T[]]) =>
  z.array(z.enum(values)).max(values.length).refine((list) => new Set(list).size === list.length, 'shields must not repeat');

export const BRUTE_FORCE_SHIELDS = ['block', 'user_notification'] as const;
export const BRUTE_FORCE_MODES = ['count_per_identifier_and_ip', 'count_per_identifier'] as const;

export const bruteForceSchema = z.object({
  enabled: z.boolean(),
  shields: uniqueShields(BRUTE_FORCE_SHIELDS),
  allowlist,
  mode: z.enum(BRUTE_FORCE_MODES),
  max_attempts: z.number().int().min(1).max(100),
});
export type BruteForceSettings = z.infer<typeof bruteForceSchema>;

export const SUSPICIOUS_IP_SHIELDS = ['block', 'admin_notification'] as const;

/** `rate`: milliseconds after which one more attempt is granted (Auth0's unit). */
const stageLimit = z.strictObject({ max_attempts: z.number().int().min(1).max(100_000), rate: z.number().int().min(1).max(864_000_000) });
export type StageLimit = z.infer<typeof stageLimit>;

export const suspiciousIpSchema = z.object({
  enabled: z.boolean(),
  shields: uniqueShields(SUSPICIOUS_IP_SHIELDS),
  allowlist,
  stage: z.object({ 'pre-login': stageLimit, 'pre-user-registration': stageLimit }),
});
export type SuspiciousIpSettings = z.infer<typeof suspiciousIpSchema>;

export const BREACHED_SHIELDS = ['block', 'user_notification', 'admin_notification'] as const;
export const BREACHED_STAGE_SHIELDS = ['block', 'admin_notification'] as const;
export const NOTIFICATION_FREQUENCIES = ['immediately', 'daily', 'weekly', 'monthly'] as const;

export const breachedPasswordSchema = z.object({
  enabled: z.boolean(),
  /** At login. */
  shields: uniqueShields(BREACHED_SHIELDS),
  admin_notification_frequency: uniqueShields(NOTIFICATION_FREQUENCIES),
  /** Auth0's `enhanced` (Credential Guard) is a paid online service; Portcullis has the offline `standard` list only. */
  method: z.literal('standard'),
  stage: z.object({
    'pre-user-registration': z.object({ shields: uniqueShields(BREACHED_STAGE_SHIELDS) }),
    'pre-change-password': z.object({ shields: uniqueShields(BREACHED_STAGE_SHIELDS) }),
  }),
});
export type BreachedPasswordSettings = z.infer<typeof breachedPasswordSchema>;

export const DEFAULT_BRUTE_FORCE: BruteForceSettings = { enabled: true, shields: ['block', 'user_notification'], allowlist: [], mode: 'count_per_identifier_and_ip', max_attempts: 10 };

/** Auth0's defaults: 100 failed logins per IP per day (one more every 864 s), 50 signups per minute (one more every 1.2 s). */
export const DEFAULT_SUSPICIOUS_IP: SuspiciousIpSettings = {
  enabled: true,
  shields: ['admin_notification', 'block'],
  allowlist: [],
  stage: { 'pre-login': { max_attempts: 100, rate: 864_000 }, 'pre-user-registration': { max_attempts: 50, rate: 1200 } },
};

export const DEFAULT_BREACHED_PASSWORD: BreachedPasswordSettings = {
  enabled: true,
  shields: [],
  admin_notification_frequency: [],
  method: 'standard',
  stage: { 'pre-user-registration': { shields: ['block'] }, 'pre-change-password': { shields: ['block'] } },
};

export interface AttackProtectionSettings {
  readonly brute_force_protection: BruteForceSettings;
  readonly suspicious_ip_throttling: SuspiciousIpSettings;
  readonly breached_password_detection: BreachedPasswordSettings;
}

const parsedCache = new WeakMap<object, AttackProtectionSettings>();

/** A stored part, or its default when absent or unreadable (a stored value is validated when written). */
function partOf<T>(schema: z.ZodType<T>, stored: unknown, fallback: T): T {
  if (stored === undefined) return fallback;
  const parsed = schema.safeParse(stored);
  return parsed.success ? parsed.data : fallback;
}

/** The tenant's attack-protection settings; parsed once per tenant object (tenants are reloaded, never mutated). */
export function attackProtectionOf(tenant: Pick<Tenant, 'settings'>): AttackProtectionSettings {
  const cached = parsedCache.get(tenant.settings);
  if (cached) return cached;
  const stored = ((tenant.settings as Record<string, unknown>).attack_protection ?? {}) as Record<string, unknown>;
  const settings: AttackProtectionSettings = {
    brute_force_protection: partOf(bruteForceSchema, stored.brute_force_protection, DEFAULT_BRUTE_FORCE),
    suspicious_ip_throttling: partOf(suspiciousIpSchema, stored.suspicious_ip_throttling, DEFAULT_SUSPICIOUS_IP),
    breached_password_detection: partOf(breachedPasswordSchema, stored.breached_password_detection, DEFAULT_BREACHED_PASSWORD),
  };
  parsedCache.set(tenant.settings, settings);
  return settings;
}

/** A stage's window: `max_attempts` attempts per `max_attempts × rate` (at least one second). */
export function stageWindowSeconds(stage: StageLimit): number {
  return Math.max(1, Math.ceil((stage.max_attempts * stage.rate) / 1000));
}
