import { z } from 'zod';
import { HttpError } from '../http/errors.js';
import type { ArtifactsStore, ListedArtifact } from '../oauth/artifact-store.js';
import { writeTransaction } from '../storage/transaction.js';
import { tenantStores } from '../tenants/tenant-stores.js';
import type { ManagementDeps } from './plugin.js';
import { pagingQuery, pathId, pageOf } from './query.js';
import type { ManagementRouter } from './route.js';

/** The engine's model holding a user's consent to a client (oidc-provider `Grant`). */
const GRANT_KIND = 'Grant';
/** Grants are read in batches of this many when the tenant's are scanned. */
const BATCH = 1000;

/** Auth0's user grant (`clientID` is Auth0's spelling). */
export const userGrantSchema = z.object({
  id: z.string(),
  clientID: z.string(),
  user_id: z.string(),
  audience: z.string(),
  scope: z.array(z.string()),
});
type UserGrant = z.infer<typeof userGrantSchema>;

const words = (value: unknown): string[] => (typeof value === 'string' ? value.split(' ').filter(Boolean) : []);

/**
 * One engine Grant as Auth0's user grants: one per API it covers (Auth0
 * keeps a grant per audience), each with the OpenID scopes too; a grant for
 * OpenID scopes only has the tenant's `/userinfo` as audience, as in Auth0.
 * All of them share the engine grant's id: deleting one deletes the grant.
 */
export function toUserGrants(grant: ListedArtifact, userinfoAudience: string): UserGrant[] {
  const { accountId, clientId, openid, resources } = grant.payload as { accountId?: unknown; clientId?: unknown; openid?: { scope?: unknown }; resources?: unknown };
  if (typeof accountId !== 'string' || typeof clientId !== 'string') return [];
  const oidcScopes = words(openid?.scope);
  const apis = resources && typeof resources === 'object' ? Object.entries(resources as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)) : [];
  const base = { id: grant.id, clientID: clientId, user_id: accountId };
  if (apis.length === 0) return [{ ...base, audience: userinfoAudience, scope: oidcScopes }];
  return apis.map(([audience, scope]) => ({ ...base, audience, scope: [...oidcScopes, ...words(scope)] }));
}

/** The live grants of one user, or (scanning in batches) of the whole tenant. */
async function liveGrants(artifacts: ArtifactsStore, accountId: string | undefined): Promise<ListedArtifact[]> {
  const all: ListedArtifact[] = [];
  for (let offset = 0; ; offset += BATCH) {
    const batch = await artifacts.listLive(GRANT_KIND, accountId !== undefined ? { accountId } : {}, { offset, limit: BATCH });
    all.push(...batch);
    if (batch.length < BATCH) return all;
  }
}

const grantNotFound = () => new HttpError(404, 'The grant does not exist.', 'inexistent_grant');

/**
 * `/api/v2/grants`: the users' consent grants, which are the engine's Grant
 * artifacts. Deleting one revokes everything issued under it (codes, access
 * and refresh tokens); the user's next authorization for that client asks for
 * consent again (third-party clients) or makes a new grant (first-party).
 */
export function registerGrantRoutes(router: ManagementRouter, deps: ManagementDeps): void {
  const { database, services } = deps;
  const artifactsOf = (tenantId: string) => tenantStores(database.db, tenantId, services.runtime).artifacts;

  /** Deletes grants and what was issued under them, all or nothing. */
  const revoke = (tenantId: string, grantIds: readonly string[]) =>
    writeTransaction(database, async (trx) => {
      const artifacts = tenantStores(trx, tenantId, services.runtime).artifacts;
      for (const id of grantIds) {
        await artifacts.revokeByGrantId(id);
        await artifacts.destroy(GRANT_KIND, id);
      }
    });

  router.add({
    method: 'GET',
    path: '/grants',
    summary: 'Get user grants',
    scopes: ['read:grants'],
    query: z.object({
      ...pagingQuery,
      user_id: z.string().min(1).max(256).optional(),
      client_id: z.string().min(1).max(256).optional(),
      audience: z.string().min(1).max(600).optional(),
    }),
    list: { key: 'grants', item: userGrantSchema },
    async handler({ query, tenant, issuer }) {
      const grants = await liveGrants(artifactsOf(tenant.id), query.user_id);
      const matching = grants
        .flatMap((grant) => toUserGrants(grant, `${issuer}userinfo`))
        .filter((g) => (query.client_id === undefined || g.clientID === query.client_id) && (query.audience === undefined || g.audience === query.audience));
      return pageOf(matching, query);
    },
  });

  router.add({
    method: 'DELETE',
    path: '/grants/:id',
    summary: 'Delete a user grant',
    scopes: ['delete:grants'],
    params: z.strictObject({ id: pathId }),
    status: 204,
    audit: 'Delete grant',
    async handler({ params: { id }, tenant }) {
      if (!(await artifactsOf(tenant.id).find(GRANT_KIND, id))) throw grantNotFound();
      await revoke(tenant.id, [id]);
      return undefined;
    },
  });

  router.add({
    method: 'DELETE',
    path: '/grants',
    summary: "Delete a user's grants",
    scopes: ['delete:grants'],
    query: z.object({ user_id: z.string().min(1).max(256) }),
    status: 204,
    audit: 'Delete grants of a user',
    async handler({ query, tenant }) {
      const grants = await liveGrants(artifactsOf(tenant.id), query.user_id);
      await revoke(
        tenant.id,
        grants.map((g) => g.id),
      );
      return undefined;
    },
  });
}
