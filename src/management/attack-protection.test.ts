import type { ManagementClient } from 'auth0';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startListeningTestApp, type TestApp } from '../../test/support/app.js';
import { describeEachBackend } from '../../test/support/backends.js';
import { adminSdk, managementFetch, managementToken, sdkFailure } from '../../test/support/management.js';

describeEachBackend('Management API: attack-protection settings, anomaly blocks, user blocks', (backend) => {
  let t: TestApp;
  let issuer: string;
  let tenantId: string;
  let sdk: ManagementClient;
  let token: string;

  beforeAll(async () => {
    ({ t, issuer, tenantId } = await startListeningTestApp(backend));
    ({ sdk, token } = await adminSdk(t, issuer, tenantId));
  });
  afterAll(async () => t?.cleanup());

  const api = (path: string, init: RequestInit & { token?: string | null } = {}) => managementFetch(() => issuer, () => token)(path, init);
  const patch = (part: string, body: unknown) => api(`/attack-protection/${part}`, { method: 'PATCH', body: JSON.stringify(body) });

  it('answers Auth0 defaults through the official SDK', async () => {
    expect(await sdk.attackProtection.bruteForceProtection.get()).toEqual({
      enabled: true,
      shields: ['block', 'user_notification'],
      allowlist: [],
      mode: 'count_per_identifier_and_ip',
      max_attempts: 10,
    });
    expect(await (await api('/attack-protection/suspicious-ip-throttling')).json()).toEqual({
      enabled: true,
      shields: ['admin_notification', 'block'],
      allowlist: [],
      stage: { 'pre-login': { max_attempts: 100, rate: 864000 }, 'pre-user-registration': { max_attempts: 50, rate: 1200 } },
    });
    expect(await (await api('/attack-protection/breached-password-detection')).json()).toEqual({
      enabled: true,
      shields: [],
      admin_notification_frequency: [],
      method: 'standard',
      stage: { 'pre-user-registration': { shields: ['block'] }, 'pre-change-password': { shields: ['block'] } },
    });
  });

  it('merges a PATCH into the stored settings (stages field by field) and keeps it', async () => {
    const updated = await sdk.attackProtection.suspiciousIpThrottling.update({ allowlist: ['192.0.2.0/24', '2001:db8::1'], stage: { 'pre-login': { max_attempts: 20 } } });
    expect(updated).toMatchObject({ allowlist: ['192.0.2.0/24', '2001:db8::1'], stage: { 'pre-login': { max_attempts: 20, rate: 864000 }, 'pre-user-registration': { max_attempts: 50, rate: 1200 } } });
    expect(await (await api('/attack-protection/suspicious-ip-throttling')).json()).toMatchObject({ stage: { 'pre-login': { max_attempts: 20, rate: 864000 } } });
    const brute = await sdk.attackProtection.bruteForceProtection.update({ mode: 'count_per_identifier', max_attempts: 5 });
    expect(brute).toMatchObject({ enabled: true, mode: 'count_per_identifier', max_attempts: 5, shields: ['block', 'user_notification'] });
    const breached: unknown = await (await patch('breached-password-detection', { admin_notification_frequency: ['daily'], stage: { 'pre-change-password': { shields: ['admin_notification'] } } })).json();
    expect(breached).toMatchObject({ admin_notification_frequency: ['daily'], stage: { 'pre-user-registration': { shields: ['block'] }, 'pre-change-password': { shields: ['admin_notification'] } } });
    // Other tenant settings are untouched.
    expect(((await (await api('/tenants/settings')).json()) as { session_lifetime: number }).session_lifetime).toBe(168);
  });

  it('refuses bad settings with 400 naming the property', async () => {
    const cases: [string, unknown, string][] = [
      ['brute-force-protection', { max_attempts: 0 }, 'max_attempts'],
      ['brute-force-protection', { max_attempts: 'ten' }, 'max_attempts'],
      ['brute-force-protection', { mode: 'count_per_ip' }, 'mode'],
      ['brute-force-protection', { shields: ['block', 'block'] }, 'shields'],
      ['brute-force-protection', { allowlist: ['10.0.0.0/33'] }, 'allowlist.0'],
      ['brute-force-protection', { allowlist: ['not-an-ip'] }, 'allowlist.0'],
      ['suspicious-ip-throttling', { stage: { 'pre-login': { rate: 0 } } }, 'stage.pre-login.rate'],
      ['suspicious-ip-throttling', { shields: ['user_notification'] }, 'shields.0'],
      ['breached-password-detection', { method: 'enhanced' }, 'method'],
      ['breached-password-detection', { stage: { 'pre-user-registration': { shields: ['user_notification'] } } }, 'stage.pre-user-registration.shields.0'],
      ['breached-password-detection', { admin_notification_frequency: ['hourly'] }, 'admin_notification_frequency.0'],
    ];
    for (const [part, body, property] of cases) {
      const res = await patch(part, body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      const error = (await res.json()) as { message: string; errorCode: string };
      expect(error.errorCode).toBe('invalid_body');
      expect(error.message).toContain(`on property ${property}`);
    }
    const unknown = await patch('brute-force-protection', { max_attempt: 3 });
    expect(unknown.status).toBe(400);
    expect(((await unknown.json()) as { message: string }).message).toContain('max_attempt');
    const garbage = await api('/attack-protection/brute-force-protection', { method: 'PATCH', body: '{not json' });
    expect(garbage.status).toBe(400);
  });

  it('requires the attack-protection scopes', async () => {
    const reader = await sdk.clients.create({ name: 'User reader', app_type: 'non_interactive' });
    await sdk.clientGrants.create({ client_id: reader.client_id!, audience: `${issuer}api/v2/`, scope: ['read:users'] });
    const readOnly = await managementToken(issuer, { clientId: reader.client_id!, clientSecret: reader.client_secret! });
    expect((await api('/attack-protection/brute-force-protection', { token: readOnly })).status).toBe(403);
    expect((await api('/attack-protection/brute-force-protection', { method: 'PATCH', body: '{}', token: readOnly })).status).toBe(403);
    expect((await api('/anomaly/blocks/ips/192.0.2.1', { token: readOnly })).status).toBe(403);
  });

  it('checks and removes IP blocks (404 when not blocked, 400 for a non-IP)', async () => {
    const notBlocked = await sdkFailure(sdk.anomaly.blocks.checkIp('192.0.2.10'));
    expect(notBlocked.statusCode).toBe(404);
    expect((await api('/anomaly/blocks/ips/not-an-ip')).status).toBe(400);
    await sdk.anomaly.blocks.unblockIp('192.0.2.10');
  });

  it('lists user blocks (empty for a user without any, 404 for an unknown user) through the SDK', async () => {
    const user = await t.services.users.signup({ tenantId, connectionName: 'Username-Password-Authentication', email: 'blocks@example.test', password: 'correct horse battery staple' });
    expect(await sdk.userBlocks.list(user.user_id)).toEqual({ blocked_for: [] });
    expect(await sdk.userBlocks.listByIdentifier({ identifier: 'blocks@example.test' })).toEqual({ blocked_for: [] });
    await sdk.userBlocks.delete(user.user_id);
    await sdk.userBlocks.deleteByIdentifier({ identifier: 'blocks@example.test' });
    expect((await sdkFailure(sdk.userBlocks.list('auth0|nobody'))).statusCode).toBe(404);
    expect((await api('/user-blocks')).status).toBe(400);
  });

  it('stores and answers the client setting token_endpoint_ip_header_trusted', async () => {
    const created = await sdk.clients.create({ name: 'Backend', app_type: 'regular_web', token_endpoint_ip_header_trusted: true } as never);
    expect(created).toMatchObject({ token_endpoint_ip_header_trusted: true });
    const changed = await sdk.clients.update(created.client_id as string, { token_endpoint_ip_header_trusted: false } as never);
    expect(changed).toMatchObject({ token_endpoint_ip_header_trusted: false });
  });
});
