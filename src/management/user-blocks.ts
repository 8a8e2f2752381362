import { z } from 'zod';
import type { BlockedPair } from '../protection/brute-force.js';
import { attackProtectionOf } from '../protection/settings.js';
import { tenantsStore, type Tenant } from '../tenants/store.js';
import type { ManagementDeps } from './plugin.js';
import { pathId } from './query.js';
import type { ManagementRouter } from './route.js';
import { userNotFound } from './user-relations.js';

const blocksSchema = z.object({ blocked_for: z.array(z.object({ identifier: z.string(), ip: z.string(), connection: z.string() })) });

/** Auth0's `consider_brute_force_enablement`: with it, nothing is listed while brute-force protection does not block. */
const listQuery = { consider_brute_force_enablement: z.enum(['true', 'false']).optional() };
const identifierQuery = z.strictObject({ identifier: z.string().trim().min(1).max(254), ...listQuery });

/**
 * `/api/v2/user-blocks/{id}` and `/api/v2/user-blocks?identifier=` (Auth0):
 * the account + IP pairs brute-force protection blocks now, and their
 * release (DELETE), which publishes `ublkdu`.
 */
export function registerUserBlockRoutes(router: ManagementRouter, deps: ManagementDeps): void {
  const { database, services, protection } = deps;
  const settingsOf = async (tenant: Tenant) => attackProtectionOf((await tenantsStore(database.db, services.runtime).findById(tenant.id)) ?? tenant).brute_force_protection;
  const listed = async (tenant: Tenant, identifiers: readonly string[], consider: string | undefined, connection?: string) => {
    const settings = await settingsOf(tenant);
    if (consider === 'true' && (!settings.enabled || !settings.shields.includes('block'))) return [];
    const pairs: BlockedPair[] = [];
    for (const identifier of identifiers) pairs.push(...(await protection.bruteForce.blocked(tenant.id, identifier, settings)));
    return connection === undefined ? pairs : pairs.filter((pair) => pair.connection === connection);
  };

  router.add({
    method: 'GET',
    path: '/user-blocks/:id',
    summary: "Get a user's brute-force blocks",
    scopes: ['read:users'],
    params: z.strictObject({ id: pathId }),
    query: z.strictObject(listQuery),
    response: blocksSchema,
    async handler({ params, query, tenant }) {
      const user = await protection.userIdentifiers(tenant.id, params.id);
      if (!user) throw userNotFound();
      return { blocked_for: await listed(tenant, user.identifiers, query.consider_brute_force_enablement, user.connection) };
    },
  });

  router.add({
    method: 'DELETE',
    path: '/user-blocks/:id',
    summary: "Release a user's brute-force blocks",
    scopes: ['update:users'],
    params: z.strictObject({ id: pathId }),
    status: 204,
    audit: 'Unblock a user',
    async handler({ params, tenant }) {
      if (!(await protection.userIdentifiers(tenant.id, params.id))) throw userNotFound();
      await protection.releaseUser(tenant.id, params.id, 'administrator');
      return undefined;
    },
  });

  router.add({
    method: 'GET',
    path: '/user-blocks',
    summary: 'Get the brute-force blocks of an identifier',
    scopes: ['read:users'],
    query: identifierQuery,
    response: blocksSchema,
    async handler({ query, tenant }) {
      return { blocked_for: await listed(tenant, [query.identifier], query.consider_brute_force_enablement) };
    },
  });

  router.add({
    method: 'DELETE',
    path: '/user-blocks',
    summary: 'Release the brute-force blocks of an identifier',
    scopes: ['update:users'],
    query: identifierQuery,
    status: 204,
    audit: 'Unblock an identifier',
    async handler({ query, tenant }) {
      const released = await protection.bruteForce.release(tenant.id, query.identifier);
      if (released > 0) await protection.publish({ tenantId: tenant.id, type: 'ublkdu', userName: query.identifier, description: 'User login block released', details: { reason: 'administrator', released } });
      return undefined;
    },
  });
}
