import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeEachBackend, migratedDatabase } from '../../test/support/backends.js';
import { createTenant } from '../../test/support/fixtures.js';
import { artifactsStore } from '../oauth/artifact-store.js';
import { systemRuntime, type Runtime } from '../storage/runtime.js';
import { sweepOnce } from './worker.js';

describeEachBackend('worker: expired artifact sweep', (backend) => {
  let ctx: Awaited<ReturnType<typeof migratedDatabase>>;
  beforeAll(async () => {
    ctx = await migratedDatabase(backend);
  });
  afterAll(async () => ctx?.cleanup());

  it('deletes expired artifacts of every tenant, in batches, and keeps live ones', async () => {
    const a = await createTenant(ctx.database, 'sweep-a');
    const b = await createTenant(ctx.database, 'sweep-b');
    let now = Date.parse('2026-01-01T00:00:00.000Z');
    const clock: Runtime = { ...systemRuntime, now: () => new Date(now) };
    for (const tenant of [a, b]) {
      const store = artifactsStore(ctx.database.db, tenant.id, clock);
      for (let i = 0; i < 1205; i++) await store.upsert('AccessToken', `short-${i}`, { grantId: 'g' }, 60);
      await store.upsert('Session', 'long', { uid: 'u1' }, 86_400);
      await store.upsert('Client', 'forever', {}, undefined);
    }
    now += 61_000;
    expect(await sweepOnce(ctx.database, clock)).toBe(2410);
    for (const tenant of [a, b]) {
      const store = artifactsStore(ctx.database.db, tenant.id, clock);
      expect(await store.find('AccessToken', 'short-0')).toBeUndefined();
      expect(await store.findByUid('Session', 'u1')).toBeDefined();
      expect(await store.find('Client', 'forever')).toBeDefined();
    }
    expect(await sweepOnce(ctx.database, clock)).toBe(0);
  });
});
