import { parseArgs } from 'node:util';
import pino from 'pino';
import { loadConfig, withOverrides, type Config } from '../config/config.js';
import { ROLES, type NodeRole } from '../config/schema.js';
import { createLogger } from '../http/logger.js';
import { adminClientCommand, keysListCommand, keysRotateCommand, migrateCommand, tenantCreateCommand, tenantListCommand, type Output } from './commands.js';
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

Configuration comes from environment variables; see docs/configuration.md.`;

const stdout: Output = { out: (line) => process.stdout.write(line + '\n') };

function cliLogger(config: Config) {
  // Commands keep stdout for their result; diagnostics go to stderr.
  const level = config.logLevel === 'silent' ? 'silent' : 'warn';
  return createLogger({ ...config, logLevel: level, logFormat: 'json' }, pino.destination(2));
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
