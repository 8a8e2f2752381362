// The protocol baseline for `npm run bench` (issue 3): a bare oidc-provider 9
// server — node:http + provider.callback(), the engine's own in-memory
// adapter, one confidential client — issuing client_credentials JWT access
// tokens for one resource server. Whatever Portcullis adds around the same
// engine (Fastify, tenant resolution, Auth0 parameters, storage) shows up as
// the gap between the two.
//
//   node bench/oidc-baseline.mjs [port] [--alg RS256|ES256] [--keys N]
//
// Environment (all optional; the defaults are what the bench uses):
//   HOST (127.0.0.1), PORT (3002) when no port argument,
//   BASELINE_CLIENT_ID (bench-client), BASELINE_CLIENT_SECRET (bench-secret…),
//   BASELINE_AUDIENCE (<issuer>api/), BASELINE_SCOPES (space-separated scopes
//   of the resource server; default "read:things write:things").
//
// Deliberately as close to the engine's defaults as a working
// client_credentials setup allows. Two choices keep the work per token equal
// to Portcullis's: the resource server's scopes can be given (the bench passes
// Portcullis's Management API scopes, so both JWTs carry the same scope
// claim), and a request without `scope` gets every scope of the resource
// server, which is Auth0's rule and what Portcullis does (one line in
// getResourceServerInfo). The JWKS holds `--keys` keys (the bench uses 2, as
// Portcullis publishes its current and next key); the first one signs.
import { createServer } from 'node:http';
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { exportJWK, generateKeyPair } from 'jose';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { alg: { type: 'string', default: 'RS256' }, keys: { type: 'string', default: '1' } },
});
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
      grant_types: ['client_credentials'],
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
        if (ctx.oidc.params && ctx.oidc.params.scope === undefined) ctx.oidc.params.scope = scopes;
        return { audience, scope: scopes, accessTokenFormat: 'jwt', accessTokenTTL: 86_400, jwt: { sign: { alg } } };
      },
    },
  },
  ttl: { ClientCredentials: (_ctx, token) => token.resourceServer?.accessTokenTTL ?? 86_400 },
});

const server = createServer(provider.callback());

function stop() {
  server.close(() => process.exit(0));
  server.closeIdleConnections();
  setTimeout(() => process.exit(0), 2000).unref();
}
process.once('SIGTERM', stop);
process.once('SIGINT', stop);

server.listen(port, host, () => {
  process.stderr.write(`oidc-baseline (${alg}) listening on ${issuer}; client ${clientId}, audience ${audience}\n`);
});
