import { afterAll, beforeAll, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../../test/support/app.js';
import { describeEachBackend } from '../../test/support/backends.js';
import { DEFAULT_DATABASE_CONNECTION } from '../connections/store.js';
import { systemRuntime } from '../storage/runtime.js';
import { tenantStores } from '../tenants/tenant-stores.js';
import { passwordAuthenticator } from './authenticator.js';

describeEachBackend('login page authenticator without a database connection', (backend) => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp(backend);
  });
  afterAll(async () => t?.cleanup());

  it('refuses like a wrong password and offers no signup, instead of failing', async () => {
    const tenantId = (await t.services.tenants.resolve(undefined)).id;
    const stores = tenantStores(t.database.db, tenantId, systemRuntime);
    const connection = await stores.connections.findByName(DEFAULT_DATABASE_CONNECTION);
    expect(await stores.connections.delete(connection!.id)).toBe(true);
    const authenticator = passwordAuthenticator(t.services.users, t.database, systemRuntime, t.protection);
    expect(await authenticator.authenticate({ tenantId, identifier: 'jane@example.test', password: 'whatever it is', ip: '127.0.0.1' })).toEqual({ ok: false, reason: 'wrong_credentials' });
    expect(await authenticator.signupPolicy(tenantId)).toEqual({ enabled: false, minLength: 0 });
  });
});
