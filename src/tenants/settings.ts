import { z } from 'zod';

/**
 * Tenant settings in Auth0's shape (GET /api/v2/tenants/settings). Lifetimes
 * are in hours, as Auth0 has them; defaults follow Auth0's.
 */
export const tenantSettingsSchema = z.object({
  friendly_name: z.string().max(255).optional(),
  picture_url: z.url().optional(),
  support_email: z.email().optional(),
  support_url: z.url().optional(),
  default_audience: z.string().optional(),
  /** The connection `grant_type=password` uses (Auth0's "Default Directory"); the default database connection when unset. */
  default_directory: z.string().min(1).max(128).optional(),
  /** Absolute SSO session lifetime from login, hours (Auth0's default: 168 h, 7 days). */
  session_lifetime: z.number().positive().max(8760).default(168),
  /** The SSO session ends after this long without use, hours (Auth0's default: 72 h, 3 days). */
  idle_session_lifetime: z.number().positive().max(8760).default(72),
  enabled_locales: z.array(z.string().min(2).max(10)).default(['en']),
  /** Algorithm for keys created by rotation unless one is asked for. */
  signing_alg: z.enum(['RS256', 'ES256', 'EdDSA']).default('RS256'),
  /** Where /v2/logout may return to when no client_id is given (Auth0's tenant-level list). */
  allowed_logout_urls: z.array(z.string()).default([]),
  /** Branding for the login pages. */
  primary_color: z.string().regex(/^#[0-9a-fA-F]{6}$/).optional(),
  /** Days log events are kept (Portcullis's own: Auth0's retention is set by plan); LOG_RETENTION_DAYS when unset. */
  log_retention_days: z.number().int().min(1).max(3650).optional(),
  /** Attack-protection settings in Auth0's shapes, validated and defaulted by src/protection/settings.ts. */
  attack_protection: z.record(z.string(), z.unknown()).optional(),
});

export type TenantSettings = z.infer<typeof tenantSettingsSchema>;

export function parseTenantSettings(value: unknown): TenantSettings {
  return tenantSettingsSchema.parse(value ?? {});
}
