import { sql, Migrator, type Kysely } from 'kysely';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createTestDatabase, describeEachBackend, migratedDatabase, openTestDatabase } from '../../test/support/backends.js';
import { testRuntime } from '../../test/support/clock.js';
import { createTenant } from '../../test/support/fixtures.js';
import { connectionsStore, DEFAULT_DATABASE_CONNECTION } from '../connections/store.js';
import { allMigrations } from '../storage/migrations/index.js';
import type { Tenant } from '../tenants/store.js';
import { usersStore } from './store.js';

describeEachBackend('user metadata values (search facts kept with the user)', (backend) => {
  let ctx: Awaited<ReturnType<typeof migratedDatabase>>;
  let tenant: Tenant;
  let connectionId: string;
  const clock = testRuntime();
  const store = () => usersStore(ctx.database.db, tenant.id, clock);
  const find = async (q: string) => (await store().search({ q }, backend)).users.map((u) => u.email).sort();
  const factCount = async (userId: string) =>
    Number((await ctx.database.db.selectFrom('user_metadata_values').select((eb) => eb.fn.countAll<number>().as('n')).where('user_id', '=', userId).executeTakeFirstOrThrow()).n);

  beforeAll(async () => {
    ctx = await migratedDatabase(backend);
    tenant = await createTenant(ctx.database, 'acme');
    connectionId = (await connectionsStore(ctx.database.db, tenant.id, clock).findByName(DEFAULT_DATABASE_CONNECTION))!.id;
  });
  afterAll(async () => ctx?.cleanup());

  it('follows the metadata through insert, update (in a transaction) and delete', async () => {
    const user = (await store().insert({ connectionId, provider: 'auth0', email: 'meta@example.com', appMetadata: { plan: 'gold', seats: 3 }, userMetadata: { city: 'Paris' } }))!;
    expect(await find('app_metadata.plan:gold')).toEqual(['meta@example.com']);
    expect(await find('app_metadata.seats:3')).toEqual(['meta@example.com']);
    expect(await find('user_metadata.city:Paris')).toEqual(['meta@example.com']);

    await ctx.database.db.transaction().execute((trx) => usersStore(trx, tenant.id, clock).update(user.user_id, { appMetadata: { plan: 'silver' } }));
    expect(await find('app_metadata.plan:gold')).toEqual([]);
    expect(await find('app_metadata.seats:3')).toEqual([]);
    expect(await find('app_metadata.plan:silver')).toEqual(['meta@example.com']);
    // The other document is untouched by a change of this one.
    expect(await find('user_metadata.city:Paris')).toEqual(['meta@example.com']);

    expect(await factCount(user.user_id)).toBe(2);
    await store().delete(user.user_id);
    expect(await factCount(user.user_id)).toBe(0);
  });

  it('finds a text longer than the indexed length exactly, and nothing for a near miss', async () => {
    const long = `${'lorem ipsum '.repeat(40)}end`;
    await store().insert({ connectionId, provider: 'auth0', email: 'long@example.com', userMetadata: { bio: long } });
    expect(await find(`user_metadata.bio:"${long}"`)).toEqual(['long@example.com']);
    expect(await find(`user_metadata.bio:"${long}."`)).toEqual([]);
  });

  it('indexes long paths and long multi-byte texts by hash, and still finds them exactly', async () => {
    // Nine levels of 255-character names: a path of ~2.3 kB, which with its value would not fit a PostgreSQL B-tree entry.
    const names = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i'].map((c) => c.repeat(255));
    const deep = names.reduceRight<Record<string, unknown>>((inner, name) => ({ [name]: inner }), { leaf: 'found' } as Record<string, unknown>);
    const wide = 'é'.repeat(200); // 200 characters, 400 bytes
    const user = (await store().insert({ connectionId, provider: 'auth0', email: 'deep@example.test', appMetadata: deep, userMetadata: { note: wide } }))!;
    // A query holds at most 2,000 characters: seven of these levels.
    expect(await find(`_exists_:app_metadata.${names.slice(0, 7).join('.')}`)).toEqual(['deep@example.test']);
    expect(await find(`app_metadata.${names.slice(0, 6).join('.')}.x:found`)).toEqual([]);
    expect(await find(`user_metadata.note:"${wide}"`)).toEqual(['deep@example.test']);
    expect(await find(`user_metadata.note:"${wide}x"`)).toEqual([]);
    const stored = await ctx.database.db.selectFrom('user_metadata_values').select(['path', 'kind', 'value']).where('user_id', '=', user.user_id).execute();
    expect(Math.max(...stored.map((r) => Buffer.byteLength(r.path) + Buffer.byteLength(r.value)))).toBeLessThanOrEqual(512);
  });

  it('is filled for users that existed before migration 0009', async () => {
    const testDb = await createTestDatabase(backend);
    const database = openTestDatabase(testDb.config);
    try {
      const db = database.db as unknown as Kysely<unknown>;
      const migrator = new Migrator({ db, provider: { getMigrations: async () => allMigrations(database.capabilities) } });
      expect((await migrator.migrateTo('0004-artifact-account')).error).toBeUndefined();
      const now = '2025-01-01T00:00:00.000Z';
      await database.db.insertInto('tenants').values({ id: 'ten_1', name: 'one', friendly_name: null, is_default: false, settings: '{}', created_at: now, updated_at: now }).execute();
      await database.db.insertInto('connections').values({ id: 'con_1', tenant_id: 'ten_1', name: 'db', strategy: 'auth0', options: '{}', created_at: now, updated_at: now }).execute();
      const user = { tenant_id: 'ten_1', connection_id: 'con_1', email_verified: false, phone_verified: false, blocked: false, logins_count: 0, created_at: now, updated_at: now };
      // More users than one backfill batch (1000), so the keyset continues past the first batch.
      const rows = Array.from({ length: 1203 }, (_, i) => ({
        ...user,
        user_id: `auth0|u${String(i).padStart(4, '0')}`,
        email: `u${i}@example.com`,
        app_metadata: JSON.stringify(i % 100 === 0 ? { plan: 'rare' } : { plan: 'common' }),
        user_metadata: JSON.stringify({ tags: [`t${i}`] }),
      }));
      for (let i = 0; i < rows.length; i += 300) await database.db.insertInto('users').values(rows.slice(i, i + 300)).execute();
      expect((await migrator.migrateToLatest()).error).toBeUndefined();
      const found = await usersStore(database.db, 'ten_1', testRuntime()).search({ q: 'app_metadata.plan:rare', perPage: 100, includeTotals: true }, backend);
      expect(found.total).toBe(13);
      const last = await usersStore(database.db, 'ten_1', testRuntime()).search({ q: 'user_metadata.tags:t1202' }, backend);
      expect(last.users.map((u) => u.user_id)).toEqual(['auth0|u1202']);
      const facts = await sql<{ n: number }>`select count(*) as n from user_metadata_values`.execute(database.db);
      expect(Number(facts.rows[0]?.n)).toBe(1203 * 2);
    } finally {
      await database.close();
      await testDb.drop();
    }
  });
});
