import type { ManagementClient } from 'auth0';
import { createRemoteJWKSet, jwtVerify, type JWTPayload } from 'jose';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startListeningTestApp, type TestApp } from '../../test/support/app.js';
import { describeEachBackend } from '../../test/support/backends.js';
import { adminSdk } from '../../test/support/management.js';
import { PASSWORD_REALM_GRANT } from '../oauth/password-grant.js';

const INVENTORY = 'https://inventory.example.test/';
const REALM = 'Username-Password-Authentication';
const PASSWORD = 'correct horse battery staple';
const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * RBAC end to end, configured only through the Management API with the
 * official SDK: an API with `enforce_policies` and `access_token_authz`, a
 * role with permissions on it given to a user, and a client grant for a
 * machine client — then the tokens the engine issues.
 */
describeEachBackend('RBAC configured through the Management API reaches the access tokens', (backend) => {
  let t: TestApp;
  let issuer: string;
  let tenantId: string;
  let sdk: ManagementClient;
  let roleId: string;
  let grantId: string;
  let app: { clientId: string; clientSecret: string };
  let machine: { clientId: string; clientSecret: string };

  beforeAll(async () => {
    ({ t, issuer, tenantId } = await startListeningTestApp(backend, { TENANT_CACHE_TTL_MS: '200' }));
    ({ sdk } = await adminSdk(t, issuer, tenantId));

    await sdk.resourceServers.create({
      identifier: INVENTORY,
      name: 'Inventory',
      enforce_policies: true,
      token_dialect: 'access_token_authz',
      scopes: [{ value: 'read:stock' }, { value: 'write:stock' }, { value: 'delete:stock' }],
    });
    const role = await sdk.roles.create({ name: 'Stock keeper', description: 'Reads and writes stock' });
    roleId = role.id!;
    await sdk.roles.permissions.add(roleId, {
      permissions: [
        { resource_server_identifier: INVENTORY, permission_name: 'read:stock' },
        { resource_server_identifier: INVENTORY, permission_name: 'write:stock' },
      ],
    });
    const keeper = await t.services.users.signup({ tenantId, connectionName: REALM, email: 'keeper@example.test', password: PASSWORD });
    await t.services.users.signup({ tenantId, connectionName: REALM, email: 'visitor@example.test', password: PASSWORD });
    await sdk.roles.users.assign(roleId, { users: [keeper.user_id] });

    const legacy = await sdk.clients.create({ name: 'Stock app', app_type: 'regular_web', grant_types: [PASSWORD_REALM_GRANT] });
    app = { clientId: legacy.client_id!, clientSecret: legacy.client_secret! };
    const sync = await sdk.clients.create({ name: 'Stock sync', app_type: 'non_interactive' });
    machine = { clientId: sync.client_id!, clientSecret: sync.client_secret! };
    grantId = (await sdk.clientGrants.create({ client_id: machine.clientId, audience: INVENTORY, scope: ['read:stock', 'delete:stock'] })).id!;
  });
  afterAll(async () => t?.cleanup());

  async function tokenFor(params: Record<string, string>, client: { clientId: string; clientSecret: string }): Promise<{ scope: string; claims: JWTPayload }> {
    const res = await fetch(`${issuer}oauth/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ client_id: client.clientId, client_secret: client.clientSecret, audience: INVENTORY, ...params }).toString(),
    });
    const body = (await res.json()) as { access_token?: string; scope: string; error_description?: string };
    if (!body.access_token) throw new Error(`no token: ${res.status} ${body.error_description ?? ''}`);
    const { payload } = await jwtVerify(body.access_token, createRemoteJWKSet(new URL(`${issuer}.well-known/jwks.json`)), { issuer, typ: 'at+jwt' });
    return { scope: body.scope, claims: payload };
  }
  const userToken = (email: string) =>
    tokenFor({ grant_type: PASSWORD_REALM_GRANT, username: email, password: PASSWORD, realm: REALM, scope: 'openid read:stock write:stock delete:stock' }, app);
  const machineToken = () => tokenFor({ grant_type: 'client_credentials' }, machine);

  it("gives a user's token exactly the role's permissions, and only the scopes they allow", async () => {
    const { scope, claims } = await userToken('keeper@example.test');
    expect(claims.permissions).toEqual(['read:stock', 'write:stock']);
    expect(claims.scope).toBe('openid read:stock write:stock');
    expect(scope).toBe('openid read:stock write:stock');

    // A user without the role gets no permission and none of the API's scopes.
    const visitor = await userToken('visitor@example.test');
    expect(visitor.claims.permissions).toEqual([]);
    expect(visitor.claims.scope).toBe('openid');
  });

  it("gives the machine client's token the grant's scopes as permissions", async () => {
    const { claims } = await machineToken();
    expect(claims).toMatchObject({ sub: `${machine.clientId}@clients`, gty: 'client-credentials', aud: INVENTORY });
    expect(claims.permissions).toEqual(['delete:stock', 'read:stock']);
    expect(claims.scope).toBe('delete:stock read:stock');
  });

  it('removes a permission from the next token when it is removed from the role', async () => {
    await sdk.roles.permissions.delete(roleId, { permissions: [{ resource_server_identifier: INVENTORY, permission_name: 'write:stock' }] });
    await pause(250);
    const { claims } = await userToken('keeper@example.test');
    expect(claims.permissions).toEqual(['read:stock']);
    expect(claims.scope).toBe('openid read:stock');
  });

  it('narrows the machine token when the client grant is narrowed', async () => {
    await sdk.clientGrants.update(grantId, { scope: ['read:stock'] });
    await pause(450);
    const { claims } = await machineToken();
    expect(claims.permissions).toEqual(['read:stock']);
  });

  it('drops the permissions claim, but keeps enforcing, when the dialect goes back to access_token', async () => {
    await sdk.resourceServers.update(INVENTORY, { token_dialect: 'access_token' });
    await pause(450);
    const { claims } = await userToken('keeper@example.test');
    expect(claims).not.toHaveProperty('permissions');
    expect(claims.scope).toBe('openid read:stock');
    const visitor = await userToken('visitor@example.test');
    expect(visitor.claims.scope).toBe('openid');
  });
});
