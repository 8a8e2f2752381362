import { parseArgs } from 'node:util';
import pino from 'pino';
import { loadConfig, withOverrides, type Config } from '../config/config.js';
import { ROLES, type NodeRole } from '../config/schema.js';
import { createLogger } from '../http/logger.js';
import { adminClientCommand, clientCreateCommand, userCreateCommand, keysListCommand, keysRotateCommand, migrateCommand, tenantCreateCommand, tenantListCommand, type Output } from './commands.js';
import { describeFailure, UsageError } from './errors.js';
import { runServer } from './start.js';

export const USAGE = `Usage: portcullis <command> [options]

Commands:
  start [--role api|worker|all]              run a node (default role: NODE_ROLE, else all)
  migrate                                    apply database migrations
  tenant create <name> --domain <host>...    create a tenant (repeat --domain; --alg RS256|ES256|EdDSA)
  tenant list [--json]                       list tenants
  keys rotate [--tenant <name>] [--alg A]    rotate signing keys (next → current → previous)
  keys list [--tenant <name>] [--json]       list signing keys and their states
  admin-client [--tenant <name>] [--json]    create (or rotate the secret of) a Management API client
  client create <name> --callback <url>...   create an application (--type regular_web|spa|native|non_interactive,
                                             --logout-url <url>..., --tenant <name>, --json; --public-key-file <pem>
                                             [--alg RS256|PS256|ES256] for private_key_jwt instead of a secret)
  user create <email>                        create a database user; the password is read from PORTCULLIS_PASSWORD
                                             or the first line of standard input (--tenant <name>, --json)

Configuration comes from environment variables; see docs/configuration.md.`;

const stdout: Output = { out: (line) => process.stdout.write(line + '\n') };

function cliLogger(config: Config) {
  // Commands keep stdout for their result; diagnostics go to stderr.
  const level = config.logLevel === 'silent' ? 'silent' : 'warn';
  return createLogger({ ...config, logLevel: level, logFormat: 'json' }, pino.destination(2));
}

/** The first line of standard input (a password piped in), or '' on a TTY. */
async function readFirstLine(): Promise<string> {
  if (process.stdin.isTTY) return '';
  let data = '';
  for await (const chunk of process.stdin) {
    data += String(chunk);
    if (data.includes('\n')) break;
  }
  return data.split('\n')[0]?.replace(/\r$/, '') ?? '';
}

function parse(argv: string[]) {
  try {
    return parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        role: { type: 'string' },
        domain: { type: 'string', multiple: true },
        tenant: { type: 'string' },
        alg: { type: 'string' },
        json: { type: 'boolean', default: false },
        callback: { type: 'string', multiple: true },
        'logout-url': { type: 'string', multiple: true },
        type: { type: 'string' },
        'public-key-file': { type: 'string' },
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}

async function dispatch(argv: string[]): Promise<void> {
  const { values, positionals } = parse(argv);
  const [command, sub, ...rest] = positionals;
  if (values.help || command === undefined || command === 'help') {
    process.stdout.write(USAGE + '\n');
    return;
  }
  const base = loadConfig();
  const json = values.json ?? false;
  switch (command) {
    case 'start': {
      if (values.role !== undefined && !(ROLES as readonly string[]).includes(values.role)) throw new UsageError(`--role must be one of ${ROLES.join(', ')}`);
      const config = values.role ? withOverrides(base, { role: values.role as NodeRole }) : base;
      return runServer(config, createLogger(config));
    }
    case 'migrate':
      return migrateCommand(base, cliLogger(base), stdout);
    case 'tenant':
      if (sub === 'create') {
        const name = rest[0];
        if (!name) throw new UsageError('usage: portcullis tenant create <name> --domain <host>');
        if (!values.domain?.length) throw new UsageError('tenant create needs at least one --domain <host>');
        return tenantCreateCommand(base, cliLogger(base), stdout, { name, domains: values.domain, ...(values.alg ? { alg: values.alg } : {}), json });
      }
      if (sub === 'list') return tenantListCommand(base, cliLogger(base), stdout, { json });
      throw new UsageError('usage: portcullis tenant create|list');
    case 'keys':
      if (sub === 'rotate') return keysRotateCommand(base, cliLogger(base), stdout, { ...(values.tenant ? { tenant: values.tenant } : {}), ...(values.alg ? { alg: values.alg } : {}), json });
      if (sub === 'list') return keysListCommand(base, cliLogger(base), stdout, { ...(values.tenant ? { tenant: values.tenant } : {}), json });
      throw new UsageError('usage: portcullis keys rotate|list');
    case 'client':
      if (sub === 'create' && rest[0]) {
        return clientCreateCommand(base, cliLogger(base), stdout, {
          ...(values.tenant ? { tenant: values.tenant } : {}),
          name: rest[0],
          appType: values.type ?? 'regular_web',
          callbacks: values.callback ?? [],
          logoutUrls: values['logout-url'] ?? [],
          ...(values['public-key-file'] ? { publicKeyFile: values['public-key-file'] } : {}),
          ...(values.alg ? { alg: values.alg } : {}),
          json,
        });
      }
      throw new UsageError('usage: portcullis client create <name> --callback <url>');
    case 'user':
      if (sub === 'create' && rest[0]) {
        const password = process.env.PORTCULLIS_PASSWORD ?? (await readFirstLine());
        if (!password) throw new UsageError('give the password in PORTCULLIS_PASSWORD or on standard input');
        return userCreateCommand(base, cliLogger(base), stdout, { ...(values.tenant ? { tenant: values.tenant } : {}), email: rest[0], password, json });
      }
      throw new UsageError('usage: portcullis user create <email>');
    case 'admin-client':
      return adminClientCommand(base, cliLogger(base), stdout, { ...(values.tenant ? { tenant: values.tenant } : {}), json });
    default:
      throw new UsageError(`unknown command "${command}" (see portcullis --help)`);
  }
}

/** Entry point: runs the command; on failure prints one line and exits non-zero. */
export async function main(argv: string[] = process.argv.slice(2)): Promise<void> {
  try {
    await dispatch(argv);
  } catch (error) {
    process.stderr.write(`portcullis: ${describeFailure(error)}\n`);
    if (process.env.LOG_LEVEL === 'debug' && error instanceof Error && error.stack) process.stderr.write(error.stack + '\n');
    process.exitCode = error instanceof UsageError ? 2 : 1;
  }
}
