import { CompiledQuery, Migrator, sql, type Kysely } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, describeEachBackend, migratedDatabase, openTestDatabase } from '../../test/support/backends.js';
import { testRuntime } from '../../test/support/clock.js';
import { createTenant } from '../../test/support/fixtures.js';
import { connectionsStore, DEFAULT_DATABASE_CONNECTION } from '../connections/store.js';
import { SearchSyntaxError } from '../search/errors.js';
import { allMigrations } from '../storage/migrations/index.js';
import type { Tenant } from '../tenants/store.js';
import { planUserSearch, UserSearchError, type UserSearchRequest } from './search.js';
import { usersStore, type NewUser } from './store.js';

interface Seed extends Partial<NewUser> {
  readonly key: string;
  readonly createdAt: string;
  readonly logins?: number;
  readonly lastLogin?: string;
  readonly social?: boolean;
}

const FILLERS: Seed[] = Array.from({ length: 16 }, (_, i) => {
  const n = String(i + 1).padStart(2, '0');
  return { key: `filler${n}`, email: `filler${n}@filler.test`, name: `Filler ${n}`, logins: 1000 + i + 1, createdAt: `2025-01-${n}T00:00:00.000Z` };
});

/** 30 users of one tenant; the comments name what each one is there to prove. */
const SEEDS: Seed[] = [
  {
    key: 'ada',
    email: 'Ada.Lovelace@Example.COM',
    emailVerified: true,
    name: 'Ada Lovelace',
    givenName: 'Ada',
    familyName: 'Lovelace',
    nickname: 'countess',
    username: 'AdaL',
    appMetadata: { plan: 'gold', tier: 3, beta: true, flags: { beta: true } },
    userMetadata: { addresses: [{ city: 'Paris' }, { city: 'London' }], tags: ['vip', 'early'] },
    logins: 150,
    lastLogin: '2026-01-10T08:00:00.000Z',
    createdAt: '2024-01-05T10:00:00.000Z',
  },
  {
    key: 'alan',
    email: 'alan@turing.org',
    name: 'Alan Turing',
    givenName: 'Alan',
    familyName: 'Turing',
    nickname: 'prof',
    username: 'alan',
    appMetadata: { plan: 'silver' },
    userMetadata: { addresses: { city: 'Manchester' } },
    logins: 10,
    lastLogin: '2026-01-01T00:00:00.000Z',
    createdAt: '2024-02-10T12:00:00.000Z',
  },
  // Case-sensitive metadata: "Gold" is not "gold"; an object path without arrays.
  { key: 'grace', email: 'grace@navy.mil', emailVerified: true, name: 'Grace Hopper', appMetadata: { plan: 'Gold' }, userMetadata: { address: { city: 'Paris' } }, logins: 20, createdAt: '2024-03-01T00:00:00.000Z' },
  // Day boundaries: the last millisecond of 2024-03-01, and the first of 2024-03-02.
  { key: 'joan', email: 'joan@bletchley.uk', name: 'Joan Clarke', logins: 21, createdAt: '2024-03-01T23:59:59.999Z' },
  { key: 'john', email: 'john@ias.edu', name: 'John von Neumann', nickname: 'Johnny', createdAt: '2024-03-02T00:00:00.000Z' },
  { key: 'johanna', email: 'JOHANNA@example.com', name: 'Johanna', logins: 5, createdAt: '2024-04-01T00:00:00.000Z' },
  { key: 'jo', email: 'jo@example.com', name: 'Jo', logins: 15, createdAt: '2024-05-01T00:00:00.000Z' },
  // Non-ASCII case folding.
  { key: 'emile', email: 'emile@zola.fr', name: 'Émile Zola', givenName: 'Émile', logins: 100, createdAt: '2024-06-01T00:00:00.000Z' },
  // No email and no name: name is NULL (NOT must still include it).
  { key: 'ghost', username: 'ghost', logins: 200, createdAt: '2024-07-01T00:00:00.000Z' },
  { key: 'blocky', email: 'blocked@example.com', name: 'Blocked Person', blocked: true, createdAt: '2024-08-01T00:00:00.000Z' },
  { key: 'phoney', email: 'phone@example.com', name: 'Phone Person', phoneNumber: '+15550100', createdAt: '2024-09-01T00:00:00.000Z' },
  { key: 'gitty', email: 'octo@github.com', name: 'Octo Cat', social: true, createdAt: '2024-10-01T00:00:00.000Z' },
  { key: 'quoted', email: 'quote@example.com', name: 'Say "Hi" (Now)', createdAt: '2024-11-01T00:00:00.000Z' },
  { key: 'star', email: 'star@example.com', name: 'jo*star', createdAt: '2024-12-01T00:00:00.000Z' },
  ...FILLERS,
];

const ALL = SEEDS.map((s) => s.key);
const except = (...keys: string[]) => ALL.filter((k) => !keys.includes(k));
const fillers = (...numbers: number[]) => numbers.map((n) => `filler${String(n).padStart(2, '0')}`);
const ALL_FILLERS = FILLERS.map((f) => f.key);

describeEachBackend('user search', (backend) => {
  let ctx: Awaited<ReturnType<typeof migratedDatabase>>;
  let acme: Tenant;
  let other: Tenant;
  /** A tenant of 1001 users: past Auth0's 1000-result cap, and big enough for PostgreSQL to prefer the GIN index. */
  let bulk: Tenant;
  const clock = testRuntime();
  const idOf = new Map<string, string>();
  const keyOf = new Map<string, string>();
  const storeOf = (tenant: Tenant) => usersStore(ctx.database.db, tenant.id, clock);

  async function search(request: UserSearchRequest, tenant = acme) {
    return storeOf(tenant).search({ perPage: 100, ...request }, backend);
  }

  /** The keys of the users a query finds, sorted (the order is tested separately). */
  async function find(q: string): Promise<string[]> {
    const result = await search({ q });
    return result.users.map((u) => keyOf.get(u.user_id) ?? `?${u.user_id}`).sort();
  }

  async function seed(tenant: Tenant, seeds: readonly Seed[]): Promise<void> {
    const connections = connectionsStore(ctx.database.db, tenant.id, clock);
    const passwords = await connections.findByName(DEFAULT_DATABASE_CONNECTION);
    const github = await connections.insert({ name: 'github', strategy: 'github' });
    for (const { key, createdAt, logins, lastLogin, social, ...input } of seeds) {
      clock.set(createdAt);
      const user = await storeOf(tenant).insert({ connectionId: social ? github.id : passwords!.id, provider: social ? 'github' : 'auth0', ...input });
      if (!user) throw new Error(`insert refused: ${key}`);
      if (tenant === acme) {
        idOf.set(key, user.user_id);
        keyOf.set(user.user_id, key);
      }
      // Counters straight in the row: recordLogin would also move updated_at.
      if (logins !== undefined || lastLogin !== undefined) {
        await ctx.database.db
          .updateTable('users')
          .set({ logins_count: logins ?? 0, last_login: lastLogin ?? null })
          .where('tenant_id', '=', tenant.id)
          .where('user_id', '=', user.user_id)
          .execute();
      }
    }
  }

  beforeAll(async () => {
    ctx = await migratedDatabase(backend);
    acme = await createTenant(ctx.database, 'acme');
    other = await createTenant(ctx.database, 'other');
    await seed(acme, SEEDS);
    clock.set('2026-02-01T00:00:00.000Z');
    await storeOf(acme).update(idOf.get('phoney')!, { phoneVerified: true });
    // Another tenant's users look like acme's and must never be found from acme.
    await seed(other, [
      { key: 'twin', email: 'alan@turing.org', name: 'Alan Turing', username: 'alan', appMetadata: { plan: 'gold' }, userMetadata: { addresses: [{ city: 'Paris' }] }, logins: 15, createdAt: '2024-03-01T12:00:00.000Z' },
      { key: 'twin2', email: 'jo@example.com', name: 'Jo', blocked: true, createdAt: '2024-05-01T00:00:00.000Z', social: true },
    ]);
    bulk = await createTenant(ctx.database, 'bulk');
    const connection = await connectionsStore(ctx.database.db, bulk.id, clock).findByName(DEFAULT_DATABASE_CONNECTION);
    // 1001 bare rows in one statement: the cap is about counting, not about the store's insert.
    const rows = Array.from({ length: 1001 }, (_, i) => ({
      tenant_id: bulk.id,
      user_id: `auth0|bulk${String(i).padStart(4, '0')}`,
      connection_id: connection!.id,
      email_verified: false,
      phone_verified: false,
      blocked: false,
      app_metadata: '{}',
      user_metadata: '{}',
      logins_count: 0,
      created_at: '2025-06-01T00:00:00.000Z',
      updated_at: '2025-06-01T00:00:00.000Z',
    }));
    await ctx.database.db.insertInto('users').values(rows).execute();
  });
  afterAll(async () => ctx?.cleanup());

  it('has 30 users to search', () => {
    expect(idOf.size).toBe(30);
  });

  it('matches email, name, given_name, family_name and nickname case-insensitively', async () => {
    expect(await find('email:"ada.lovelace@example.com"')).toEqual(['ada']);
    expect(await find('email:ADA.LOVELACE@EXAMPLE.COM')).toEqual(['ada']);
    expect(await find('email:johanna@example.com')).toEqual(['johanna']);
    expect(await find('name:"ADA LOVELACE"')).toEqual(['ada']);
    expect(await find('given_name:ADA')).toEqual(['ada']);
    expect(await find('family_name:lovelace')).toEqual(['ada']);
    expect(await find('nickname:COUNTESS')).toEqual(['ada']);
    expect(await find('nickname:johnny')).toEqual(['john']);
    // Folding is Unicode's, not ASCII's, on both backends.
    expect(await find('name:"émile zola"')).toEqual(['emile']);
    expect(await find('given_name:ÉMILE')).toEqual(['emile']);
    expect(await find('name:ÉMI*')).toEqual(['emile']);
  });

  it('matches every other field case-sensitively', async () => {
    expect(await find('username:AdaL')).toEqual(['ada']);
    expect(await find('username:adal')).toEqual([]);
    expect(await find(`user_id:${idOf.get('ada')!.replace('|', '\\|')}`)).toEqual(['ada']);
    expect(await find(`user_id:"${idOf.get('ada')!.toUpperCase()}"`)).toEqual([]);
    expect(await find('identities.connection:github')).toEqual(['gitty']);
    expect(await find('identities.connection:GitHub')).toEqual([]);
    expect(await find('app_metadata.plan:gold')).toEqual(['ada']);
    expect(await find('app_metadata.plan:Gold')).toEqual(['grace']);
    expect(await find('user_metadata.addresses.city:paris')).toEqual([]);
  });

  it('matches a whole value exactly, quoted or escaped (no word splitting)', async () => {
    expect(await find('name:"John von Neumann"')).toEqual(['john']);
    expect(await find('name:john')).toEqual([]);
    expect(await find('name:"Say \\"Hi\\" (Now)"')).toEqual(['quoted']);
    expect(await find('name:Say\\ \\"Hi\\"\\ \\(Now\\)')).toEqual(['quoted']);
    expect(await find('name:jo\\*star')).toEqual(['star']);
  });

  it('matches a trailing wildcard as a prefix, case-insensitively where the field is', async () => {
    expect(await find('name:jo*')).toEqual(['jo', 'joan', 'johanna', 'john', 'star']);
    expect(await find('name:JOH*')).toEqual(['johanna', 'john']);
    expect(await find('name:jo\\*s*')).toEqual(['star']);
    expect(await find('email:filler1*')).toEqual(fillers(10, 11, 12, 13, 14, 15, 16));
    expect(await find('user_id:github*')).toEqual(['gitty']);
    expect(await find('user_id:GITHUB*')).toEqual([]);
    expect(await find('phone_number:+1555*')).toEqual(['phoney']);
    expect(await find('identities.provider:git*')).toEqual(['gitty']);
  });

  it('matches number ranges with inclusive, exclusive, mixed and open ends', async () => {
    expect(await find('logins_count:[10 TO 20]')).toEqual(['alan', 'grace', 'jo']);
    expect(await find('logins_count:{10 TO 20}')).toEqual(['jo']);
    expect(await find('logins_count:[10 TO 20}')).toEqual(['alan', 'jo']);
    expect(await find('logins_count:{10 TO 20]')).toEqual(['grace', 'jo']);
    expect(await find('logins_count:[100 TO *]')).toEqual(['ada', 'emile', ...ALL_FILLERS, 'ghost'].sort());
    expect(await find('logins_count:{100 TO *]')).toEqual(['ada', ...ALL_FILLERS, 'ghost'].sort());
    expect(await find('logins_count:[* TO 5]')).toEqual(['blocky', 'gitty', 'johanna', 'john', 'phoney', 'quoted', 'star']);
    expect(await find('logins_count:21')).toEqual(['joan']);
  });

  it('matches dates as intervals of their precision, with open and exclusive ends', async () => {
    const fromMarch2 = ['john', 'johanna', 'jo', 'emile', 'ghost', 'blocky', 'phoney', 'gitty', 'quoted', 'star', ...ALL_FILLERS].sort();
    expect(await find('created_at:2024-03-01')).toEqual(['grace', 'joan']);
    expect(await find('created_at:[2024-03-01 TO 2024-03-01]')).toEqual(['grace', 'joan']);
    expect(await find('created_at:{2024-03-01 TO *]')).toEqual(fromMarch2);
    expect(await find('created_at:[2024-03-02 TO *]')).toEqual(fromMarch2);
    expect(await find('created_at:[* TO 2024-03-01}')).toEqual(['ada', 'alan']);
    expect(await find('created_at:[2024-01-01 TO 2024-02-10T12:00:00Z]')).toEqual(['ada', 'alan']);
    expect(await find('created_at:[2024-01-01 TO 2024-02-10T12:00:00Z}')).toEqual(['ada']);
    expect(await find('created_at:"2024-03-01T23:59:59.999Z"')).toEqual(['joan']);
    expect(await find('created_at:[2025-01-01 TO 2025-01-03]')).toEqual(fillers(1, 2, 3));
    expect(await find('last_login:[2026-01-01 TO *]')).toEqual(['ada', 'alan']);
    expect(await find('last_login:{2026-01-01 TO *]')).toEqual(['ada']);
    expect(await find('updated_at:[2026-01-01 TO *]')).toEqual(['phoney']);
  });

  it('matches booleans', async () => {
    expect(await find('blocked:true')).toEqual(['blocky']);
    expect(await find('email_verified:true')).toEqual(['ada', 'grace']);
    expect(await find('phone_verified:true')).toEqual(['phoney']);
    expect(await find('blocked:false')).toEqual(except('blocky').sort());
  });

  it('matches _exists_ on columns and metadata paths', async () => {
    expect(await find('_exists_:name')).toEqual(except('ghost').sort());
    expect(await find('NOT _exists_:name')).toEqual(['ghost']);
    expect(await find('_exists_:phone_number')).toEqual(['phoney']);
    expect(await find('_exists_:app_metadata.flags.beta')).toEqual(['ada']);
    expect(await find('_exists_:user_metadata.addresses.city')).toEqual(['ada', 'alan']);
    expect(await find('_exists_:user_metadata.tags')).toEqual(['ada']);
  });

  it('combines with AND, OR, side by side, NOT and parentheses', async () => {
    expect(await find('name:jo* AND logins_count:[10 TO *]')).toEqual(['jo', 'joan']);
    expect(await find('email:alan@turing.org OR email:grace@navy.mil')).toEqual(['alan', 'grace']);
    expect(await find('email:alan@turing.org email:grace@navy.mil')).toEqual(['alan', 'grace']);
    expect(await find('name:jo* NOT name:joh*')).toEqual(['jo', 'joan', 'star']);
    expect(await find('name:jo* AND NOT name:joh*')).toEqual(['jo', 'joan', 'star']);
    expect(await find('(name:jo* OR name:ada*) AND NOT logins_count:[0 TO 10]')).toEqual(['ada', 'jo', 'joan']);
    expect(await find('name:(jo OR ada*)')).toEqual(['ada', 'jo']);
    expect(await find('email:x@y.z OR (NOT blocked:false)')).toEqual(['blocky']);
  });

  it('negates without losing rows whose field is NULL (as Lucene does)', async () => {
    expect(await find('NOT name:"ada lovelace"')).toEqual(except('ada').sort());
    expect(await find('NOT username:alan')).toEqual(except('alan').sort());
    expect(await find('NOT phone_number:+1555*')).toEqual(except('phoney').sort());
    expect(await find('NOT last_login:[2026-01-01 TO *]')).toEqual(except('ada', 'alan').sort());
    expect(await find('NOT app_metadata.plan:gold')).toEqual(except('ada').sort());
  });

  it('matches metadata by dotted path: strings, numbers, booleans, nested objects, arrays skipped', async () => {
    expect(await find('app_metadata.plan:"gold"')).toEqual(['ada']);
    expect(await find('app_metadata.tier:3')).toEqual(['ada']);
    expect(await find('app_metadata.tier:4')).toEqual([]);
    expect(await find('app_metadata.beta:true')).toEqual(['ada']);
    expect(await find('app_metadata.flags.beta:true')).toEqual(['ada']);
    expect(await find('user_metadata.addresses.city:"Paris"')).toEqual(['ada']);
    expect(await find('user_metadata.addresses.city:London')).toEqual(['ada']);
    expect(await find('user_metadata.addresses.city:Manchester')).toEqual(['alan']);
    expect(await find('user_metadata.address.city:Paris')).toEqual(['grace']);
    expect(await find('user_metadata.tags:vip')).toEqual(['ada']);
    expect(await find('user_metadata.city:Paris')).toEqual([]);
  });

  it("never finds another tenant's users", async () => {
    expect(await find('email:alan@turing.org')).toEqual(['alan']);
    expect(await find('app_metadata.plan:gold')).toEqual(['ada']);
    expect(await find('user_metadata.addresses.city:Paris')).toEqual(['ada']);
    expect(await find('name:jo')).toEqual(['jo']);
    expect(await find('identities.connection:github')).toEqual(['gitty']);
    expect(await find('blocked:true')).toEqual(['blocky']);
    expect((await search({ includeTotals: true })).total).toBe(30);
    const fromOther = await search({ q: 'email:alan@turing.org OR name:jo' }, other);
    expect(fromOther.users.map((u) => u.email).sort()).toEqual(['alan@turing.org', 'jo@example.com']);
    expect(fromOther.users.some((u) => keyOf.has(u.user_id))).toBe(false);
  });

  it('keeps the lower-cased copies current when the store updates a name', async () => {
    const store = storeOf(other);
    const [twin] = (await search({ q: 'username:alan' }, other)).users;
    await store.update(twin!.user_id, { name: 'Ällan Türing', nickname: null });
    expect((await search({ q: 'name:"ällan türing"' }, other)).users.map((u) => u.user_id)).toEqual([twin!.user_id]);
    expect((await search({ q: 'name:"alan turing"' }, other)).users).toEqual([]);
    expect((await search({ q: '_exists_:nickname' }, other)).users.map((u) => u.email)).toEqual(['jo@example.com']);
  });

  it('returns users in the store shape', async () => {
    const [ada] = (await search({ q: 'username:AdaL' })).users;
    expect(ada).toEqual(await storeOf(acme).findById(idOf.get('ada')!));
    expect(ada).toMatchObject({ email: 'Ada.Lovelace@Example.COM', app_metadata: { plan: 'gold' }, email_verified: true, logins_count: 150 });
  });

  it('sorts by created_at ascending by default, and by any sortable field either way', async () => {
    const order = async (request: UserSearchRequest) => (await search(request)).users.map((u) => keyOf.get(u.user_id));
    expect(await order({ q: 'name:jo*' })).toEqual(['joan', 'john', 'johanna', 'jo', 'star']);
    expect(await order({ q: 'name:jo*', sort: 'created_at:-1' })).toEqual(['star', 'jo', 'johanna', 'john', 'joan']);
    // Lower-cased, code-point order on both backends: "jo" < "jo*star" < "joan clarke".
    expect(await order({ q: 'name:jo* OR name:ADA*', sort: 'name:1' })).toEqual(['ada', 'jo', 'star', 'joan', 'johanna', 'john']);
    expect(await order({ q: 'logins_count:[10 TO 21]', sort: 'logins_count:-1' })).toEqual(['joan', 'grace', 'jo', 'alan']);
    // NULL names sort last in both directions.
    expect(await order({ q: 'logins_count:[150 TO 200]', sort: 'name:1' })).toEqual(['ada', 'ghost']);
    expect(await order({ q: 'logins_count:[150 TO 200]', sort: 'name:-1' })).toEqual(['ada', 'ghost']);
  });

  it('breaks ties by user_id', async () => {
    const zero = (await search({ q: 'logins_count:0', sort: 'logins_count:1' })).users.map((u) => u.user_id);
    expect(zero).toHaveLength(6);
    expect(zero).toEqual([...zero].sort());
  });

  it("pages from 0 and answers Auth0's list shape, with the total when asked", async () => {
    const page = await search({ q: 'email:filler*', sort: 'logins_count:-1', page: 1, perPage: 5, includeTotals: true });
    expect(page.users.map((u) => keyOf.get(u.user_id))).toEqual(fillers(11, 10, 9, 8, 7));
    expect({ start: page.start, limit: page.limit, length: page.length, total: page.total }).toEqual({ start: 5, limit: 5, length: 5, total: 16 });
    const last = await search({ q: 'email:filler*', sort: 'logins_count:-1', page: 3, perPage: 5 });
    expect(last.users.map((u) => keyOf.get(u.user_id))).toEqual(fillers(1));
    expect(last).not.toHaveProperty('total');
    const everyone = await search({ perPage: 7, page: 4, includeTotals: true });
    expect({ length: everyone.length, total: everyone.total }).toEqual({ length: 2, total: 30 });
  });

  it('refuses bad queries, paging and sorts with their own errors', async () => {
    await expect(search({ q: 'logins_count:abc' })).rejects.toMatchObject({ name: 'SearchSyntaxError', position: 13 });
    await expect(search({ q: 'name:jo* AND' })).rejects.toBeInstanceOf(SearchSyntaxError);
    await expect(search({ page: 10, perPage: 100 })).rejects.toMatchObject({ code: 'invalid_paging', message: 'You can only page through the first 1000 records.' });
    await expect(search({ perPage: 101 })).rejects.toMatchObject({ code: 'invalid_paging' });
    await expect(search({ page: -1 })).rejects.toBeInstanceOf(UserSearchError);
    await expect(search({ sort: 'app_metadata.plan:1' })).rejects.toMatchObject({ code: 'invalid_sort' });
    await expect(search({ sort: 'name:2' })).rejects.toMatchObject({ code: 'invalid_sort' });
    await expect(search({ sort: 'constructor:1' })).rejects.toMatchObject({ code: 'invalid_sort' });
  });

  describe('past 1000 matches', () => {
    it('counts a total of at most 1000, and serves no result past the 1000th', async () => {
      expect(await storeOf(bulk).count()).toBe(1001);
      const first = await search({ includeTotals: true }, bulk);
      expect(first.total).toBe(1000);
      const straddling = await search({ page: 33, perPage: 30 }, bulk);
      expect({ start: straddling.start, length: straddling.length }).toEqual({ start: 990, length: 10 });
      expect(straddling.users.at(-1)?.user_id).toBe('auth0|bulk0999');
      await expect(search({ page: 34, perPage: 30 }, bulk)).rejects.toMatchObject({ code: 'invalid_paging' });
      expect(planUserSearch(bulk.id, backend, { page: 9, perPage: 100 })).toMatchObject({ offset: 900, limit: 100 });
    });
  });

  describe('index use', () => {
    // As autovacuum would in production: without statistics PostgreSQL
    // estimates one row per tenant and any tenant-led index looks as good.
    beforeAll(async () => {
      if (backend === 'postgres') await sql`analyze users`.execute(ctx.database.db);
    });

    /** The plan of the search's filter for one tenant, as the database explains it. */
    async function explain(q: string, tenant = acme): Promise<string> {
      const where = planUserSearch(tenant.id, backend, { q }).where;
      if (!where) throw new Error('no filter');
      const query = ctx.database.db.selectFrom('users').select('user_id').where('tenant_id', '=', tenant.id).where(where).compile();
      if (backend === 'sqlite') {
        const result = await ctx.database.db.executeQuery<{ detail: string }>(CompiledQuery.raw(`explain query plan ${query.sql}`, [...query.parameters]));
        return result.rows.map((r) => r.detail).join('\n');
      }
      // 30 rows fit in one page, where a sequential scan is rightly cheapest;
      // with it priced out, the plan shows whether an index CAN serve the filter.
      return ctx.database.db.transaction().execute(async (trx) => {
        await sql`set local enable_seqscan = off`.execute(trx);
        const result = await trx.executeQuery<{ 'QUERY PLAN': string }>(CompiledQuery.raw(`explain ${query.sql}`, [...query.parameters]));
        return result.rows.map((r) => r['QUERY PLAN']).join('\n');
      });
    }

    /** PostgreSQL: the index is scanned with the search condition itself as its Index Cond (not just tenant_id). */
    const pgIndex = (index: string, condition: string) => new RegExp(`(Index (Only )?Scan using|Bitmap Index Scan on) ${index}\\b.*\\n\\s*Index Cond: .*${condition}`);
    const cases: [what: string, q: string, sqlite: RegExp, postgres: RegExp][] = [
      ['email', 'email:"ada.lovelace@example.com"', /SEARCH users USING (COVERING )?INDEX users_email \(tenant_id=\? AND email_lower=\?\)/, pgIndex('users_search_email', "\\(email_lower\\)::text = 'ada\\.lovelace@example\\.com'")],
      ['name prefix', 'name:jo*', /SEARCH users USING (COVERING )?INDEX users_search_name \(tenant_id=\? AND name_lower>\? AND name_lower<\?\)/, pgIndex('users_search_name', "\\(name_lower\\)::text >= 'jo'::text\\) AND \\(\\(name_lower\\)::text < 'jp'")],
      ['logins_count range', 'logins_count:[10 TO 20]', /SEARCH users USING (COVERING )?INDEX users_search_logins_count \(tenant_id=\? AND logins_count>\? AND logins_count<\?\)/, pgIndex('users_search_logins_count', 'logins_count >= 10\\) AND \\(logins_count <= 20')],
      ['created_at range', 'created_at:[2024-03-01 TO 2024-06-01}', /SEARCH users USING (COVERING )?INDEX users_created_at \(tenant_id=\? AND created_at>\? AND created_at<\?\)/, pgIndex('users_created_at', "created_at >= '2024-03-01T00:00:00\\.000Z'::text\\) AND \\(created_at < '2024-06-01T00:00:00\\.000Z'")],
    ];

    it.each(cases)('%s is served by an index, not a full scan', async (_what, q, sqlite, postgres) => {
      const plan = await explain(q);
      expect(plan).toMatch(backend === 'sqlite' ? sqlite : postgres);
      expect(plan).not.toMatch(/^SCAN users|Seq Scan on users/m);
    });

    // Metadata terms and _exists_ are lookups in user_metadata_values' search
    // index (migration 0009) on both backends, never a scan of the users.
    it.each([
      ['app_metadata.plan:gold', "root = 'app_metadata'"],
      ['user_metadata.addresses.city:Paris', "root = 'user_metadata'"],
      ['_exists_:app_metadata.plan', "root = 'app_metadata'"],
    ])('metadata %s is served by the metadata values index', async (q, condition) => {
      const plan = await explain(q, bulk);
      // (SQLite names the primary key's index itself.)
      if (backend === 'sqlite') expect(plan).toMatch(/SEARCH m USING COVERING INDEX sqlite_autoindex_user_metadata_values_1 \(tenant_id=\? AND root=\? AND path=\?/);
      else expect(plan).toMatch(pgIndex('user_metadata_values_search', condition));
      expect(plan).not.toMatch(/^SCAN users|Seq Scan on users|SCAN m\b|Seq Scan on user_metadata_values/m);
    });
  });
});

describeEachBackend('migration 0003 (user search)', (backend) => {
  it('fills the lower-cased name copies of users that existed before it, with Unicode folding', async () => {
    const testDb = await createTestDatabase(backend);
    const database = openTestDatabase(testDb.config);
    try {
      const db = database.db as unknown as Kysely<unknown>;
      const migrator = new Migrator({ db, provider: { getMigrations: async () => allMigrations(database.capabilities) } });
      expect((await migrator.migrateTo('0002-tenant-config-version')).error).toBeUndefined();
      const now = '2025-01-01T00:00:00.000Z';
      await database.db.insertInto('tenants').values({ id: 'ten_1', name: 'one', friendly_name: null, is_default: false, settings: '{}', created_at: now, updated_at: now }).execute();
      await database.db.insertInto('connections').values({ id: 'con_1', tenant_id: 'ten_1', name: 'db', strategy: 'auth0', options: '{}', created_at: now, updated_at: now }).execute();
      const user = { tenant_id: 'ten_1', connection_id: 'con_1', email_verified: false, phone_verified: false, blocked: false, app_metadata: '{}', user_metadata: '{}', logins_count: 0, created_at: now, updated_at: now };
      await database.db
        .insertInto('users')
        .values([
          { ...user, user_id: 'auth0|1', name: 'ÉLODIE Ünal', given_name: 'ÉLODIE', family_name: null, nickname: 'ElO' },
          { ...user, user_id: 'auth0|2', name: null, given_name: null, family_name: null, nickname: null },
        ])
        .execute();
      // More rows than one backfill batch (500), so the keyset continues past the first batch.
      const many = Array.from({ length: 600 }, (_, i) => ({ ...user, user_id: `auth0|b${String(i).padStart(3, '0')}`, name: `BULK ${i}` }));
      await database.db.insertInto('users').values(many).execute();
      expect((await migrator.migrateToLatest()).error).toBeUndefined();
      const rows = await sql<{ user_id: string; name_lower: string | null; given_name_lower: string | null; family_name_lower: string | null; nickname_lower: string | null }>`
        select user_id, name_lower, given_name_lower, family_name_lower, nickname_lower from users where name is null or name not like 'BULK %' order by user_id`.execute(database.db);
      expect(rows.rows).toEqual([
        { user_id: 'auth0|1', name_lower: 'élodie ünal', given_name_lower: 'élodie', family_name_lower: null, nickname_lower: 'elo' },
        { user_id: 'auth0|2', name_lower: null, given_name_lower: null, family_name_lower: null, nickname_lower: null },
      ]);
      const bulk = await sql<{ n: number }>`select count(*) as n from users where name like 'BULK %' and name_lower = lower(name)`.execute(database.db);
      expect(Number(bulk.rows[0]?.n)).toBe(600);
      const found = await usersStore(database.db, 'ten_1', testRuntime()).search({ q: 'name:"élodie ünal" AND nickname:ELO' }, backend);
      expect(found.users.map((u) => u.user_id)).toEqual(['auth0|1']);
    } finally {
      await database.close();
      await testDb.drop();
    }
  });
});
