import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeEachBackend, migratedDatabase } from '../../test/support/backends.js';
import { testRuntime } from '../../test/support/clock.js';
import { createTenant } from '../../test/support/fixtures.js';
import { DEFAULT_DATABASE_CONNECTION } from '../connections/store.js';
import { tenantStores } from '../tenants/tenant-stores.js';
import type { Tenant } from '../tenants/store.js';
import { hashTicketToken } from './service.js';
import { ticketsStore, ticketState, type NewTicket } from './store.js';

describeEachBackend('tickets store', (backend) => {
  let ctx: Awaited<ReturnType<typeof migratedDatabase>>;
  let acme: Tenant;
  let other: Tenant;
  let userId: string;
  let counter = 0;
  const clock = testRuntime('2031-05-01T00:00:00.000Z');
  const store = (tenant: Tenant = acme) => ticketsStore(ctx.database.db, tenant.id, clock);
  const ticket = (extra: Partial<NewTicket> = {}): NewTicket => ({
    tokenHash: hashTicketToken(`token-${backend}-${++counter}`.padEnd(43, 'x')),
    kind: 'password_change',
    userId,
    email: 'Jane@Example.test',
    includeEmail: true,
    ttlSeconds: 3600,
    ...extra,
  });

  async function newUser(tenant: Tenant, email: string): Promise<string> {
    const stores = tenantStores(ctx.database.db, tenant.id, clock);
    const connection = await stores.connections.findByName(DEFAULT_DATABASE_CONNECTION);
    return (await stores.users.insert({ connectionId: connection!.id, provider: 'auth0', email }))!.user_id;
  }

  beforeAll(async () => {
    ctx = await migratedDatabase(backend);
    acme = await createTenant(ctx.database, 'acme');
    other = await createTenant(ctx.database, 'other');
    userId = await newUser(acme, 'jane@example.test');
  });
  afterAll(async () => ctx?.cleanup());

  it('stores a ticket under its token hash, with the email lower-cased, and finds it by kind', async () => {
    const input = ticket({ clientId: 'client-1', resultUrl: 'https://app.example.test/done', markEmailVerified: true });
    const stored = await store().insert(input);
    expect(stored).toEqual({
      tokenHash: input.tokenHash,
      kind: 'password_change',
      userId,
      email: 'jane@example.test',
      clientId: 'client-1',
      resultUrl: 'https://app.example.test/done',
      includeEmail: true,
      markEmailVerified: true,
      createdAt: '2031-05-01T00:00:00.000Z',
      expiresAt: '2031-05-01T01:00:00.000Z',
      consumedAt: null,
    });
    expect(await store().find('password_change', input.tokenHash)).toEqual(stored);
    expect(await store().find('email_verification', input.tokenHash)).toBeUndefined();
    expect(ticketState(stored, clock.now().toISOString())).toBe('live');
  });

  it('consumes a ticket once: the second consumer gets nothing, and the state says used', async () => {
    const input = ticket();
    await store().insert(input);
    expect((await store().consume('password_change', input.tokenHash))?.userId).toBe(userId);
    expect(await store().consume('password_change', input.tokenHash)).toBeUndefined();
    const used = (await store().find('password_change', input.tokenHash))!;
    expect(used.consumedAt).toBe(clock.now().toISOString());
    expect(ticketState(used, clock.now().toISOString())).toBe('used');
  });

  it('gives a ticket to exactly one of 20 concurrent consumers', async () => {
    const input = ticket();
    await store().insert(input);
    const results = await Promise.all(Array.from({ length: 20 }, () => store().consume('password_change', input.tokenHash)));
    expect(results.filter((r) => r !== undefined)).toHaveLength(1);
  });

  it('never consumes an expired ticket nor one of another kind or tenant', async () => {
    const input = ticket({ ttlSeconds: 60 });
    await store().insert(input);
    expect(await store(other).consume('password_change', input.tokenHash)).toBeUndefined();
    expect(await store(other).find('password_change', input.tokenHash)).toBeUndefined();
    expect(await store().consume('email_verification', input.tokenHash)).toBeUndefined();
    clock.advance(60_000);
    expect(await store().consume('password_change', input.tokenHash)).toBeUndefined();
    expect(ticketState((await store().find('password_change', input.tokenHash))!, clock.now().toISOString())).toBe('expired');
  });

  it('purges expired tickets of its own tenant only, in batches', async () => {
    const otherUser = await newUser(other, 'someone@example.test');
    const theirs = ticket({ userId: otherUser, ttlSeconds: 1 });
    await store(other).insert(theirs);
    const live = ticket({ ttlSeconds: 7200 });
    await store().insert(live);
    for (let i = 0; i < 3; i++) await store().insert(ticket({ ttlSeconds: 1 }));
    clock.advance(2000);
    const expired = await ctx.database.db.selectFrom('user_tickets').select('token_hash').where('tenant_id', '=', acme.id).where('expires_at', '<=', clock.now().toISOString()).execute();
    expect(expired.length).toBeGreaterThanOrEqual(3);
    expect(await store().purgeExpired(2)).toBe(2);
    expect(await store().purgeExpired()).toBe(expired.length - 2);
    expect(await store().purgeExpired()).toBe(0);
    expect(await store().find('password_change', live.tokenHash)).toBeDefined();
    expect(await store(other).find('password_change', theirs.tokenHash)).toBeDefined();
  });

  it('deletes a user’s tickets with the user', async () => {
    const doomed = await newUser(acme, 'doomed@example.test');
    const input = ticket({ userId: doomed });
    await store().insert(input);
    await tenantStores(ctx.database.db, acme.id, clock).users.delete(doomed);
    expect(await store().find('password_change', input.tokenHash)).toBeUndefined();
  });
});
