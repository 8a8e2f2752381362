// The protocol baseline for `npm run bench` (issue 3): a bare oidc-provider 9
// server — node:http + provider.callback(), the engine's own in-memory
// adapter, one confidential client — issuing client_credentials JWT access
// tokens for one resource server. Whatever Portcullis adds around the same
// engine (Fastify, tenant resolution, Auth0 parameters, storage) shows up as
// the gap between the two.
//
//   node bench/oidc-baseline.mjs [port] [--alg RS256|ES256] [--keys N] [--refresh]
//
// Environment (all optional; the defaults are what the bench uses):
//   HOST (127.0.0.1), PORT (3002) when no port argument,
//   BASELINE_CLIENT_ID (bench-client), BASELINE_CLIENT_SECRET (bench-secret…),
//   BASELINE_AUDIENCE (<issuer>api/), BASELINE_SCOPES (space-separated scopes
//   of the resource server; default "read:things write:things"),
//   BASELINE_ACCOUNT (auth0|bench-user; --refresh only).
//
// Deliberately as close to the engine's defaults as a working
// client_credentials setup allows. Two choices keep the work per token equal
// to Portcullis's: the resource server's scopes can be given (the bench passes
// Portcullis's Management API scopes, so both JWTs carry the same scope
// claim), and a request without `scope` gets every scope of the resource
// server, which is Auth0's rule and what Portcullis does (one line in
// getResourceServerInfo). The JWKS holds `--keys` keys (the bench uses 2, as
// Portcullis publishes its current and next key); the first one signs.
//
// `--refresh` (the bench's `refresh` section; without it nothing changes)
// adds what refresh-token rotation needs, configured as Portcullis configures
// the engine: `rotateRefreshToken: true`, the client allowed `refresh_token`,
// a `findAccount` that knows one fixed account (BASELINE_ACCOUNT, default
// auth0|bench-user; its only claim is `sub`), and Portcullis's lifetimes for
// access tokens, grants and refresh tokens. Refresh tokens are seeded through
// a bench-only grant type, `urn:portcullis:bench:seed-refresh-token`
// (registered with the engine's documented `registerGrantType`, allowed to
// the client only in this mode): it saves a Grant for the account (OIDC scope
// offline_access plus every scope of the resource server) and a RefreshToken
// bound to the resource server, with the fields Portcullis's password-realm
// grant gives them (src/oauth/password-grant.ts) but without a password
// check. The bench calls it before the warm-up, so it is never measured; the
// rotations themselves go through the engine's own refresh_token grant.
import { createServer } from 'node:http';
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { exportJWK, generateKeyPair } from 'jose';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { alg: { type: 'string', default: 'RS256' }, keys: { type: 'string', default: '1' }, refresh: { type: 'boolean', default: false } },
});
const refresh = values.refresh;
const port = Number(positionals[0] ?? process.env.PORT ?? 3002);
const host = process.env.HOST ?? '127.0.0.1';
const alg = values.alg;
const keyCount = Number(values.keys);
if (!['RS256', 'ES256'].includes(alg)) throw new Error(`--alg must be RS256 or ES256 (got ${alg})`);
if (!Number.isInteger(keyCount) || keyCount < 1 || keyCount > 10) throw new Error('--keys must be an integer from 1 to 10');

// The engine prints development notices (in-memory adapter, unsupported
// runtime on Node 20, default functions called) through console.warn and
// console.info. This is a benchmark baseline, not a deployment: drop those
// lines, and only those, before the engine is loaded (it warns on import).
for (const method of ['warn', 'info']) {
  const original = console[method].bind(console);
  console[method] = (...args) => {
    if (typeof args[0] === 'string' && /oidc-provider (WARNING|NOTICE)/.test(args[0])) return;
    original(...args);
  };
}
const { default: Provider } = await import('oidc-provider');

const issuer = `http://${host}:${port}/`;
const clientId = process.env.BASELINE_CLIENT_ID ?? 'bench-client';
const clientSecret = process.env.BASELINE_CLIENT_SECRET ?? 'bench-secret-0123456789abcdefghijklmnopqrstuvwxyz';
const audience = process.env.BASELINE_AUDIENCE ?? `${issuer}api/`;
const scopes = (process.env.BASELINE_SCOPES ?? 'read:things write:things').split(' ').filter(Boolean).join(' ');
const accountId = process.env.BASELINE_ACCOUNT ?? 'auth0|bench-user';
const SEED_GRANT = 'urn:portcullis:bench:seed-refresh-token';

// RS256 keys are 2048-bit, as Portcullis's; ES256 is P-256.
const keys = [];
for (let i = 0; i < keyCount; i++) {
  const { privateKey } = await generateKeyPair(alg, { extractable: true, ...(alg === 'RS256' ? { modulusLength: 2048 } : {}) });
  keys.push({ ...(await exportJWK(privateKey)), alg, use: 'sig', kid: `bench-${alg.toLowerCase()}-${i}` });
}

const provider = new Provider(issuer, {
  clients: [
    {
      client_id: clientId,
      client_secret: clientSecret,
      grant_types: refresh ? ['client_credentials', 'refresh_token', SEED_GRANT] : ['client_credentials'],
      response_types: [],
      redirect_uris: [],
      token_endpoint_auth_method: 'client_secret_post',
    },
  ],
  jwks: { keys },
  // The engine's default id_token alg is RS256, which an ES256-only key set cannot serve.
  clientDefaults: { id_token_signed_response_alg: alg },
  cookies: { keys: [randomBytes(32).toString('base64url')] },
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: () => undefined,
      useGrantedResource: () => true,
      getResourceServerInfo(ctx, indicator) {
        if (indicator !== audience) throw new Provider.errors.InvalidTarget();
        // Auth0's rule, as Portcullis: no `scope` in a client_credentials request → all of them.
        // (Only client_credentials exists without --refresh, so the check changes nothing there.)
        if (ctx.oidc.params && ctx.oidc.params.scope === undefined && ctx.oidc.params.grant_type === 'client_credentials') ctx.oidc.params.scope = scopes;
        return { audience, scope: scopes, accessTokenFormat: 'jwt', accessTokenTTL: 86_400, jwt: { sign: { alg } } };
      },
    },
  },
  ttl: {
    ClientCredentials: (_ctx, token) => token.resourceServer?.accessTokenTTL ?? 86_400,
    // With --refresh, Portcullis's lifetimes for the models a rotation touches (src/oauth/provider-factory.ts).
    ...(refresh ? { AccessToken: (_ctx, token) => token.resourceServer?.accessTokenTTL ?? 86_400, Grant: 30 * 86_400, RefreshToken: 30 * 86_400 } : {}),
  },
  ...(refresh
    ? {
        rotateRefreshToken: true,
        findAccount: (_ctx, sub) => (sub === accountId ? { accountId, claims: async () => ({ sub }) } : undefined),
      }
    : {}),
});

if (refresh) {
  // The seeding path (see the header): not measured, never part of a rotation.
  provider.registerGrantType(SEED_GRANT, async function seedRefreshToken(ctx) {
    const { client } = ctx.oidc;
    const grant = new provider.Grant({ accountId, clientId: client.clientId });
    grant.addOIDCScope('offline_access');
    grant.addResourceScope(audience, scopes);
    const grantId = await grant.save();
    const refreshToken = new provider.RefreshToken({
      accountId,
      amr: ['pwd'],
      authTime: Math.floor(Date.now() / 1000),
      client,
      expiresWithSession: false,
      grantId,
      gty: 'password',
      resource: audience,
      rotations: 0,
      scope: `offline_access ${scopes}`,
    });
    ctx.body = { refresh_token: await refreshToken.save(), token_type: 'Bearer' };
  });
}

const server = createServer(provider.callback());

function stop() {
  server.close(() => process.exit(0));
  server.closeIdleConnections();
  setTimeout(() => process.exit(0), 2000).unref();
}
process.once('SIGTERM', stop);
process.once('SIGINT', stop);

server.listen(port, host, () => {
  process.stderr.write(`oidc-baseline (${alg}${refresh ? ', refresh-token rotation' : ''}) listening on ${issuer}; client ${clientId}, audience ${audience}\n`);
});
