import { readFileSync } from 'node:fs';
import type { Logger } from 'pino';
import { CredentialError, publicKeyCredential, type PublicKeyCredential } from '../clients/credentials.js';
import { urlProblem } from '../clients/urls.js';
import type { Config } from '../config/config.js';
import { SIGNING_ALGS, type SigningAlg } from '../keys/generate.js';
import { migrateToLatest } from '../storage/migrate.js';
import { openDatabase } from '../storage/open.js';
import { openServices } from '../server.js';
import { systemRuntime } from '../storage/runtime.js';
import { DEFAULT_DATABASE_CONNECTION } from '../connections/store.js';
import { UsageError } from './errors.js';

export interface Output {
  out(line: string): void;
}

function parseAlg(value: string | undefined): SigningAlg | undefined {
  if (value === undefined) return undefined;
  if (!(SIGNING_ALGS as readonly string[]).includes(value)) throw new UsageError(`--alg must be one of ${SIGNING_ALGS.join(', ')}`);
  return value as SigningAlg;
}

export async function migrateCommand(config: Config, logger: Logger, output: Output): Promise<void> {
  const database = await openDatabase(config, { logger });
  try {
    const applied = await migrateToLatest(database);
    output.out(applied.length === 0 ? 'Database is up to date.' : `Applied migrations: ${applied.join(', ')}`);
  } finally {
    await database.close();
  }
}

/** Runs `work` with services on a migrated database, and always closes it. */
async function withServices<T>(config: Config, logger: Logger, work: (ctx: Awaited<ReturnType<typeof openServices>>) => Promise<T>): Promise<T> {
  const ctx = await openServices(config, logger);
  try {
    await ctx.services.tenants.ensureDefault();
    return await work(ctx);
  } finally {
    await ctx.database.close();
  }
}

export async function tenantCreateCommand(config: Config, logger: Logger, output: Output, args: { name: string; domains: string[]; alg?: string; json: boolean }): Promise<void> {
  const alg = parseAlg(args.alg);
  await withServices(config, logger, async ({ services }) => {
    const tenant = await services.tenants.create({ name: args.name, domains: args.domains, ...(alg ? { signingAlg: alg } : {}) });
    const issuer = await services.tenants.issuerOf(tenant);
    output.out(args.json ? JSON.stringify({ id: tenant.id, name: tenant.name, domains: args.domains, issuer }) : `Created tenant "${tenant.name}" (${tenant.id}); issuer ${issuer}`);
  });
}

export async function tenantListCommand(config: Config, logger: Logger, output: Output, args: { json: boolean }): Promise<void> {
  await withServices(config, logger, async ({ services }) => {
    const tenants = await services.tenants.list();
    const domains = await services.tenants.listDomains();
    const rows = await Promise.all(
      tenants.map(async (t) => ({
        id: t.id,
        name: t.name,
        default: t.isDefault,
        domains: domains.filter((d) => d.tenantId === t.id).map((d) => d.domain),
        issuer: await services.tenants.issuerOf(t),
      })),
    );
    if (args.json) return output.out(JSON.stringify(rows));
    for (const r of rows) output.out(`${r.name}${r.default ? ' (default)' : ''}\t${r.issuer}\t${r.domains.join(',')}`);
  });
}

export async function keysRotateCommand(config: Config, logger: Logger, output: Output, args: { tenant?: string; alg?: string; json: boolean }): Promise<void> {
  const alg = parseAlg(args.alg);
  await withServices(config, logger, async ({ services }) => {
    const tenant = await services.tenants.resolve(args.tenant);
    const result = await services.keys.rotate(tenant.id, alg);
    output.out(args.json ? JSON.stringify({ tenant: tenant.name, ...result }) : `Rotated signing keys of tenant "${tenant.name}": current ${result.current}, next ${result.next}`);
  });
}

export async function keysListCommand(config: Config, logger: Logger, output: Output, args: { tenant?: string; json: boolean }): Promise<void> {
  await withServices(config, logger, async ({ services }) => {
    const tenant = await services.tenants.resolve(args.tenant);
    const keys = (await services.keys.list(tenant.id)).map((k) => ({ kid: k.kid, alg: k.alg, state: k.state, created_at: k.createdAt }));
    if (args.json) return output.out(JSON.stringify(keys));
    for (const k of keys) output.out(`${k.kid}\t${k.alg}\t${k.state}\t${k.created_at}`);
  });
}

export async function adminClientCommand(config: Config, logger: Logger, output: Output, args: { tenant?: string; json: boolean }): Promise<void> {
  await withServices(config, logger, async ({ services }) => {
    const tenant = await services.tenants.resolve(args.tenant);
    const issuer = await services.tenants.issuerOf(tenant);
    const client = await services.clients.ensureAdminClient(tenant.id);
    // The audience is what the server recorded when it last started; report the
    // issuer that goes with it, and say so when this shell's PUBLIC_URL differs.
    const recordedIssuer = client.audience.replace(/api\/v2\/$/, '');
    if (recordedIssuer !== issuer) {
      logger.warn({ configured: issuer, recorded: recordedIssuer }, 'PUBLIC_URL here differs from the one the server last started with; run the CLI with the server\'s environment');
    }
    const result = { issuer: recordedIssuer, client_id: client.clientId, client_secret: client.clientSecret, audience: client.audience };
    if (args.json) return output.out(JSON.stringify(result));
    output.out(`Management API client for tenant "${tenant.name}" (the secret is shown only now):`);
    for (const [k, v] of Object.entries(result)) output.out(`  ${k}: ${v}`);
  });
}

/** Reads a PEM public key file into a client credential; any fault is a usage error naming the file. */
async function credentialFromFile(file: string, alg: string | undefined): Promise<PublicKeyCredential> {
  let pem: string;
  try {
    pem = readFileSync(file, 'utf8');
  } catch (error) {
    throw new UsageError(`cannot read --public-key-file ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
  try {
    return await publicKeyCredential({ pem, ...(alg !== undefined ? { alg } : {}) }, systemRuntime);
  } catch (error) {
    if (error instanceof CredentialError) throw new UsageError(`--public-key-file ${file}: ${error.message}`);
    throw error;
  }
}

/**
 * Creates an application. With `publicKeyFile` (a PEM public key: RSA of 2048
 * bits or more, or P-256) it authenticates with private_key_jwt, signing its
 * assertions with the matching private key (RS256 or ES256; `alg` may pick
 * PS256 for an RSA key), and gets no secret.
 */
export async function clientCreateCommand(
  config: Config,
  logger: Logger,
  output: Output,
  args: { tenant?: string; name: string; appType: string; callbacks: string[]; logoutUrls: string[]; publicKeyFile?: string; alg?: string; json: boolean },
): Promise<void> {
  const types = ['regular_web', 'spa', 'native', 'non_interactive'];
  if (!types.includes(args.appType)) throw new UsageError(`--type must be one of ${types.join(', ')}`);
  if (args.publicKeyFile !== undefined && (args.appType === 'spa' || args.appType === 'native')) {
    throw new UsageError('--public-key-file is for confidential applications (--type regular_web or non_interactive)');
  }
  for (const [url, kind] of [...args.callbacks.map((u) => [u, 'callback'] as const), ...args.logoutUrls.map((u) => [u, 'logout'] as const)]) {
    const problem = urlProblem(url, kind);
    if (problem) throw new UsageError(`"${url}" ${problem}`);
  }
  // The key is checked before the database is opened: a bad file fails fast.
  const credential = args.publicKeyFile !== undefined ? await credentialFromFile(args.publicKeyFile, args.alg) : undefined;
  await withServices(config, logger, async ({ services }) => {
    const tenant = await services.tenants.resolve(args.tenant);
    const interactive = args.appType !== 'non_interactive';
    const created = await services.clients.create(tenant.id, {
      name: args.name,
      appType: args.appType,
      ...(credential ? { tokenEndpointAuthMethod: 'private_key_jwt' } : {}),
      config: {
        callbacks: args.callbacks,
        allowed_logout_urls: args.logoutUrls,
        grant_types: interactive ? ['authorization_code', 'refresh_token'] : ['client_credentials'],
        ...(credential ? { client_authentication_methods: { private_key_jwt: { credentials: [credential] } } } : {}),
      },
    });
    const issuer = await services.tenants.issuerOf(tenant);
    const result = {
      issuer,
      client_id: created.clientId,
      ...(created.clientSecret ? { client_secret: created.clientSecret } : {}),
      ...(credential ? { token_endpoint_auth_method: 'private_key_jwt', kid: credential.kid, alg: credential.alg } : {}),
    };
    if (args.json) return output.out(JSON.stringify(result));
    output.out(`Created application "${args.name}" in tenant "${tenant.name}"${created.clientSecret ? ' (the secret is shown only now)' : ''}:`);
    for (const [k, v] of Object.entries(result)) output.out(`  ${k}: ${v}`);
  });
}

export async function userCreateCommand(config: Config, logger: Logger, output: Output, args: { tenant?: string; email: string; password: string; json: boolean }): Promise<void> {
  await withServices(config, logger, async ({ services }) => {
    const tenant = await services.tenants.resolve(args.tenant);
    const user = await services.users.signup({ tenantId: tenant.id, connectionName: DEFAULT_DATABASE_CONNECTION, email: args.email, password: args.password });
    output.out(args.json ? JSON.stringify({ user_id: user.user_id, email: user.email }) : `Created user ${user.email} (${user.user_id}) in tenant "${tenant.name}"`);
  });
}
