import { type ManagementClient } from 'auth0';
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startListeningTestApp, type TestApp } from '../../test/support/app.js';
import { describeEachBackend } from '../../test/support/backends.js';
import { createTenant } from '../../test/support/fixtures.js';
import { adminSdk, managementFetch, sdkFailure } from '../../test/support/management.js';
import { systemRuntime } from '../storage/runtime.js';
import { tenantStores } from '../tenants/tenant-stores.js';

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const REPORTS = 'https://reports.example.test/';

describeEachBackend('Management API /api/v2/client-grants with the official auth0 SDK', (backend) => {
  let t: TestApp;
  let issuer: string;
  let tenantId: string;
  let sdk: ManagementClient;
  let token: string;
  let adminId: string;

  beforeAll(async () => {
    ({ t, issuer, tenantId } = await startListeningTestApp(backend, { TENANT_CACHE_TTL_MS: '200' }));
    ({ sdk, token, clientId: adminId } = await adminSdk(t, issuer, tenantId));
    await sdk.resourceServers.create({ identifier: REPORTS, name: 'Reports', scopes: [{ value: 'read:reports' }, { value: 'write:reports' }, { value: 'delete:reports' }] });
  });
  afterAll(async () => t?.cleanup());

  const api = managementFetch(() => issuer, () => token);
  const failure = sdkFailure;
  const machine = async (name: string) => {
    const client = await sdk.clients.create({ name, app_type: 'non_interactive' });
    return { clientId: client.client_id!, clientSecret: client.client_secret! };
  };
  const clientCredentials = (client: { clientId: string; clientSecret: string }, audience = REPORTS) =>
    fetch(`${issuer}oauth/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'client_credentials', client_id: client.clientId, client_secret: client.clientSecret, audience }).toString(),
    });

  it('creates a grant that the token endpoint honours, and reads it back', async () => {
    const client = await machine('Reporter');
    const created = await sdk.clientGrants.create({ client_id: client.clientId, audience: REPORTS, scope: ['read:reports', 'write:reports'] });
    expect(created).toEqual({ id: expect.stringMatching(/^cgr_[A-Za-z0-9]{16}$/), client_id: client.clientId, audience: REPORTS, scope: ['read:reports', 'write:reports'], is_system: false, subject_type: 'client' });
    expect(await sdk.clientGrants.get(created.id!)).toEqual(created);
    expect((await sdk.clientGrants.list({ client_id: client.clientId })).data).toEqual([created]);

    const res = await clientCredentials(client);
    expect(res.status).toBe(200);
    const claims = decodeJwt(((await res.json()) as { access_token: string }).access_token);
    expect(claims).toMatchObject({ aud: REPORTS, sub: `${client.clientId}@clients`, scope: 'read:reports write:reports' });
  });

  it('lists with audience/client_id filters, offset paging with totals, and checkpoint paging', async () => {
    const clients = [await machine('Lister 1'), await machine('Lister 2'), await machine('Lister 3')];
    const ids: string[] = [];
    for (const client of clients) ids.push((await sdk.clientGrants.create({ client_id: client.clientId, audience: REPORTS, scope: [] })).id!);

    const byAudience = (await (await api(`/client-grants?audience=${encodeURIComponent(REPORTS)}`)).json()) as { id: string; audience: string }[];
    expect(byAudience.every((g) => g.audience === REPORTS)).toBe(true);
    expect(byAudience.map((g) => g.id).filter((id) => ids.includes(id))).toEqual(ids);

    const offset = (await (await api(`/client-grants?audience=${encodeURIComponent(REPORTS)}&per_page=2&page=0&include_totals=true`)).json()) as Record<string, unknown>;
    expect(offset).toMatchObject({ start: 0, limit: 2, length: 2, total: byAudience.length });

    // Checkpoint paging: `take`, then `from` = the previous page's `next`, until there is none.
    const seen: string[] = [];
    let from: string | undefined;
    for (let pages = 0; pages < 10; pages++) {
      const query = `audience=${encodeURIComponent(REPORTS)}&take=2${from ? `&from=${from}` : ''}`;
      const page = (await (await api(`/client-grants?${query}`)).json()) as { client_grants: { id: string }[]; next?: string };
      seen.push(...page.client_grants.map((g) => g.id));
      from = page.next;
      if (!from) break;
    }
    expect(seen).toEqual(byAudience.map((g) => g.id));
    // The SDK pages by checkpoint too.
    const collected: string[] = [];
    for await (const grant of await sdk.clientGrants.list({ audience: REPORTS, take: 1 })) collected.push(grant.id!);
    expect(collected).toEqual(seen);

    const badCheckpoint = await api('/client-grants?from=not-a-checkpoint');
    expect(badCheckpoint.status).toBe(400);
    expect(await badCheckpoint.json()).toMatchObject({ errorCode: 'invalid_query_string', message: "Query validation error: 'Invalid checkpoint' on property from." });
  });

  it('refuses an unknown client or API with 404, undefined scopes with 400 and a duplicate with 409, as Auth0', async () => {
    const client = await machine('Refused');
    const post = async (body: Record<string, unknown>) => {
      const res = await api('/client-grants', { method: 'POST', body: JSON.stringify(body) });
      return { status: res.status, body: await res.json() };
    };
    expect(await post({ client_id: 'no-such-client', audience: REPORTS, scope: [] })).toEqual({ status: 404, body: { statusCode: 404, error: 'Not Found', message: 'Client not found', errorCode: 'inexistent_client' } });
    expect(await post({ client_id: client.clientId, audience: 'https://nowhere.example.test/', scope: [] })).toEqual({
      status: 404,
      body: { statusCode: 404, error: 'Not Found', message: 'No resource with identifier https://nowhere.example.test/', errorCode: 'inexistent_resource_server' },
    });
    expect(await post({ client_id: client.clientId, audience: REPORTS, scope: ['read:reports', 'fly:reports'] })).toEqual({
      status: 400,
      body: { statusCode: 400, error: 'Bad Request', message: `Payload validation error: 'Scopes not defined by the resource server ${REPORTS}: fly:reports' on property scope.`, errorCode: 'invalid_body' },
    });
    expect((await post({ client_id: client.clientId, audience: REPORTS, scope: [], organization_usage: 'allow' })).status).toBe(400);
    expect((await post({ client_id: client.clientId, audience: REPORTS, scope: ['read:reports'] })).status).toBe(201);
    expect(await post({ client_id: client.clientId, audience: REPORTS, scope: ['write:reports'] })).toEqual({
      status: 409,
      body: { statusCode: 409, error: 'Conflict', message: `A client grant already exists between ${client.clientId} and ${REPORTS}`, errorCode: 'client_grant_conflict' },
    });
    expect((await sdk.clientGrants.list({ client_id: client.clientId })).data.map((g) => g.scope)).toEqual([['read:reports']]);
  });

  it("updates a grant's scopes and the next token carries them after the cache", async () => {
    const client = await machine('Updated');
    const grant = await sdk.clientGrants.create({ client_id: client.clientId, audience: REPORTS, scope: ['read:reports'] });
    const scopeOf = async () => decodeJwt(((await (await clientCredentials(client)).json()) as { access_token: string }).access_token).scope;
    expect(await scopeOf()).toBe('read:reports');

    const updated = await sdk.clientGrants.update(grant.id!, { scope: ['write:reports', 'delete:reports'] });
    expect(updated).toMatchObject({ id: grant.id, scope: ['write:reports', 'delete:reports'] });
    await pause(450);
    // In the API's scope order (by value).
    expect(await scopeOf()).toBe('delete:reports write:reports');

    const undefinedScope = await api(`/client-grants/${grant.id}`, { method: 'PATCH', body: JSON.stringify({ scope: ['nope'] }) });
    expect(undefinedScope.status).toBe(400);
    const empty = await api(`/client-grants/${grant.id}`, { method: 'PATCH', body: JSON.stringify({}) });
    expect(empty.status).toBe(400);
    expect(await empty.json()).toMatchObject({ message: "Payload validation error: 'Too few properties defined (0), minimum 1'." });
    expect((await sdk.clientGrants.update(grant.id!, { scope: null })).scope).toEqual([]);
  });

  it('deletes a grant: 204, then 404, and the client is refused a token after the cache', async () => {
    const client = await machine('Deleted');
    const grant = await sdk.clientGrants.create({ client_id: client.clientId, audience: REPORTS, scope: ['read:reports'] });
    expect((await clientCredentials(client)).status).toBe(200);
    const res = await api(`/client-grants/${grant.id}`, { method: 'DELETE' });
    expect(res.status).toBe(204);
    const missing = await failure(sdk.clientGrants.get(grant.id!));
    expect(missing.body).toEqual({ statusCode: 404, error: 'Not Found', message: 'The client grant does not exist', errorCode: 'inexistent_client_grant' });
    expect((await failure(sdk.clientGrants.delete(grant.id!))).statusCode).toBe(404);
    await pause(450);
    const refused = await clientCredentials(client);
    expect(refused.status).toBe(403);
    expect(await refused.json()).toMatchObject({ error: 'access_denied' });
  });

  it("shows the CLI admin client's Management API grant as a system grant that cannot be changed here", async () => {
    const [system] = (await sdk.clientGrants.list({ client_id: adminId })).data;
    expect(system).toMatchObject({ client_id: adminId, audience: `${issuer}api/v2/`, is_system: true });
    const forbidden = await failure(sdk.clientGrants.update(system!.id!, { scope: ['read:clients'] }));
    expect(forbidden.statusCode).toBe(403);
    expect(forbidden.body).toMatchObject({ errorCode: 'operation_not_supported' });
    expect((await failure(sdk.clientGrants.delete(system!.id!))).statusCode).toBe(403);
    expect((await sdk.clientGrants.get(system!.id!)).scope).toEqual(system!.scope);
  });

  it("answers 404 for another tenant's grant", async () => {
    const other = await createTenant(t.database, 'grants-other');
    const theirs = tenantStores(t.database.db, other.id, systemRuntime);
    await theirs.clients.insert({ clientId: 'their-client', name: 'Theirs', appType: 'non_interactive', isFirstParty: true, tokenEndpointAuthMethod: 'client_secret_post', secretSealed: null });
    const api2 = await theirs.resourceServers.insert({ identifier: 'https://theirs.example.test/', name: 'Theirs', scopes: [{ value: 'x', description: null }] });
    const grant = await theirs.clientGrants.insert({ clientId: 'their-client', audience: api2.identifier, scope: ['x'] });
    expect((await api(`/client-grants/${grant!.id}`)).status).toBe(404);
    expect((await api(`/client-grants/${grant!.id}`, { method: 'PATCH', body: JSON.stringify({ scope: [] }) })).status).toBe(404);
    expect((await api(`/client-grants/${grant!.id}`, { method: 'DELETE' })).status).toBe(404);
    expect((await api('/client-grants', { method: 'POST', body: JSON.stringify({ client_id: 'their-client', audience: REPORTS, scope: [] }) })).status).toBe(404);
    expect((await sdk.clientGrants.list({ client_id: 'their-client' })).data).toEqual([]);
    expect((await theirs.clientGrants.findById(grant!.id))?.scope).toEqual(['x']);
  });
});
