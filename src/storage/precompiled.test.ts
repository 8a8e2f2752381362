import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeEachBackend, migratedDatabase } from '../../test/support/backends.js';
import { precompiled } from './precompiled.js';

describeEachBackend('precompiled queries', (backend) => {
  let ctx: Awaited<ReturnType<typeof migratedDatabase>>;
  beforeAll(async () => {
    ctx = await migratedDatabase(backend);
    const now = '2030-01-01T00:00:00.000Z';
    await ctx.database.db
      .insertInto('tenants')
      .values(['a', 'b', 'c'].map((name) => ({ id: `ten_${name}`, name, friendly_name: `Tenant ${name.toUpperCase()}`, is_default: false, settings: '{}', created_at: now, updated_at: now })))
      .execute();
  });
  afterAll(async () => ctx?.cleanup());

  it('binds new values on every call, constants included, with one compilation', async () => {
    let builds = 0;
    const byName = precompiled((db, name) => (builds++, db.selectFrom('tenants').select(['id', 'friendly_name']).where('name', '=', name).where('is_default', '=', false)), 1);
    expect(await byName(ctx.database.db, 'a')).toEqual([{ id: 'ten_a', friendly_name: 'Tenant A' }]);
    expect(await byName(ctx.database.db, 'c')).toEqual([{ id: 'ten_c', friendly_name: 'Tenant C' }]);
    expect(await byName(ctx.database.db, 'nobody')).toEqual([]);
    expect(builds).toBe(1);
  });

  it('refuses a query that does not bind every argument, and a call with the wrong arity', async () => {
    const inlined = precompiled((db) => db.selectFrom('tenants').select('id').where('name', '=', 'a'), 1);
    await expect(inlined(ctx.database.db, 'a')).rejects.toThrow(/argument 0 is not a bound parameter/);
    const byName = precompiled((db, name) => db.selectFrom('tenants').select('id').where('name', '=', name), 1);
    await expect(byName(ctx.database.db)).rejects.toThrow(/expected 1 arguments/);
  });
});
