import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeEachBackend, migratedDatabase } from '../../test/support/backends.js';
import { testRuntime } from '../../test/support/clock.js';
import { createTenant } from '../../test/support/fixtures.js';
import { clientsStore } from '../clients/store.js';
import { connectionsStore, DEFAULT_DATABASE_CONNECTION } from '../connections/store.js';
import { MANAGEMENT_API_NAME, MANAGEMENT_SCOPES } from '../management/scopes.js';
import { rolesStore } from '../roles/store.js';
import { isUniqueViolation } from '../storage/errors.js';
import type { Tenant } from '../tenants/store.js';
import { usersStore } from '../users/store.js';
import { clientGrantsStore, resourceServersStore } from './store.js';

describeEachBackend('apis store', (backend) => {
  let ctx: Awaited<ReturnType<typeof migratedDatabase>>;
  let tenant: Tenant;
  const clock = testRuntime();
  const apis = () => resourceServersStore(ctx.database.db, tenant.id, clock);
  const grants = () => clientGrantsStore(ctx.database.db, tenant.id, clock);
  const clients = () => clientsStore(ctx.database.db, tenant.id, clock);
  const addClient = (clientId: string) =>
    clients().insert({ clientId, name: clientId, appType: 'non_interactive', isFirstParty: true, tokenEndpointAuthMethod: 'client_secret_post', secretSealed: null });

  beforeAll(async () => {
    ctx = await migratedDatabase(backend);
    tenant = await createTenant(ctx.database, 'acme');
  });
  afterAll(async () => ctx?.cleanup());

  describe('resource servers', () => {
    it('holds the tenant Management API created with the tenant, with every management scope', async () => {
      const system = (await apis().list()).filter((api) => api.isSystem);
      expect(system).toHaveLength(1);
      const [management] = system;
      expect(management?.name).toBe(MANAGEMENT_API_NAME);
      expect(management?.identifier).toMatch(/^https?:\/\/.+\/api\/v2\/$/);
      expect(management?.scopes.map((s) => s.value)).toEqual([...MANAGEMENT_SCOPES].sort());
    });

    it('round-trips every field, with booleans as booleans and scopes sorted by value', async () => {
      const inserted = await apis().insert({
        identifier: 'https://orders.example/api',
        name: 'Orders',
        isSystem: false,
        signingAlg: 'HS256',
        tokenLifetime: 600,
        enforcePolicies: true,
        tokenDialect: 'access_token_authz',
        allowOfflineAccess: true,
        skipConsentForVerifiableFirstPartyClients: false,
        scopes: [
          { value: 'write:orders', description: 'Write orders' },
          { value: 'read:orders', description: null },
        ],
      });
      const found = await apis().findById(inserted.id);
      expect(found).toEqual({
        id: inserted.id,
        identifier: 'https://orders.example/api',
        name: 'Orders',
        isSystem: false,
        signingAlg: 'HS256',
        tokenLifetime: 600,
        enforcePolicies: true,
        tokenDialect: 'access_token_authz',
        allowOfflineAccess: true,
        skipConsentForVerifiableFirstPartyClients: false,
        scopes: [
          { value: 'read:orders', description: null },
          { value: 'write:orders', description: 'Write orders' },
        ],
        createdAt: clock.now().toISOString(),
        updatedAt: clock.now().toISOString(),
      });
      expect(found).toEqual(inserted);
      expect(await apis().findByIdentifier('https://orders.example/api')).toEqual(inserted);
    });

    it('applies Auth0 defaults to omitted settings', async () => {
      const api = await apis().insert({ identifier: 'https://defaults.example/api', name: 'Defaults' });
      expect(api).toMatchObject({
        isSystem: false,
        signingAlg: 'RS256',
        tokenLifetime: 86400,
        enforcePolicies: false,
        tokenDialect: 'access_token',
        allowOfflineAccess: false,
        skipConsentForVerifiableFirstPartyClients: true,
        scopes: [],
      });
      expect(typeof api.tokenLifetime).toBe('number');
    });

    it('returns undefined for an unknown id or identifier', async () => {
      expect(await apis().findById('no-such-id')).toBeUndefined();
      expect(await apis().findByIdentifier('https://nowhere.example/')).toBeUndefined();
    });

    it('refuses a second API with the same identifier in the tenant, but not in another tenant', async () => {
      await apis().insert({ identifier: 'https://unique.example/api', name: 'First' });
      const error = await apis().insert({ identifier: 'https://unique.example/api', name: 'Second' }).catch((e: unknown) => e);
      expect(isUniqueViolation(error)).toBe(true);
      expect((await apis().findByIdentifier('https://unique.example/api'))?.name).toBe('First');

      const other = await createTenant(ctx.database, 'other-tenant');
      const elsewhere = await resourceServersStore(ctx.database.db, other.id, clock).insert({ identifier: 'https://unique.example/api', name: 'Elsewhere' });
      expect(elsewhere.name).toBe('Elsewhere');
    });

    it('lists APIs by creation time, each with its own scopes', async () => {
      const own = await createTenant(ctx.database, 'listing');
      const listing = testRuntime('2035-01-01T00:00:00.000Z');
      const store = resourceServersStore(ctx.database.db, own.id, listing);
      await store.insert({ identifier: 'https://z.example/', name: 'Z', scopes: [{ value: 'z:1', description: null }] });
      listing.advance(10);
      await store.insert({ identifier: 'https://a.example/', name: 'A', scopes: [{ value: 'a:2', description: 'two' }, { value: 'a:1', description: 'one' }] });
      listing.advance(10);
      await store.insert({ identifier: 'https://m.example/', name: 'M' });

      const listed = (await store.list()).filter((api) => !api.isSystem);
      expect(listed.map((api) => [api.identifier, api.scopes.map((s) => s.value)])).toEqual([
        ['https://z.example/', ['z:1']],
        ['https://a.example/', ['a:1', 'a:2']],
        ['https://m.example/', []],
      ]);
    });

    it('replaces the whole scope array, bumping updatedAt', async () => {
      const api = await apis().insert({ identifier: 'https://scopes.example/api', name: 'Scopes', scopes: [{ value: 'old', description: 'old one' }] });
      clock.advance(1000);
      await apis().setScopes(api.id, [
        { value: 'new:b', description: null },
        { value: 'new:a', description: 'A' },
      ]);
      const updated = await apis().findById(api.id);
      expect(updated?.scopes).toEqual([
        { value: 'new:a', description: 'A' },
        { value: 'new:b', description: null },
      ]);
      expect(updated?.createdAt).toBe(api.createdAt);
      expect(updated?.updatedAt).toBe(clock.now().toISOString());

      await apis().setScopes(api.id, []);
      expect((await apis().findById(api.id))?.scopes).toEqual([]);
    });

    it('updates settings and replaces scopes wholesale, leaving the identifier and unnamed settings alone', async () => {
      const api = await apis().insert({ identifier: 'https://update.example/api', name: 'Before', tokenLifetime: 600, scopes: [{ value: 'old', description: 'Old' }] });
      clock.advance(1000);
      expect(
        await apis().update(api.id, {
          name: 'After',
          tokenLifetime: 3600,
          enforcePolicies: true,
          tokenDialect: 'access_token_authz',
          allowOfflineAccess: true,
          skipConsentForVerifiableFirstPartyClients: false,
          signingAlg: 'ES256',
          scopes: [{ value: 'new:b', description: null }, { value: 'new:a', description: 'A' }],
        }),
      ).toBe(true);
      expect(await apis().findById(api.id)).toEqual({
        ...api,
        name: 'After',
        tokenLifetime: 3600,
        enforcePolicies: true,
        tokenDialect: 'access_token_authz',
        allowOfflineAccess: true,
        skipConsentForVerifiableFirstPartyClients: false,
        signingAlg: 'ES256',
        scopes: [{ value: 'new:a', description: 'A' }, { value: 'new:b', description: null }],
        updatedAt: clock.now().toISOString(),
      });

      // Without `scopes` the scopes stay; booleans can be turned off again.
      expect(await apis().update(api.id, { enforcePolicies: false })).toBe(true);
      const after = await apis().findById(api.id);
      expect(after?.enforcePolicies).toBe(false);
      expect(after?.scopes.map((s) => s.value)).toEqual(['new:a', 'new:b']);
      expect(after?.name).toBe('After');
    });

    it("does not update an unknown API or another tenant's", async () => {
      expect(await apis().update('no-such-id', { name: 'x' })).toBe(false);
      const other = await createTenant(ctx.database, 'update-other');
      const theirs = await resourceServersStore(ctx.database.db, other.id, clock).insert({ identifier: 'https://theirs.example/api', name: 'Theirs', scopes: [{ value: 'keep', description: null }] });
      expect(await apis().update(theirs.id, { name: 'Mine', scopes: [] })).toBe(false);
      expect(await resourceServersStore(ctx.database.db, other.id, clock).findById(theirs.id)).toEqual(theirs);
    });

    it('ignores setScopes for an unknown API', async () => {
      await expect(apis().setScopes('no-such-id', [{ value: 'x', description: null }])).resolves.toBeUndefined();
      const orphans = await ctx.database.db.selectFrom('resource_server_scopes').select('value').where('resource_server_id', '=', 'no-such-id').execute();
      expect(orphans).toEqual([]);
    });

    it('never deletes the system Management API', async () => {
      const management = (await apis().list()).find((api) => api.isSystem);
      if (!management) throw new Error('no Management API');
      expect(await apis().delete(management.id)).toBe(false);
      expect(await apis().findById(management.id)).toEqual(management);
    });

    it('deletes an API with its scopes, client grants and role/user permissions', async () => {
      const api = await apis().insert({ identifier: 'https://doomed.example/api', name: 'Doomed', scopes: [{ value: 'read', description: null }] });
      await addClient('doomed-client');
      expect(await grants().insert({ clientId: 'doomed-client', audience: api.identifier, scope: ['read'] })).toBeDefined();
      const roles = rolesStore(ctx.database.db, tenant.id, clock);
      const role = await roles.insert({ name: 'doomed-role' });
      expect(await roles.addPermissions(role.id, [{ resource_server_identifier: api.identifier, permission_name: 'read' }])).toBe(true);
      const connection = await connectionsStore(ctx.database.db, tenant.id, clock).findByName(DEFAULT_DATABASE_CONNECTION);
      if (!connection) throw new Error('default connection missing');
      const user = await usersStore(ctx.database.db, tenant.id, clock).insert({ connectionId: connection.id, provider: 'auth0', email: 'doomed@example.com' });
      if (!user) throw new Error('user not inserted');
      expect(await roles.addUserPermissions(user.user_id, [{ resource_server_identifier: api.identifier, permission_name: 'read' }])).toBe(true);

      expect(await apis().delete(api.id)).toBe(true);
      expect(await apis().findById(api.id)).toBeUndefined();
      const db = ctx.database.db;
      expect(await db.selectFrom('resource_server_scopes').select('value').where('resource_server_id', '=', api.id).execute()).toEqual([]);
      expect(await db.selectFrom('client_grants').select('id').where('resource_server_id', '=', api.id).execute()).toEqual([]);
      expect(await db.selectFrom('role_permissions').select('role_id').where('resource_server_id', '=', api.id).execute()).toEqual([]);
      expect(await db.selectFrom('user_permissions').select('user_id').where('resource_server_id', '=', api.id).execute()).toEqual([]);
      expect(await grants().find('doomed-client', api.identifier)).toBeUndefined();
      expect(await roles.rolePermissions(role.id)).toEqual([]);
      expect(await apis().delete(api.id)).toBe(false);
    });
  });

  describe('client grants', () => {
    let audience: string;
    beforeAll(async () => {
      audience = (await apis().insert({ identifier: 'https://grants.example/api', name: 'Grants', scopes: [{ value: 'read', description: null }, { value: 'write', description: null }] })).identifier;
    });

    it('round-trips a grant, with scope as an array on both backends', async () => {
      await addClient('g-roundtrip');
      const inserted = await grants().insert({ clientId: 'g-roundtrip', audience, scope: ['read', 'write'] });
      expect(inserted?.id).toMatch(/^cgr_[A-Za-z0-9]{16}$/);
      const found = await grants().find('g-roundtrip', audience);
      expect(found).toEqual({ id: inserted?.id, clientId: 'g-roundtrip', audience, scope: ['read', 'write'], createdAt: clock.now().toISOString(), updatedAt: clock.now().toISOString() });
      expect(Array.isArray(found?.scope)).toBe(true);
    });

    it('lists the grants of one client only, by creation time', async () => {
      const second = (await apis().insert({ identifier: 'https://second.example/api', name: 'Second' })).identifier;
      await addClient('g-list');
      await addClient('g-list-other');
      const first = await grants().insert({ clientId: 'g-list', audience, scope: [] });
      clock.advance(10);
      const later = await grants().insert({ clientId: 'g-list', audience: second, scope: ['x'] });
      await grants().insert({ clientId: 'g-list-other', audience, scope: [] });
      expect((await grants().listByClient('g-list')).map((g) => g.id)).toEqual([first?.id, later?.id]);
      expect((await grants().listByClient('g-list'))[0]?.scope).toEqual([]);
    });

    it('refuses a grant for an unknown audience or an unknown client', async () => {
      await addClient('g-refused');
      expect(await grants().insert({ clientId: 'g-refused', audience: 'https://unknown.example/api', scope: ['read'] })).toBeUndefined();
      expect(await grants().insert({ clientId: 'no-such-client', audience, scope: ['read'] })).toBeUndefined();
      expect(await grants().listByClient('g-refused')).toEqual([]);
      expect(await grants().listByClient('no-such-client')).toEqual([]);
    });

    it('refuses a second grant for the same client and audience', async () => {
      await addClient('g-dup');
      await grants().insert({ clientId: 'g-dup', audience, scope: ['read'] });
      const error = await grants().insert({ clientId: 'g-dup', audience, scope: ['write'] }).catch((e: unknown) => e);
      expect(isUniqueViolation(error)).toBe(true);
      expect((await grants().listByClient('g-dup')).map((g) => g.scope)).toEqual([['read']]);
    });

    it('updates the scope of a grant by id, bumping updatedAt', async () => {
      await addClient('g-update');
      const grant = await grants().insert({ clientId: 'g-update', audience, scope: ['read'] });
      if (!grant) throw new Error('grant not inserted');
      clock.advance(1000);
      expect(await grants().updateScope(grant.id, ['read', 'write'])).toBe(true);
      const found = await grants().find('g-update', audience);
      expect(found?.scope).toEqual(['read', 'write']);
      expect(found?.createdAt).toBe(grant.createdAt);
      expect(found?.updatedAt).toBe(clock.now().toISOString());
      expect(await grants().updateScope('cgr_unknown', ['read'])).toBe(false);
    });

    it('finds a grant by id, within the tenant only', async () => {
      await addClient('g-by-id');
      const grant = await grants().insert({ clientId: 'g-by-id', audience, scope: ['write'] });
      if (!grant) throw new Error('grant not inserted');
      expect(await grants().findById(grant.id)).toEqual(grant);
      expect(await grants().findById('cgr_unknown')).toBeUndefined();
      const other = await createTenant(ctx.database, 'grants-other');
      expect(await clientGrantsStore(ctx.database.db, other.id, clock).findById(grant.id)).toBeUndefined();
      expect(await clientGrantsStore(ctx.database.db, other.id, clock).updateScope(grant.id, [])).toBe(false);
      expect(await clientGrantsStore(ctx.database.db, other.id, clock).delete(grant.id)).toBe(false);
      expect((await grants().findById(grant.id))?.scope).toEqual(['write']);
    });

    it('lists the tenant grants by creation time, filtered by client and/or audience', async () => {
      const own = await createTenant(ctx.database, 'grants-listing');
      const runtime = testRuntime('2036-01-01T00:00:00.000Z');
      const ownApis = resourceServersStore(ctx.database.db, own.id, runtime);
      const ownGrants = clientGrantsStore(ctx.database.db, own.id, runtime);
      const ownClients = clientsStore(ctx.database.db, own.id, runtime);
      for (const id of ['l-one', 'l-two']) await ownClients.insert({ clientId: id, name: id, appType: 'non_interactive', isFirstParty: true, tokenEndpointAuthMethod: 'client_secret_post', secretSealed: null });
      const first = (await ownApis.insert({ identifier: 'https://first.example/', name: 'First' })).identifier;
      const second = (await ownApis.insert({ identifier: 'https://second.example/', name: 'Second' })).identifier;
      const a = await ownGrants.insert({ clientId: 'l-one', audience: second, scope: [] });
      runtime.advance(10);
      const b = await ownGrants.insert({ clientId: 'l-two', audience: first, scope: [] });
      runtime.advance(10);
      const c = await ownGrants.insert({ clientId: 'l-one', audience: first, scope: [] });
      expect((await ownGrants.list()).map((g) => g.id)).toEqual([a?.id, b?.id, c?.id]);
      expect((await ownGrants.list({ clientId: 'l-one' })).map((g) => g.id)).toEqual([a?.id, c?.id]);
      expect((await ownGrants.list({ audience: first })).map((g) => g.id)).toEqual([b?.id, c?.id]);
      expect((await ownGrants.list({ clientId: 'l-one', audience: first })).map((g) => g.id)).toEqual([c?.id]);
      // Another tenant's grants never appear.
      expect((await grants().list()).some((g) => [a?.id, b?.id, c?.id].includes(g.id))).toBe(false);
    });

    it('deletes a grant by id, once', async () => {
      await addClient('g-delete');
      const grant = await grants().insert({ clientId: 'g-delete', audience, scope: ['read'] });
      if (!grant) throw new Error('grant not inserted');
      expect(await grants().delete(grant.id)).toBe(true);
      expect(await grants().find('g-delete', audience)).toBeUndefined();
      expect(await grants().delete(grant.id)).toBe(false);
    });
  });
});
