import { isIP } from 'node:net';
import { z } from 'zod';
import { HttpError } from '../http/errors.js';
import { normalizeIp } from '../protection/ip-list.js';
import {
  attackProtectionOf,
  breachedPasswordSchema,
  bruteForceSchema,
  suspiciousIpSchema,
  type AttackProtectionSettings,
} from '../protection/settings.js';
import { lockTenant, writeTransaction } from '../storage/transaction.js';
import { tenantsStore, type Tenant } from '../tenants/store.js';
import type { ManagementDeps } from './plugin.js';
import type { ManagementRouter } from './route.js';

type Part = keyof AttackProtectionSettings;

/** PATCH bodies: every field optional, nothing unknown (400 naming the property). */
const bruteForcePatch = z.strictObject({
  enabled: bruteForceSchema.shape.enabled.optional(),
  shields: bruteForceSchema.shape.shields.optional(),
  allowlist: bruteForceSchema.shape.allowlist.optional(),
  mode: bruteForceSchema.shape.mode.optional(),
  max_attempts: bruteForceSchema.shape.max_attempts.optional(),
});

const stageLimitPatch = z.strictObject({ max_attempts: z.number().int().min(1).max(100_000).optional(), rate: z.number().int().min(1).max(864_000_000).optional() });
const suspiciousIpPatch = z.strictObject({
  enabled: suspiciousIpSchema.shape.enabled.optional(),
  shields: suspiciousIpSchema.shape.shields.optional(),
  allowlist: suspiciousIpSchema.shape.allowlist.optional(),
  stage: z.strictObject({ 'pre-login': stageLimitPatch.optional(), 'pre-user-registration': stageLimitPatch.optional() }).optional(),
});

const stageShields = breachedPasswordSchema.shape.stage.shape['pre-user-registration'].shape.shields;
const breachedPatch = z.strictObject({
  enabled: breachedPasswordSchema.shape.enabled.optional(),
  shields: breachedPasswordSchema.shape.shields.optional(),
  admin_notification_frequency: breachedPasswordSchema.shape.admin_notification_frequency.optional(),
  method: z.literal('standard', { error: 'only "standard" (the offline list) is supported' }).optional(),
  stage: z.strictObject({ 'pre-user-registration': z.strictObject({ shields: stageShields.optional() }).optional(), 'pre-change-password': z.strictObject({ shields: stageShields.optional() }).optional() }).optional(),
});

const isPlainObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

/** Auth0 merges these PATCHes: objects (the stages) field by field, lists and values replaced. */
function merge(stored: unknown, patch: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...(isPlainObject(stored) ? stored : {}) };
  for (const [key, value] of Object.entries(patch)) {
    if (value === undefined) continue;
    out[key] = isPlainObject(value) ? merge(out[key], value) : value;
  }
  return out;
}

const ipParams = z.strictObject({ ip: z.string().max(64).refine((value) => isIP(value) !== 0, 'must be an IPv4 or IPv6 address') });

/**
 * `/api/v2/attack-protection/{brute-force-protection, suspicious-ip-throttling,
 * breached-password-detection}` (GET/PATCH, Auth0's shapes) and
 * `/api/v2/anomaly/blocks/ips/{ip}` (GET/DELETE). Settings live in the
 * tenant's settings JSON; a PATCH is a read-merge-write under the tenant
 * lock and bumps config_version, so every node sees it within
 * TENANT_CACHE_TTL_MS.
 */
export function registerAttackProtectionRoutes(router: ManagementRouter, deps: ManagementDeps): void {
  const { database, services, protection } = deps;
  const current = async (tenant: Tenant) => (await tenantsStore(database.db, services.runtime).findById(tenant.id)) ?? tenant;

  async function patchPart(tenant: Tenant, part: Part, schema: z.ZodType, body: Record<string, unknown>): Promise<unknown> {
    return writeTransaction(database, async (trx) => {
      await lockTenant(database, trx, tenant.id);
      const tenants = tenantsStore(trx, services.runtime);
      const stored = await tenants.findById(tenant.id);
      if (!stored) throw new HttpError(404, 'The tenant does not exist', 'inexistent_tenant');
      const merged = schema.parse(merge(attackProtectionOf(stored)[part], body));
      const attackProtection = { ...(stored.settings.attack_protection ?? {}), [part]: merged };
      await tenants.updateSettings(tenant.id, { ...stored.settings, attack_protection: attackProtection });
      return merged;
    });
  }

  const parts = [
    { path: 'brute-force-protection', part: 'brute_force_protection', name: 'brute-force protection', schema: bruteForceSchema, patch: bruteForcePatch },
    { path: 'suspicious-ip-throttling', part: 'suspicious_ip_throttling', name: 'suspicious IP throttling', schema: suspiciousIpSchema, patch: suspiciousIpPatch },
    { path: 'breached-password-detection', part: 'breached_password_detection', name: 'breached password detection', schema: breachedPasswordSchema, patch: breachedPatch },
  ] as const;

  for (const { path, part, name, schema, patch } of parts) {
    router.add({
      method: 'GET',
      path: `/attack-protection/${path}`,
      summary: `Get ${name} settings`,
      scopes: ['read:attack_protection'],
      response: schema as z.ZodType,
      async handler({ tenant }) {
        return attackProtectionOf(await current(tenant))[part];
      },
    });
    router.add({
      method: 'PATCH',
      path: `/attack-protection/${path}`,
      summary: `Update ${name} settings`,
      scopes: ['update:attack_protection'],
      body: patch as z.ZodType<Record<string, unknown>>,
      audit: `Update ${name} settings`,
      response: schema as z.ZodType,
      handler: ({ tenant, body }) => patchPart(tenant, part, schema, body),
    });
  }

  router.add({
    method: 'GET',
    path: '/anomaly/blocks/ips/:ip',
    summary: 'Check if an IP address is blocked by suspicious IP throttling',
    scopes: ['read:anomaly_blocks'],
    params: ipParams,
    async handler({ params, tenant }) {
      const settings = attackProtectionOf(await current(tenant)).suspicious_ip_throttling;
      const blocked = await protection.suspiciousIp.isBlocked(protection.suspiciousIp.keyOf(tenant.id, normalizeIp(params.ip)), settings.stage);
      if (!blocked) throw new HttpError(404, 'IP address specified is not currently blocked.', 'inexistent_ip_block');
      return undefined;
    },
  });

  router.add({
    method: 'DELETE',
    path: '/anomaly/blocks/ips/:ip',
    summary: 'Remove the block of an IP address set by suspicious IP throttling',
    scopes: ['delete:anomaly_blocks'],
    params: ipParams,
    status: 204,
    audit: 'Unblock an IP address',
    async handler({ params, tenant }) {
      const settings = attackProtectionOf(await current(tenant)).suspicious_ip_throttling;
      await protection.suspiciousIp.release(protection.suspiciousIp.keyOf(tenant.id, normalizeIp(params.ip)), settings.stage);
      return undefined;
    },
  });
}
