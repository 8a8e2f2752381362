import pino from 'pino';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startListeningTestApp, type TestApp } from '../../test/support/app.js';
import { describeEachBackend, migratedDatabase } from '../../test/support/backends.js';
import { testRuntime } from '../../test/support/clock.js';
import { createTenant } from '../../test/support/fixtures.js';
import { managementToken } from '../../test/support/management.js';
import { tenantsStore } from '../tenants/store.js';
import type { Tenant } from '../tenants/store.js';
import { startWorker } from '../worker/worker.js';
import { purgeExpiredLogs } from './retention.js';
import { logsStore } from './store.js';

const DAY = 86_400_000;

describeEachBackend('log retention', (backend) => {
  let ctx: Awaited<ReturnType<typeof migratedDatabase>>;
  const clock = testRuntime('2032-06-01T00:00:00.000Z');

  beforeAll(async () => {
    ctx = await migratedDatabase(backend);
  });
  afterAll(async () => ctx?.cleanup());

  /** A tenant with one event per day for `days` days up to now (oldest first); `retention` sets log_retention_days. */
  async function tenantWithHistory(name: string, days: number, retention?: number): Promise<{ tenant: Tenant; ids: string[] }> {
    const tenant = await createTenant(ctx.database, name);
    if (retention !== undefined) await tenantsStore(ctx.database.db, clock).updateSettings(tenant.id, { ...tenant.settings, log_retention_days: retention });
    const at = testRuntime(new Date(clock.now().getTime() - days * DAY));
    const logs = logsStore(ctx.database.db, tenant.id, at);
    const ids: string[] = [];
    for (let d = 0; d < days; d++) {
      ids.push((await logs.append({ type: 's', description: `day ${d}` })).log_id);
      at.advance(DAY);
    }
    return { tenant, ids };
  }

  const remaining = async (tenant: Tenant) => (await logsStore(ctx.database.db, tenant.id, clock).listAfterSeq(0, 1000)).map((e) => e.event.log_id);

  it('keeps each tenant’s events for its own retention (default 30 days), purging in bounded batches across runs', async () => {
    const standard = await tenantWithHistory('retention-default', 40);
    const short = await tenantWithHistory('retention-short', 10, 7);
    // Events 40..31 days old (10) and 10..8 days old (3) are past retention; one DELETE of 4 rows per batch,
    // 3 batches per run: the first run cannot finish both tenants, the second does.
    const first = await purgeExpiredLogs(ctx.database, clock, 30, 4, 3);
    expect(first).toBeLessThan(13);
    const second = await purgeExpiredLogs(ctx.database, clock, 30, 4, 3);
    expect(first + second).toBe(13);
    expect(await purgeExpiredLogs(ctx.database, clock, 30, 4, 3)).toBe(0);
    expect(await remaining(standard.tenant)).toEqual(standard.ids.slice(10));
    expect(await remaining(short.tenant)).toEqual(short.ids.slice(3));
    // The numbering is untouched: the next event continues after the purged ones.
    expect(await logsStore(ctx.database.db, short.tenant.id, clock).lastSeq()).toBe(10);
  });

  it('is purged by the worker role', async () => {
    const old = await tenantWithHistory('retention-worker', 35);
    const worker = startWorker({ database: ctx.database, logger: pino({ level: 'silent' }), runtime: clock, intervalMs: 20, logRetentionDays: 30 });
    try {
      while ((await remaining(old.tenant)).length > 30) await new Promise((resolve) => setTimeout(resolve, 20));
    } finally {
      await worker.stop();
    }
    expect(await remaining(old.tenant)).toEqual(old.ids.slice(5));
  });
});

describeEachBackend('log retention setting (PATCH /api/v2/tenants/settings, Portcullis’s own field)', (backend) => {
  let t: TestApp;
  let issuer: string;
  let token: string;

  beforeAll(async () => {
    let tenantId: string;
    ({ t, issuer, tenantId } = await startListeningTestApp(backend));
    token = await managementToken(issuer, await t.services.clients.ensureAdminClient(tenantId));
  });
  afterAll(async () => t?.cleanup());

  const settings = (method: 'GET' | 'PATCH', body?: unknown) =>
    fetch(`${issuer}api/v2/tenants/settings`, { method, headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) }, ...(body ? { body: JSON.stringify(body) } : {}) });

  it('is absent until set, then kept; a value outside 1–3650 days is a 400 naming the field', async () => {
    expect(await (await settings('GET')).json()).not.toHaveProperty('log_retention_days');
    const set = await settings('PATCH', { log_retention_days: 90 });
    expect(set.status).toBe(200);
    expect(await set.json()).toMatchObject({ log_retention_days: 90 });
    expect(await (await settings('GET')).json()).toMatchObject({ log_retention_days: 90 });
    for (const bad of [0, 3651, 1.5, '30']) {
      const res = await settings('PATCH', { log_retention_days: bad });
      expect(res.status).toBe(400);
      expect(await res.json()).toMatchObject({ statusCode: 400, errorCode: 'invalid_body', message: expect.stringContaining('log_retention_days') });
    }
  });
});
