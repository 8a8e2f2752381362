import { Migrator, type Kysely } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, describeEachBackend, migratedDatabase, openTestDatabase } from '../../test/support/backends.js';
import { testRuntime } from '../../test/support/clock.js';
import { createTenant } from '../../test/support/fixtures.js';
import { encodeJson } from '../storage/codec.js';
import { allMigrations } from '../storage/migrations/index.js';
import type { Tenant } from '../tenants/store.js';
import { artifactsStore, sweepExpiredArtifacts } from './artifact-store.js';

describeEachBackend('artifacts store', (backend) => {
  let ctx: Awaited<ReturnType<typeof migratedDatabase>>;
  let tenant: Tenant;
  const clock = testRuntime();
  const store = () => artifactsStore(ctx.database.db, tenant.id, clock);

  beforeAll(async () => {
    ctx = await migratedDatabase(backend);
    tenant = await createTenant(ctx.database, 'acme');
  });
  afterAll(async () => ctx?.cleanup());

  it('round-trips a payload as an object, unconsumed', async () => {
    const payload = { accountId: 'auth0|abc', scope: 'openid email', claims: { id_token: { email: null } }, exp: 1893456000, resetPassword: false };
    await store().upsert('Session', 'sess-1', payload, 3600);
    expect(await store().find('Session', 'sess-1')).toEqual({ payload, consumedAt: undefined });
  });

  it('keeps artifacts of different kinds with the same id apart', async () => {
    await store().upsert('AuthorizationCode', 'shared-id', { kind: 'code' }, 60);
    await store().upsert('AccessToken', 'shared-id', { kind: 'token' }, 60);
    expect((await store().find('AuthorizationCode', 'shared-id'))?.payload).toEqual({ kind: 'code' });
    expect((await store().find('AccessToken', 'shared-id'))?.payload).toEqual({ kind: 'token' });
    expect(await store().find('RefreshToken', 'shared-id')).toBeUndefined();
  });

  it('replaces the payload, lookup keys and expiry on a second upsert', async () => {
    await store().upsert('Interaction', 'int-1', { uid: 'uid-old', step: 1 }, 10);
    await store().upsert('Interaction', 'int-1', { uid: 'uid-new', step: 2 }, 3600);
    expect((await store().find('Interaction', 'int-1'))?.payload).toEqual({ uid: 'uid-new', step: 2 });
    expect(await store().findByUid('Interaction', 'uid-old')).toBeUndefined();
    expect((await store().findByUid('Interaction', 'uid-new'))?.payload.step).toBe(2);
    clock.advance(60_000);
    expect(await store().find('Interaction', 'int-1')).toBeDefined();
  });

  it('hides an artifact from the moment it expires; one without TTL never expires', async () => {
    const expiring = testRuntime('2032-01-01T00:00:00.000Z');
    const artifacts = artifactsStore(ctx.database.db, tenant.id, expiring);
    await artifacts.upsert('AuthorizationCode', 'code-ttl', { grantId: 'g-ttl' }, 60);
    await artifacts.upsert('Grant', 'grant-forever', { accountId: 'x' }, undefined);
    expiring.advance(59_999);
    expect(await artifacts.find('AuthorizationCode', 'code-ttl')).toBeDefined();
    expiring.advance(1);
    expect(await artifacts.find('AuthorizationCode', 'code-ttl')).toBeUndefined();
    expiring.advance(10 * 365 * 24 * 3600 * 1000);
    expect(await artifacts.find('Grant', 'grant-forever')).toBeDefined();
  });

  it('finds by uid and by user code, and not once expired', async () => {
    const expiring = testRuntime('2033-01-01T00:00:00.000Z');
    const artifacts = artifactsStore(ctx.database.db, tenant.id, expiring);
    await artifacts.upsert('Session', 'sess-uid', { uid: 'the-uid', accountId: 'a' }, 30);
    await artifacts.upsert('DeviceCode', 'dev-1', { userCode: 'WDJB-MJHT', deviceInfo: { ip: '10.0.0.1' } }, 30);
    expect((await artifacts.findByUid('Session', 'the-uid'))?.payload).toEqual({ uid: 'the-uid', accountId: 'a' });
    expect((await artifacts.findByUserCode('DeviceCode', 'WDJB-MJHT'))?.payload).toEqual({ userCode: 'WDJB-MJHT', deviceInfo: { ip: '10.0.0.1' } });
    expect(await artifacts.findByUid('Interaction', 'the-uid')).toBeUndefined();
    expect(await artifacts.findByUserCode('DeviceCode', 'NOPE-NOPE')).toBeUndefined();
    expiring.advance(30_000);
    expect(await artifacts.findByUid('Session', 'the-uid')).toBeUndefined();
    expect(await artifacts.findByUserCode('DeviceCode', 'WDJB-MJHT')).toBeUndefined();
  });

  it('consumes an artifact once, recording when', async () => {
    await store().upsert('AuthorizationCode', 'code-once', { grantId: 'g' }, 600);
    clock.advance(1000);
    expect(await store().consume('AuthorizationCode', 'code-once')).toBe(true);
    const consumedAt = clock.now().toISOString();
    expect(await store().find('AuthorizationCode', 'code-once')).toEqual({ payload: { grantId: 'g' }, consumedAt });
    clock.advance(1000);
    expect(await store().consume('AuthorizationCode', 'code-once')).toBe(false);
    expect((await store().find('AuthorizationCode', 'code-once'))?.consumedAt).toBe(consumedAt);
    expect(await store().consume('AuthorizationCode', 'no-such-code')).toBe(false);
  });

  it('lets exactly one of 10 concurrent consumers win', async () => {
    await store().upsert('RefreshToken', 'rt-race', { grantId: 'g-race' }, 600);
    const results = await Promise.all(Array.from({ length: 10 }, () => artifactsStore(ctx.database.db, tenant.id, clock).consume('RefreshToken', 'rt-race')));
    expect(results.filter((won) => won)).toHaveLength(1);
  });

  it('destroys one artifact', async () => {
    await store().upsert('AccessToken', 'at-destroy', {}, 600);
    await store().upsert('AccessToken', 'at-keep', {}, 600);
    await store().destroy('AccessToken', 'at-destroy');
    expect(await store().find('AccessToken', 'at-destroy')).toBeUndefined();
    expect(await store().find('AccessToken', 'at-keep')).toBeDefined();
    await expect(store().destroy('AccessToken', 'at-destroy')).resolves.toBeUndefined();
  });

  it('revokes every artifact of a grant, of any kind, and nothing else', async () => {
    await store().upsert('AuthorizationCode', 'rv-code', { grantId: 'grant-revoked' }, 600);
    await store().upsert('AccessToken', 'rv-at', { grantId: 'grant-revoked' }, 600);
    await store().upsert('RefreshToken', 'rv-rt', { grantId: 'grant-revoked' }, undefined);
    await store().upsert('AccessToken', 'rv-other', { grantId: 'grant-kept' }, 600);
    expect(await store().revokeByGrantId('grant-revoked')).toBe(3);
    for (const [kind, id] of [['AuthorizationCode', 'rv-code'], ['AccessToken', 'rv-at'], ['RefreshToken', 'rv-rt']] as const) {
      expect(await store().find(kind, id)).toBeUndefined();
    }
    expect(await store().find('AccessToken', 'rv-other')).toBeDefined();
    expect(await store().revokeByGrantId('grant-revoked')).toBe(0);
  });

  it('revokes an account’s artifacts of the given kinds, or of every kind, and nothing of another account or tenant', async () => {
    const jane = 'auth0|jane-revoke';
    await store().upsert('Session', 'ra-session', { accountId: jane, uid: 'ra-uid' }, 3600);
    await store().upsert('Grant', 'ra-grant', { accountId: jane, clientId: 'app' }, 3600);
    await store().upsert('RefreshToken', 'ra-rt', { accountId: jane, grantId: 'ra-grant' }, 3600);
    await store().upsert('AccessToken', 'ra-at', { accountId: jane, grantId: 'ra-grant' }, 3600);
    await store().upsert('RefreshToken', 'ra-rt-other', { accountId: 'auth0|john', grantId: 'g-john' }, 3600);
    await store().upsert('RefreshToken', 'ra-rt-anonymous', { grantId: 'g-none' }, 3600);
    const foreign = artifactsStore(ctx.database.db, (await createTenant(ctx.database, 'revoke-foreign')).id, clock);
    await foreign.upsert('RefreshToken', 'ra-rt-foreign', { accountId: jane }, 3600);

    expect(await store().revokeByAccount(jane, ['RefreshToken'])).toBe(1);
    expect(await store().find('RefreshToken', 'ra-rt')).toBeUndefined();
    expect(await store().find('AccessToken', 'ra-at')).toBeDefined();
    expect(await store().find('Session', 'ra-session')).toBeDefined();
    expect(await store().revokeByAccount(jane, [])).toBe(0);

    expect(await store().revokeByAccount(jane)).toBe(3);
    for (const [kind, id] of [['Session', 'ra-session'], ['Grant', 'ra-grant'], ['AccessToken', 'ra-at']] as const) expect(await store().find(kind, id)).toBeUndefined();
    expect(await store().find('RefreshToken', 'ra-rt-other')).toBeDefined();
    expect(await store().find('RefreshToken', 'ra-rt-anonymous')).toBeDefined();
    expect(await foreign.find('RefreshToken', 'ra-rt-foreign')).toBeDefined();
  });

  it('follows the account of a replaced payload, and ignores an accountId that is not a string', async () => {
    await store().upsert('Session', 'ra-moved', { accountId: 'auth0|before' }, 3600);
    await store().upsert('Session', 'ra-moved', { accountId: 'auth0|after' }, 3600);
    await store().upsert('Session', 'ra-odd', { accountId: 42 } as never, 3600);
    expect(await store().revokeByAccount('auth0|before')).toBe(0);
    expect(await store().revokeByAccount('auth0|after')).toBe(1);
    expect(await store().revokeByAccount('42')).toBe(0);
    expect(await store().find('Session', 'ra-odd')).toBeDefined();
  });

  it('lists live artifacts of one kind, of one account or all, by id, page by page', async () => {
    const own = artifactsStore(ctx.database.db, (await createTenant(ctx.database, 'listing')).id, clock);
    await own.upsert('Grant', 'g-3', { accountId: 'auth0|a', clientId: 'c1' }, 3600);
    await own.upsert('Grant', 'g-1', { accountId: 'auth0|a', clientId: 'c2' }, 3600);
    await own.upsert('Grant', 'g-2', { accountId: 'auth0|b', clientId: 'c1' }, 3600);
    await own.upsert('Grant', 'g-0-expired', { accountId: 'auth0|a' }, 1);
    await own.upsert('Session', 's-1', { accountId: 'auth0|a' }, 3600);
    clock.advance(1000);
    const ids = async (filter: { accountId?: string }, offset = 0, limit = 10) => (await own.listLive('Grant', filter, { offset, limit })).map((a) => a.id);
    expect(await ids({})).toEqual(['g-1', 'g-2', 'g-3']);
    expect(await ids({ accountId: 'auth0|a' })).toEqual(['g-1', 'g-3']);
    expect(await ids({}, 1, 1)).toEqual(['g-2']);
    const [first] = await own.listLive('Grant', { accountId: 'auth0|b' }, { offset: 0, limit: 10 });
    expect(first).toEqual({ id: 'g-2', payload: { accountId: 'auth0|b', clientId: 'c1' }, consumedAt: undefined });
  });

  describe('migration 0004 (account_id)', () => {
    it('fills account_id from the payload of artifacts written before it', async () => {
      const testDb = await createTestDatabase(backend);
      const database = openTestDatabase(testDb.config);
      try {
        const migrator = new Migrator({ db: database.db as unknown as Kysely<unknown>, provider: { getMigrations: async () => allMigrations(database.capabilities) } });
        const before = await migrator.migrateTo('0003-user-search-indexes');
        expect(before.error).toBeUndefined();
        const old = await createTenant(database, 'before-0004');
        const row = (id: string, payload: unknown) => ({ tenant_id: old.id, kind: 'RefreshToken', id, payload: encodeJson(payload), grant_id: null, uid: null, user_code: null, expires_at: null, consumed_at: null });
        // Written as a node without 0004 writes them: no account_id column yet.
        await database.db.insertInto('oidc_artifacts').values([row('old-jane', { accountId: 'auth0|jane' }), row('old-none', { grantId: 'g' }), row('old-number', { accountId: 7 })]).execute();
        const after = await migrator.migrateToLatest();
        expect(after.error).toBeUndefined();
        const rows = await database.db.selectFrom('oidc_artifacts').select(['id', 'account_id']).where('tenant_id', '=', old.id).orderBy('id').execute();
        expect(rows).toEqual([
          { id: 'old-jane', account_id: 'auth0|jane' },
          { id: 'old-none', account_id: null },
          { id: 'old-number', account_id: null },
        ]);
        expect(await artifactsStore(database.db, old.id, clock).revokeByAccount('auth0|jane')).toBe(1);
      } finally {
        await database.close();
        await testDb.drop();
      }
    });
  });

  describe('sweepExpiredArtifacts', () => {
    // The sweep spans every tenant, so it gets a database of its own.
    let sweepCtx: Awaited<ReturnType<typeof migratedDatabase>>;
    beforeAll(async () => {
      sweepCtx = await migratedDatabase(backend);
    });
    afterAll(async () => sweepCtx?.cleanup());

    it('deletes expired artifacts of every tenant, in batches, and nothing live', async () => {
      const sweepClock = testRuntime('2030-06-01T00:00:00.000Z');
      const one = artifactsStore(sweepCtx.database.db, (await createTenant(sweepCtx.database, 'one')).id, sweepClock);
      const two = artifactsStore(sweepCtx.database.db, (await createTenant(sweepCtx.database, 'two')).id, sweepClock);
      for (const n of [1, 2, 3]) await one.upsert('AccessToken', `one-short-${n}`, {}, 10);
      for (const n of [1, 2]) await two.upsert('AccessToken', `two-short-${n}`, {}, 10);
      await one.upsert('AccessToken', 'one-long', {}, 3600);
      await two.upsert('Grant', 'two-forever', {}, undefined);

      // Exactly at expiry counts as expired (find() stops returning it then too).
      const at = new Date(sweepClock.now().getTime() + 10_000).toISOString();
      expect(await sweepExpiredArtifacts(sweepCtx.database.db, new Date(sweepClock.now().getTime() + 9_999).toISOString(), 100)).toBe(0);
      expect(await sweepExpiredArtifacts(sweepCtx.database.db, at, 2)).toBe(2);
      expect(await sweepExpiredArtifacts(sweepCtx.database.db, at, 2)).toBe(2);
      expect(await sweepExpiredArtifacts(sweepCtx.database.db, at, 2)).toBe(1);
      expect(await sweepExpiredArtifacts(sweepCtx.database.db, at, 2)).toBe(0);

      const remaining = await sweepCtx.database.db.selectFrom('oidc_artifacts').select('id').orderBy('id').execute();
      expect(remaining.map((r) => r.id)).toEqual(['one-long', 'two-forever']);
    });
  });
});
