import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeEachBackend, migratedDatabase } from '../../test/support/backends.js';
import { testRuntime } from '../../test/support/clock.js';
import { createTenant } from '../../test/support/fixtures.js';
import type { Tenant } from '../tenants/store.js';
import { SearchSyntaxError } from '../search/lucene.js';
import { insertLogEvents, LOG_PAGE_CAP, LogCheckpointError, logsStore, purgeLogsBefore, purgeTenantLogsBefore, type LogEvent } from './store.js';

describeEachBackend('logs store', (backend) => {
  let ctx: Awaited<ReturnType<typeof migratedDatabase>>;
  let tenant: Tenant;
  const clock = testRuntime();
  const store = () => logsStore(ctx.database.db, tenant.id, clock);

  /** A tenant of its own with `n` events, one second apart; returns them oldest first. */
  async function tenantWithEvents(name: string, n: number, userOf: (i: number) => string | null = () => null) {
    const own = await createTenant(ctx.database, name);
    const ownClock = testRuntime('2031-01-01T00:00:00.000Z');
    const logs = logsStore(ctx.database.db, own.id, ownClock);
    const events: LogEvent[] = [];
    for (let i = 0; i < n; i++) {
      events.push(await logs.append({ type: 's', description: `event ${i}`, user_id: userOf(i) }));
      ownClock.advance(1000);
    }
    return { logs, events, ids: events.map((e) => e.log_id) };
  }

  beforeAll(async () => {
    ctx = await migratedDatabase(backend);
    tenant = await createTenant(ctx.database, 'acme');
  });
  afterAll(async () => ctx?.cleanup());

  it('round-trips every field, details as an object', async () => {
    const appended = await store().append({
      type: 'f',
      description: 'Wrong email or password.',
      ip: '203.0.113.7',
      user_agent: 'Mozilla/5.0',
      client_id: 'abc',
      client_name: 'My App',
      user_id: 'auth0|123',
      user_name: 'ada@example.com',
      connection: 'Username-Password-Authentication',
      connection_id: 'con_x',
      audience: 'https://api.example/',
      scope: 'openid profile',
      strategy: 'auth0',
      details: { error: { message: 'invalid password' }, attempts: 3, locked: false },
    });
    expect(appended.log_id).toMatch(/^90\d{15}[0-9a-f]{32}$/);
    expect(appended.log_id.slice(2, 17)).toBe(String(clock.now().getTime()).padStart(15, '0'));
    expect(appended.date).toBe(clock.now().toISOString());
    expect(await store().get(appended.log_id)).toEqual(appended);
    expect((await store().get(appended.log_id))?.details).toEqual({ error: { message: 'invalid password' }, attempts: 3, locked: false });
  });

  it('stores omitted fields as null and details as {}', async () => {
    const appended = await store().append({ type: 'sapi' });
    expect(await store().get(appended.log_id)).toEqual({
      log_id: appended.log_id,
      date: clock.now().toISOString(),
      type: 'sapi',
      description: null,
      ip: null,
      user_agent: null,
      client_id: null,
      client_name: null,
      user_id: null,
      user_name: null,
      connection: null,
      connection_id: null,
      audience: null,
      scope: null,
      strategy: null,
      details: {},
    });
  });

  it('returns undefined for an unknown log id', async () => {
    expect(await store().get('90000000000000000unknown')).toBeUndefined();
  });

  it('gives distinct log ids that sort by time', async () => {
    const first = await store().append({ type: 's' });
    const same = await store().append({ type: 's' });
    clock.advance(1);
    const later = await store().append({ type: 's' });
    expect(new Set([first.log_id, same.log_id, later.log_id]).size).toBe(3);
    expect(later.log_id > first.log_id && later.log_id > same.log_id).toBe(true);
  });

  it('lists newest first, page by page', async () => {
    const { logs, ids } = await tenantWithEvents('listing', 5);
    const newestFirst = [...ids].reverse();
    expect((await logs.list({ offset: 0, limit: 10 })).map((e) => e.log_id)).toEqual(newestFirst);
    expect((await logs.list({ offset: 0, limit: 2 })).map((e) => e.log_id)).toEqual(newestFirst.slice(0, 2));
    expect((await logs.list({ offset: 2, limit: 2 })).map((e) => e.log_id)).toEqual(newestFirst.slice(2, 4));
    expect((await logs.list({ offset: 4, limit: 2 })).map((e) => e.log_id)).toEqual(newestFirst.slice(4));
  });

  it('lists one user’s events, newest first, page by page', async () => {
    const { logs, events } = await tenantWithEvents('per-user', 6, (i) => (i % 2 === 0 ? 'auth0|even' : 'auth0|odd'));
    const evenNewestFirst = events.filter((e) => e.user_id === 'auth0|even').map((e) => e.log_id).reverse();
    expect((await logs.listForUser('auth0|even', { offset: 0, limit: 10 })).map((e) => e.log_id)).toEqual(evenNewestFirst);
    expect((await logs.listForUser('auth0|even', { offset: 1, limit: 1 })).map((e) => e.log_id)).toEqual(evenNewestFirst.slice(1, 2));
    expect(await logs.listForUser('auth0|nobody', { offset: 0, limit: 10 })).toEqual([]);
  });

  it('pages from a checkpoint, oldest first, until the end', async () => {
    const { logs, ids } = await tenantWithEvents('checkpoint', 5);
    const first = await logs.listFrom(undefined, 2);
    expect(first.map((e) => e.log_id)).toEqual(ids.slice(0, 2));
    const second = await logs.listFrom(first.at(-1)?.log_id, 2);
    expect(second.map((e) => e.log_id)).toEqual(ids.slice(2, 4));
    const third = await logs.listFrom(second.at(-1)?.log_id, 2);
    expect(third.map((e) => e.log_id)).toEqual(ids.slice(4));
    expect(await logs.listFrom(third.at(-1)?.log_id, 2)).toEqual([]);

    // A checkpoint reached while events keep coming picks up only the new ones.
    const more = await logs.append({ type: 'slo' });
    expect((await logs.listFrom(ids[4], 10)).map((e) => e.log_id)).toEqual([more.log_id]);
  });

  it('continues a checkpoint that retention purged from the oldest event kept, and refuses an unknown one', async () => {
    const own = await createTenant(ctx.database, 'purged-checkpoint');
    const clock = testRuntime('2031-01-01T00:00:00.000Z');
    const logs = logsStore(ctx.database.db, own.id, clock);
    const old = await logs.append({ type: 's' });
    clock.advance(86_400_000);
    const kept = await logs.append({ type: 'fp' });
    expect(await purgeTenantLogsBefore(ctx.database.db, own.id, '2031-01-01T12:00:00.000Z', 100)).toBe(1);
    // The reader's checkpoint is gone: it goes on from what is left, rather than waiting forever.
    expect((await logs.listFrom(old.log_id, 10)).map((e) => e.log_id)).toEqual([kept.log_id]);
    // An id that is not ours, or names no event (kept or purged), is an error, not an empty page.
    await expect(logs.listFrom('not-a-log-id', 10)).rejects.toBeInstanceOf(LogCheckpointError);
    await expect(logs.listFrom(`90${String(Date.parse('2031-01-03T00:00:00.000Z')).padStart(15, '0')}abcdef`, 10)).rejects.toBeInstanceOf(LogCheckpointError);
    const elsewhere = await createTenant(ctx.database, 'checkpoint-elsewhere');
    const later = await logsStore(ctx.database.db, elsewhere.id, testRuntime('2031-01-05T00:00:00.000Z')).append({ type: 's' });
    await expect(logs.listFrom(later.log_id, 10)).rejects.toBeInstanceOf(LogCheckpointError);
  });

  it('orders checkpoint pages by insertion, not by date', async () => {
    const own = await createTenant(ctx.database, 'skewed');
    const skewed = testRuntime('2031-01-01T00:00:10.000Z');
    const logs = logsStore(ctx.database.db, own.id, skewed);
    const a = await logs.append({ type: 's' });
    // A node whose clock lags writes after `a` with an earlier date.
    skewed.advance(-5000);
    const b = await logs.append({ type: 's' });
    expect((await logs.listFrom(undefined, 10)).map((e) => e.log_id)).toEqual([a.log_id, b.log_id]);
    expect((await logs.listFrom(a.log_id, 10)).map((e) => e.log_id)).toEqual([b.log_id]);
  });

  it('searches with a Lucene query, in either order, page by page, with a bounded total', async () => {
    const own = await createTenant(ctx.database, 'searching');
    const ownClock = testRuntime('2031-01-01T00:00:00.000Z');
    const logs = logsStore(ctx.database.db, own.id, ownClock);
    const events: LogEvent[] = [];
    for (const [i, type] of ['s', 'f', 's', 'ss', 's'].entries()) {
      events.push(await logs.append({ type, client_name: i < 2 ? 'Orders' : 'Billing', user_id: `auth0|u${i}` }));
      ownClock.advance(86_400_000);
    }
    const dialect = ctx.database.capabilities.name;
    const idsOf = (found: { events: LogEvent[] }) => found.events.map((e) => e.log_id);
    const all = events.map((e) => e.log_id);
    expect(idsOf(await logs.search({ offset: 0, limit: 10 }, dialect))).toEqual([...all].reverse());
    expect(idsOf(await logs.search({ offset: 1, limit: 2, ascending: true }, dialect))).toEqual(all.slice(1, 3));
    expect(idsOf(await logs.search({ q: 'type:s', offset: 0, limit: 10, ascending: true }, dialect))).toEqual([all[0], all[2], all[4]]);
    expect(idsOf(await logs.search({ q: 'Bill* AND NOT type:s', offset: 0, limit: 10 }, dialect))).toEqual([all[3]]);
    expect(idsOf(await logs.search({ q: 'date:[2031-01-02 TO 2031-01-03]', offset: 0, limit: 10, ascending: true }, dialect))).toEqual([all[1], all[2]]);
    expect(await logs.search({ q: 'type:s', offset: 0, limit: 1, includeTotals: true }, dialect)).toMatchObject({ total: 3 });
    expect(await logs.search({ q: '   ', offset: 0, limit: 1, includeTotals: true }, dialect)).toMatchObject({ total: 5 });
    expect(await logs.search({ q: 'type:s', offset: 0, limit: 1 }, dialect)).not.toHaveProperty('total');
    await expect(logs.search({ q: 'nope:x', offset: 0, limit: 1 }, dialect)).rejects.toBeInstanceOf(SearchSyntaxError);
    // Another tenant's events are never found.
    expect(idsOf(await store().search({ q: 'user_id:"auth0|u0"', offset: 0, limit: 10 }, dialect))).toEqual([]);
    expect(LOG_PAGE_CAP).toBe(1000);
  });

  it('counts events of given types per UTC day, with the first and last date of each', async () => {
    const own = await createTenant(ctx.database, 'daily');
    const ownClock = testRuntime('2031-05-01T00:00:00.000Z');
    const logs = logsStore(ctx.database.db, own.id, ownClock);
    const at = (instant: string, type: string) => {
      ownClock.set(instant);
      return logs.append({ type });
    };
    await at('2031-04-30T23:59:59.999Z', 's');
    await at('2031-05-01T00:00:00.000Z', 's');
    await at('2031-05-01T12:00:00.000Z', 's');
    await at('2031-05-01T13:00:00.000Z', 'ss');
    await at('2031-05-01T14:00:00.000Z', 'f');
    await at('2031-05-02T23:59:59.999Z', 'pwd_leak');
    await at('2031-05-03T00:00:00.000Z', 's');
    expect(await logs.dailyCounts(['s', 'ss', 'pwd_leak'], '2031-05-01T00:00:00.000Z', '2031-05-03T00:00:00.000Z')).toEqual([
      { day: '2031-05-01', type: 's', count: 2, first: '2031-05-01T00:00:00.000Z', last: '2031-05-01T12:00:00.000Z' },
      { day: '2031-05-01', type: 'ss', count: 1, first: '2031-05-01T13:00:00.000Z', last: '2031-05-01T13:00:00.000Z' },
      { day: '2031-05-02', type: 'pwd_leak', count: 1, first: '2031-05-02T23:59:59.999Z', last: '2031-05-02T23:59:59.999Z' },
    ]);
    expect(await logs.dailyCounts([], '2031-05-01T00:00:00.000Z', '2031-05-03T00:00:00.000Z')).toEqual([]);
    expect(await store().dailyCounts(['s'], '2031-05-01T00:00:00.000Z', '2031-05-03T00:00:00.000Z')).toEqual([]);
  });

  it('numbers each tenant’s events 1, 2, 3… and pages after a number, oldest first', async () => {
    const { logs, ids } = await tenantWithEvents('numbered', 4);
    const other = await tenantWithEvents('numbered-other', 2);
    expect(await logs.lastSeq()).toBe(4);
    expect(await other.logs.lastSeq()).toBe(2);
    const all = await logs.listAfterSeq(0, 10);
    expect(all.map((e) => e.seq)).toEqual([1, 2, 3, 4]);
    expect(all.map((e) => e.event.log_id)).toEqual(ids);
    expect(all[0]?.event).toEqual(await logs.get(ids[0] as string));
    expect((await logs.listAfterSeq(2, 1)).map((e) => e.seq)).toEqual([3]);
    expect(await logs.listAfterSeq(4, 10)).toEqual([]);
    const fresh = await createTenant(ctx.database, 'numbered-empty');
    expect(await logsStore(ctx.database.db, fresh.id, clock).lastSeq()).toBe(0);
  });

  it('writes a batch of several tenants in one call, numbers in input order per tenant', async () => {
    const a = await createTenant(ctx.database, 'batch-a');
    const b = await createTenant(ctx.database, 'batch-b');
    const written = await insertLogEvents(ctx.database.db, clock, [
      { tenantId: b.id, event: { type: 's' } },
      { tenantId: a.id, event: { type: 'f' } },
      { tenantId: b.id, event: { type: 'ss' } },
    ]);
    expect(written.map((w) => [w.seq, w.event.type])).toEqual([[1, 's'], [1, 'f'], [2, 'ss']]);
    expect((await logsStore(ctx.database.db, b.id, clock).listAfterSeq(0, 10)).map((e) => e.event.type)).toEqual(['s', 'ss']);
    // A batch that fails writes nothing and takes no numbers.
    await expect(insertLogEvents(ctx.database.db, clock, [{ tenantId: a.id, event: { type: 's' } }, { tenantId: 'ten_missing', event: { type: 's' } }])).rejects.toThrow();
    expect(await logsStore(ctx.database.db, a.id, clock).lastSeq()).toBe(1);
    expect((await insertLogEvents(ctx.database.db, clock, [{ tenantId: a.id, event: { type: 's' } }]))[0]?.seq).toBe(2);
  });

  it('keeps numbers gap-free and visible in order while many writers append at once', async () => {
    const own = await createTenant(ctx.database, 'concurrent');
    const logs = logsStore(ctx.database.db, own.id, clock);
    const seen: number[] = [];
    let writing = true;
    const reader = (async () => {
      // Follows the sequence like a stream would: whatever it reads must continue exactly where it stopped.
      while (writing || seen.length < 200) {
        const page = await logs.listAfterSeq(seen.at(-1) ?? 0, 50);
        for (const { seq } of page) {
          expect(seq).toBe((seen.at(-1) ?? 0) + 1);
          seen.push(seq);
        }
        if (page.length === 0) await new Promise((resolve) => setImmediate(resolve));
      }
    })();
    await Promise.all(Array.from({ length: 40 }, (_, w) => (async () => {
      for (let i = 0; i < 5; i++) await logs.append({ type: 's', description: `w${w}` });
    })()));
    writing = false;
    await reader;
    expect(seen).toEqual(Array.from({ length: 200 }, (_, i) => i + 1));
    expect(await logs.lastSeq()).toBe(200);
  });

  it('never shows a number before a smaller one has committed (the tenant’s log commits are serialised)', async () => {
    if (!ctx.database.capabilities.rowLocks) return; // SQLite has one writer: a transaction in flight blocks every other one.
    const own = await createTenant(ctx.database, 'held');
    const logs = logsStore(ctx.database.db, own.id, clock);
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    let firstAllocated!: () => void;
    const allocated = new Promise<void>((resolve) => (firstAllocated = resolve));
    const first = ctx.database.db.transaction().execute(async (trx) => {
      const written = await insertLogEvents(trx, clock, [{ tenantId: own.id, event: { type: 's' } }]);
      firstAllocated();
      await held;
      return written;
    });
    await allocated;
    const second = logs.append({ type: 'f' });
    // Wait until the second writer is blocked on the first one's row lock.
    for (;;) {
      const waiting = await sql<{ n: number }>`select count(*) as n from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock'`.execute(ctx.database.db);
      if (Number(waiting.rows[0]?.n) > 0) break;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    expect(await logs.listAfterSeq(0, 10)).toEqual([]);
    expect(await logs.lastSeq()).toBe(0);
    release();
    const [[one], two] = await Promise.all([first, second]);
    expect(one?.seq).toBe(1);
    expect((await logs.listAfterSeq(0, 10)).map((e) => [e.seq, e.event.log_id])).toEqual([[1, one?.event.log_id], [2, two.log_id]]);
  });

  it('purges one tenant’s old events in batches, leaving other tenants and the numbering alone', async () => {
    const purgeClock = testRuntime('2032-01-01T00:00:00.000Z');
    const mine = await createTenant(ctx.database, 'purge-batches');
    const theirs = await createTenant(ctx.database, 'purge-batches-other');
    const logs = logsStore(ctx.database.db, mine.id, purgeClock);
    const other = logsStore(ctx.database.db, theirs.id, purgeClock);
    for (let i = 0; i < 5; i++) await logs.append({ type: 's' });
    const theirsOld = await other.append({ type: 's' });
    purgeClock.advance(1000);
    const cut = purgeClock.now().toISOString();
    const kept = await logs.append({ type: 's' });
    expect(await purgeTenantLogsBefore(ctx.database.db, mine.id, cut, 2)).toBe(2);
    expect(await purgeTenantLogsBefore(ctx.database.db, mine.id, cut, 2)).toBe(2);
    expect(await purgeTenantLogsBefore(ctx.database.db, mine.id, cut, 2)).toBe(1);
    expect(await purgeTenantLogsBefore(ctx.database.db, mine.id, cut, 2)).toBe(0);
    expect((await logs.listAfterSeq(0, 10)).map((e) => [e.seq, e.event.log_id])).toEqual([[6, kept.log_id]]);
    expect(await other.get(theirsOld.log_id)).toEqual(theirsOld);
    expect(await logs.lastSeq()).toBe(6);
    expect((await logs.append({ type: 's' })) && (await logs.lastSeq())).toBe(7);
  });

  describe('purgeLogsBefore', () => {
    // Retention spans every tenant, so it gets a database of its own.
    let purgeCtx: Awaited<ReturnType<typeof migratedDatabase>>;
    beforeAll(async () => {
      purgeCtx = await migratedDatabase(backend);
    });
    afterAll(async () => purgeCtx?.cleanup());

    it('deletes events older than the cut-off in every tenant, keeping the rest', async () => {
      const purgeClock = testRuntime('2030-01-01T00:00:00.000Z');
      const one = logsStore(purgeCtx.database.db, (await createTenant(purgeCtx.database, 'one')).id, purgeClock);
      const two = logsStore(purgeCtx.database.db, (await createTenant(purgeCtx.database, 'two')).id, purgeClock);
      const old1 = await one.append({ type: 's' });
      const old2 = await two.append({ type: 's' });
      purgeClock.advance(1000);
      const cutOff = purgeClock.now().toISOString();
      const atCut = await one.append({ type: 's' });
      purgeClock.advance(1000);
      const newer = await two.append({ type: 's' });

      expect(await purgeLogsBefore(purgeCtx.database.db, cutOff)).toBe(2);
      expect(await one.get(old1.log_id)).toBeUndefined();
      expect(await two.get(old2.log_id)).toBeUndefined();
      expect(await one.get(atCut.log_id)).toEqual(atCut);
      expect(await two.get(newer.log_id)).toEqual(newer);
      expect(await purgeLogsBefore(purgeCtx.database.db, cutOff)).toBe(0);
    });
  });
});
