import { sql } from 'kysely';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeEachBackend, migratedDatabase } from '../../test/support/backends.js';
import { testRuntime } from '../../test/support/clock.js';
import { createTenant } from '../../test/support/fixtures.js';
import { EventBus, LOG_EVENT_TYPES, type SecurityEvent } from '../events/bus.js';
import { tenantStores } from '../tenants/tenant-stores.js';
import { logsStore } from './store.js';
import { LogWriter } from './writer.js';

describeEachBackend('log writer (the bus’s durable listener)', (backend) => {
  let ctx: Awaited<ReturnType<typeof migratedDatabase>>;
  const clock = testRuntime('2031-03-01T00:00:00.000Z');

  beforeAll(async () => {
    ctx = await migratedDatabase(backend);
  });
  afterAll(async () => ctx?.cleanup());

  /** A bus whose durable listener is a new writer; `batches` records each transaction's size and outcome. */
  function writerBus(database = ctx.database) {
    const batches: Array<{ size: number; failed: boolean }> = [];
    const writer = new LogWriter({ database, runtime: clock, factsTtlMs: 60_000, onBatch: (size, _seconds, error) => batches.push({ size, failed: error !== undefined }) });
    const bus = new EventBus();
    bus.onDurable(writer.write);
    return { bus, writer, batches };
  }

  it('writes the events published in one turn of the event loop in one transaction, each committed when its publish resolves', async () => {
    const tenant = await createTenant(ctx.database, 'group-commit');
    const { bus, batches } = writerBus();
    const published = Array.from({ length: 25 }, (_, i) => bus.publish({ tenantId: tenant.id, type: 's', userName: `u${i}@example.test` }));
    await Promise.all(published);
    expect(batches).toEqual([{ size: 25, failed: false }]);
    const written = await logsStore(ctx.database.db, tenant.id, clock).listAfterSeq(0, 100);
    expect(written.map((w) => [w.seq, w.event.user_name])).toEqual(Array.from({ length: 25 }, (_, i) => [i + 1, `u${i}@example.test`]));

    // One event: committed by the time its publish resolves.
    await bus.publish({ tenantId: tenant.id, type: 'slo' });
    expect((await logsStore(ctx.database.db, tenant.id, clock).listAfterSeq(25, 10)).map((w) => w.event.type)).toEqual(['slo']);
  });

  it('groups the events published while a transaction is in flight into the next one', async () => {
    const tenant = await createTenant(ctx.database, 'in-flight');
    const { bus, batches } = writerBus();
    const first = bus.publish({ tenantId: tenant.id, type: 's' });
    // Published after the first transaction started (next turn), before it committed.
    await new Promise((resolve) => setImmediate(resolve));
    const more = Array.from({ length: 10 }, () => bus.publish({ tenantId: tenant.id, type: 'f' }));
    await Promise.all([first, ...more]);
    expect(batches.map((b) => b.size)).toEqual([1, 10]);
    expect(await logsStore(ctx.database.db, tenant.id, clock).lastSeq()).toBe(11);
  });

  it('stores Auth0’s snake_case fields, fills client_name, the user’s name and connection, and the description', async () => {
    const tenant = await createTenant(ctx.database, 'fields');
    const stores = tenantStores(ctx.database.db, tenant.id, clock);
    const client = await stores.clients.insert({ clientId: 'orders-app', name: 'Orders App', appType: 'regular_web', isFirstParty: true, tokenEndpointAuthMethod: 'client_secret_basic', secretSealed: null });
    const connection = (await stores.connections.findByName('Username-Password-Authentication'))!;
    const user = await stores.users.insert({ email: 'Ada@Example.test', connectionId: connection.id, provider: 'auth0', passwordHash: 'x' });
    const { bus } = writerBus();
    await bus.publish({ tenantId: tenant.id, type: 'seacft', clientId: client.clientId, userId: user!.user_id, ip: '203.0.113.9', userAgent: 'agent/1.0', audience: 'https://api.example/', scope: 'openid read:x', details: { grant_type: 'authorization_code' } });
    const [written] = await logsStore(ctx.database.db, tenant.id, clock).listAfterSeq(0, 10);
    expect(written?.event).toMatchObject({
      type: 'seacft',
      description: LOG_EVENT_TYPES.seacft,
      date: clock.now().toISOString(),
      ip: '203.0.113.9',
      user_agent: 'agent/1.0',
      client_id: client.clientId,
      client_name: 'Orders App',
      user_id: user!.user_id,
      user_name: 'Ada@Example.test',
      connection: 'Username-Password-Authentication',
      connection_id: connection.id,
      strategy: 'auth0',
      audience: 'https://api.example/',
      scope: 'openid read:x',
      details: { grant_type: 'authorization_code' },
    });
    expect(written?.event.log_id).toMatch(/^90\d{15}[0-9a-f]{32}$/);

    // What the publisher says wins; an unknown client has no name.
    await bus.publish({ tenantId: tenant.id, type: 'fu', clientId: 'no-such-client', userName: 'typed@example.test', connection: 'Other', description: 'Wrong email or password.' });
    const [failed] = await logsStore(ctx.database.db, tenant.id, clock).listAfterSeq(1, 10);
    expect(failed?.event).toMatchObject({ type: 'fu', client_id: 'no-such-client', client_name: null, user_name: 'typed@example.test', connection: 'Other', user_id: null, description: 'Wrong email or password.' });
  });

  it('redacts credential-named details and bounds long text', async () => {
    const tenant = await createTenant(ctx.database, 'redact');
    const { bus } = writerBus();
    await bus.publish({
      tenantId: tenant.id,
      type: 'fepft',
      userAgent: 'x'.repeat(5000),
      details: { error: 'invalid_grant', body: { password: 'hunter2hunter2', client_secret: 'shh-secret', nested: [{ refresh_token: 'rt-value', code_verifier: 'cv-value' }] }, id_token_hint: 'eyJhbGciOi.token' },
    });
    const [written] = await logsStore(ctx.database.db, tenant.id, clock).listAfterSeq(0, 10);
    const stored = JSON.stringify(written?.event);
    for (const secret of ['hunter2hunter2', 'shh-secret', 'rt-value', 'cv-value', 'eyJhbGciOi.token']) expect(stored).not.toContain(secret);
    expect(written?.event.details).toEqual({ error: 'invalid_grant', body: { password: '[redacted]', client_secret: '[redacted]', nested: [{ refresh_token: '[redacted]', code_verifier: '[redacted]' }] }, id_token_hint: '[redacted]' });
    expect(written?.event.user_agent).toHaveLength(512);
  });

  it('stores a NUL a caller typed as U+FFFD, so the events of its batch are not refused (PostgreSQL refuses NUL)', async () => {
    const tenant = await createTenant(ctx.database, 'nul');
    const { bus } = writerBus();
    await Promise.all([
      bus.publish({ tenantId: tenant.id, type: 'fu', userName: 'eve\u0000@example.test', clientId: 'cli\u0000', details: { ['key\u0000']: ['v\u0000'] } }),
      bus.publish({ tenantId: tenant.id, type: 's', userName: 'ann@example.test' }),
    ]);
    const events = (await logsStore(ctx.database.db, tenant.id, clock).listAfterSeq(0, 10)).map((w) => w.event);
    expect(events.map((e) => e.type)).toEqual(['fu', 's']);
    expect(events[0]).toMatchObject({ user_name: 'eve\uFFFD@example.test', client_id: 'cli\uFFFD', details: { ['key\uFFFD']: ['v\uFFFD'] } });
  });

  it('rejects the publishes of a tenant whose write fails, and still commits the other tenants’ events of that batch', async () => {
    const tenant = await createTenant(ctx.database, 'survivor');
    const { bus, batches } = writerBus();
    const results = await Promise.allSettled([
      bus.publish({ tenantId: tenant.id, type: 's' }),
      bus.publish({ tenantId: 'ten_gone', type: 's' }),
      bus.publish({ tenantId: tenant.id, type: 'f' }),
    ]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect(batches).toEqual([
      { size: 3, failed: true },
      { size: 2, failed: false },
      { size: 1, failed: true },
    ]);
    expect((await logsStore(ctx.database.db, tenant.id, clock).listAfterSeq(0, 10)).map((w) => [w.seq, w.event.type])).toEqual([[1, 's'], [2, 'f']]);
  });

  it('rejects every publish when the database cannot take the write, and writes again once it can', async () => {
    const tenant = await createTenant(ctx.database, 'outage');
    const { bus } = writerBus();
    // The sequence table gone stands in for a database that refuses writes.
    await sql`alter table log_sequences rename to log_sequences_away`.execute(ctx.database.db);
    try {
      const results = await Promise.allSettled([bus.publish({ tenantId: tenant.id, type: 's' }), bus.publish({ tenantId: tenant.id, type: 'seccft' })]);
      expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    } finally {
      await sql`alter table log_sequences_away rename to log_sequences`.execute(ctx.database.db);
    }
    await bus.publish({ tenantId: tenant.id, type: 'ss' });
    expect((await logsStore(ctx.database.db, tenant.id, clock).listAfterSeq(0, 10)).map((w) => [w.seq, w.event.type])).toEqual([[1, 'ss']]);
  });

  it('flush waits for what is queued', async () => {
    const tenant = await createTenant(ctx.database, 'flush');
    const { bus, writer } = writerBus();
    const events: SecurityEvent[] = Array.from({ length: 3 }, () => ({ tenantId: tenant.id, type: 'sapi' }));
    const published = events.map((e) => bus.publish(e));
    await writer.flush();
    expect(await logsStore(ctx.database.db, tenant.id, clock).lastSeq()).toBe(3);
    await Promise.all(published);
  });
});
