import { z } from 'zod';

/**
 * Every setting Portcullis reads, in one schema. Each entry carries its
 * environment variable name, default and description; docs/configuration.md is
 * checked against this list by a test, so the two cannot drift apart.
 */
export interface SettingDoc {
  readonly env: string;
  readonly default: string;
  readonly description: string;
}

const port = z.coerce.number().int().min(0).max(65535);
const positiveInt = z.coerce.number().int().positive();

export const ROLES = ['api', 'worker', 'all'] as const;
export type NodeRole = (typeof ROLES)[number];

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

/** Raw environment schema: keys are the variable names. */
export const envSchema = z.object({
  NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
  PORT: port.default(3000),
  HOST: z.string().min(1).default('0.0.0.0'),
  PUBLIC_URL: z.url({ protocol: /^https?$/ }).optional(),
  DATABASE_URL: z
    .string()
    .regex(/^(sqlite:|file:|postgres:\/\/|postgresql:\/\/)/, 'sqlite:<path>, file:<path> or postgres://…')
    .default('sqlite:./data/portcullis.db'),
  DATABASE_POOL_MAX: positiveInt.max(1000).default(10),
  DATABASE_CONNECT_RETRIES: z.coerce.number().int().min(0).max(100).default(10),
  DATABASE_CONNECT_TIMEOUT_MS: positiveInt.default(5000),
  SQLITE_BUSY_TIMEOUT_MS: z.coerce.number().int().min(0).default(5000),
  REDIS_URL: z.string().regex(/^rediss?:\/\//, 'redis://… or rediss://…').optional(),
  MASTER_KEY: z.string().optional(),
  MASTER_KEY_FILE: z.string().min(1).default('./data/master.key'),
  LOG_LEVEL: z.enum(LOG_LEVELS).default('info'),
  LOG_FORMAT: z.enum(['auto', 'json', 'pretty']).default('auto'),
  NODE_ROLE: z.enum(ROLES).default('all'),
  TLS_CERT_FILE: z.string().min(1).optional(),
  TLS_KEY_FILE: z.string().min(1).optional(),
  BODY_LIMIT_BYTES: positiveInt.max(100 * 1024 * 1024).default(1024 * 1024),
  SHUTDOWN_TIMEOUT_MS: positiveInt.default(10_000),
  TRUST_PROXY: z.string().default('false'),
  SIGNING_ALG: z.enum(['RS256', 'ES256', 'EdDSA']).default('RS256'),
  TENANT_CACHE_TTL_MS: z.coerce.number().int().min(0).max(60_000).default(1000),
  SWEEP_INTERVAL_MS: positiveInt.default(60_000),
});

export type RawEnv = z.infer<typeof envSchema>;

export const settingDocs: readonly SettingDoc[] = [
  { env: 'NODE_ENV', default: 'development', description: '`development`, `test` or `production`. In production a `MASTER_KEY` is required and no insecure default is accepted.' },
  { env: 'PORT', default: '3000', description: 'TCP port to listen on (0 picks a free port).' },
  { env: 'HOST', default: '0.0.0.0', description: 'Interface to bind.' },
  { env: 'PUBLIC_URL', default: 'http://localhost:<PORT>', description: 'The URL users reach this service at. Its host is the default tenant\'s domain and its origin forms the default tenant\'s issuer (`<PUBLIC_URL>/`).' },
  { env: 'DATABASE_URL', default: 'sqlite:./data/portcullis.db', description: '`sqlite:<path>` or `file:<path>` for the embedded database, `postgres://user:pass@host:port/db` for PostgreSQL.' },
  { env: 'DATABASE_POOL_MAX', default: '10', description: 'PostgreSQL pool size per process.' },
  { env: 'DATABASE_CONNECT_RETRIES', default: '10', description: 'How many times to retry an unreachable database at start (exponential backoff, capped at 2 s) before exiting.' },
  { env: 'DATABASE_CONNECT_TIMEOUT_MS', default: '5000', description: 'Timeout for one PostgreSQL connection attempt and for the readiness probe\'s query.' },
  { env: 'SQLITE_BUSY_TIMEOUT_MS', default: '5000', description: 'How long SQLite waits for a lock held by another process before failing.' },
  { env: 'REDIS_URL', default: '(unset)', description: 'Redis for shared short-lived state in distributed mode (used by later features; validated now).' },
  { env: 'MASTER_KEY', default: '(generated in embedded mode)', description: '32-byte key (64 hex characters or base64/base64url) that encrypts secrets at rest (signing keys, client secrets). **Security:** required when `NODE_ENV=production`; when absent otherwise, a key is generated into `MASTER_KEY_FILE` with a loud warning. Losing it makes existing keys and secrets unreadable.' },
  { env: 'MASTER_KEY_FILE', default: './data/master.key', description: 'Where the generated development master key is kept (mode 0600). Ignored when `MASTER_KEY` is set.' },
  { env: 'LOG_LEVEL', default: 'info', description: 'pino level: fatal, error, warn, info, debug, trace or silent.' },
  { env: 'LOG_FORMAT', default: 'auto', description: '`json`, `pretty`, or `auto` (pretty on a TTY, JSON otherwise).' },
  { env: 'NODE_ROLE', default: 'all', description: '`api` (HTTP endpoints), `worker` (background jobs; serves only health and metrics), or `all`. `portcullis start --role` overrides it.' },
  { env: 'TLS_CERT_FILE', default: '(unset)', description: 'PEM certificate chain; with `TLS_KEY_FILE`, serve HTTPS directly. Set both or neither.' },
  { env: 'TLS_KEY_FILE', default: '(unset)', description: 'PEM private key for `TLS_CERT_FILE`.' },
  { env: 'BODY_LIMIT_BYTES', default: '1048576', description: 'Largest request body accepted; larger bodies get 413.' },
  { env: 'SHUTDOWN_TIMEOUT_MS', default: '10000', description: 'On SIGTERM/SIGINT, how long in-flight requests may take to finish before the process exits anyway.' },
  { env: 'TRUST_PROXY', default: 'false', description: '`false`, `true`, a hop count, or a comma-separated list of proxy IPs/CIDRs whose `X-Forwarded-*` headers are believed. **Security:** only trust proxies you run.' },
  { env: 'SIGNING_ALG', default: 'RS256', description: 'Algorithm for signing keys of newly created tenants: RS256 (as Auth0), ES256 or EdDSA.' },
  { env: 'TENANT_CACHE_TTL_MS', default: '1000', description: 'How long a node may serve a cached host→tenant map before re-reading it (changes made by another node take effect within this time).' },
  { env: 'SWEEP_INTERVAL_MS', default: '60000', description: 'How often the worker role deletes expired protocol artifacts.' },
];
