#!/usr/bin/env node
// Sets up a fresh Portcullis database for the bench's `login` and `refresh`
// sections, before the server starts (as `portcullis admin-client` does for
// `token`), so that the seed and the server never use the database at once.
// The CLI cannot yet create a client allowed the password-realm grant, nor an
// API, so this script uses the built services and stores (dist/; the bench
// makes it current first) the way the CLI's commands do
// (src/cli/commands.ts): same configuration from the environment (run it with
// the server's DATABASE_URL, MASTER_KEY, PUBLIC_URL, SIGNING_ALG), the
// default tenant ensured, then
//   - an API (resource server) `--api` with scopes `--scopes` and
//     allow_offline_access: true, so that refresh tokens may be issued for it;
//   - a confidential application (client_secret_post) whose Auth0
//     `grant_types` are password-realm and refresh_token;
//   - a user of the default database connection with `--email` / `--password`
//     (signed up through the users service: policy check, argon2id hash).
// Prints one JSON line: clientId, clientSecret, userId, realm, and the
// Management API's identifier (managementAudience).
//
//   node bench/lib/seed-users.mjs --api <identifier> --scopes "a b" --email <e> --password <p>
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import pino from 'pino';

const dist = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'dist');
const load = (path) => import(pathToFileURL(join(dist, path)).href);

const { values } = parseArgs({
  options: { api: { type: 'string' }, scopes: { type: 'string', default: '' }, email: { type: 'string' }, password: { type: 'string' } },
});
for (const name of ['api', 'email', 'password']) if (!values[name]) throw new Error(`--${name} is required`);

const [{ loadConfig }, { openServices }, { createLogger }, { tenantStores }, { writeTransaction }, { DEFAULT_DATABASE_CONNECTION }, { PASSWORD_REALM_GRANT }] = await Promise.all([
  load('config/config.js'),
  load('server.js'),
  load('http/logger.js'),
  load('tenants/tenant-stores.js'),
  load('storage/transaction.js'),
  load('connections/store.js'),
  load('oauth/password-grant.js'),
]);

const config = loadConfig();
// Diagnostics to stderr, stdout keeps the result (as the CLI).
const logger = createLogger({ logLevel: 'warn', logFormat: 'json' }, pino.destination(2));
const { services, database } = await openServices(config, logger);
try {
  const { tenant } = await services.tenants.ensureDefault();
  const { runtime } = services;
  const managementAudience = await tenantStores(database.db, tenant.id, runtime).resourceServers.systemApiIdentifier();
  await writeTransaction(database, (trx) =>
    tenantStores(trx, tenant.id, runtime).resourceServers.insert({
      identifier: values.api,
      name: 'Bench API',
      allowOfflineAccess: true,
      scopes: values.scopes
        .split(' ')
        .filter(Boolean)
        .map((value) => ({ value, description: null })),
    }),
  );
  const client = await services.clients.create(tenant.id, {
    name: 'Bench password app',
    appType: 'regular_web',
    tokenEndpointAuthMethod: 'client_secret_post',
    config: { grant_types: [PASSWORD_REALM_GRANT, 'refresh_token'] },
  });
  const user = await services.users.signup({ tenantId: tenant.id, connectionName: DEFAULT_DATABASE_CONNECTION, email: values.email, password: values.password });
  process.stdout.write(JSON.stringify({ clientId: client.clientId, clientSecret: client.clientSecret, userId: user.user_id, realm: DEFAULT_DATABASE_CONNECTION, managementAudience }) + '\n');
} finally {
  await database.close();
}
