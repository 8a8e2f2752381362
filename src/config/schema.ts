import { z } from 'zod';
import { parseAllowedCidrs } from '../logstreams/settings.js';

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
  ATTACK_PROTECTION: z.enum(['on', 'off']).default('on'),
  REDIS_KEY_PREFIX: z.string().max(100).default('portcullis:'),
  REDIS_COMMAND_TIMEOUT_MS: positiveInt.max(60_000).default(500),
  BRUTE_FORCE_WINDOW_SECONDS: positiveInt.max(30 * 86_400).default(86_400),
  RATE_LIMIT_TOKEN_PER_SECOND: z.coerce.number().int().min(0).default(10_000),
  RATE_LIMIT_LOGIN_PER_SECOND: z.coerce.number().int().min(0).default(1000),
  RATE_LIMIT_MANAGEMENT_PER_SECOND: z.coerce.number().int().min(0).default(10_000),
  SECURITY_EVENTS: z.enum(['on', 'off']).default('on'),
  LOG_RETENTION_DAYS: positiveInt.max(3650).default(30),
  LOG_STREAM_ALLOWED_CIDRS: z
    .string()
    .default('')
    .superRefine((value, ctx) => {
      try {
        parseAllowedCidrs(value);
      } catch (error) {
        ctx.addIssue({ code: 'custom', message: (error as Error).message });
      }
    }),
  LOG_STREAM_BATCH_SIZE: positiveInt.max(1000).default(200),
  LOG_STREAM_LINGER_MS: z.coerce.number().int().min(0).max(60_000).default(200),
  LOG_STREAM_POLL_INTERVAL_MS: positiveInt.min(10).max(60_000).default(500),
  LOG_STREAM_REQUEST_TIMEOUT_MS: positiveInt.min(100).max(300_000).default(10_000),
  LOG_STREAM_LEASE_MS: positiveInt.min(1000).max(3_600_000).default(30_000),
  LOG_STREAM_RETRY_BASE_MS: positiveInt.max(3_600_000).default(1000),
  LOG_STREAM_RETRY_MAX_MS: positiveInt.max(86_400_000).default(300_000),
  LOG_STREAM_SUSPEND_AFTER_MS: positiveInt.default(604_800_000),
  LOG_STREAM_MAX_CONCURRENT: positiveInt.max(10_000).default(32),
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
  { env: 'REDIS_URL', default: '(unset)', description: 'Redis for shared short-lived state in distributed mode: attack-protection counters (brute force, suspicious IPs, rate limits) are shared by every node through it. Unset: counted in each process\'s memory (embedded mode).' },
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
  { env: 'ATTACK_PROTECTION', default: 'on', description: '`off` turns every attack protection off (brute force, suspicious IP throttling, breached passwords, rate limits). **For the benchmark\'s "protection off" baseline only.** docs/attack-protection.md.' },
  { env: 'REDIS_KEY_PREFIX', default: 'portcullis:', description: 'Prefix of every Redis key Portcullis writes (attack-protection counters), so that installations can share a Redis.' },
  { env: 'REDIS_COMMAND_TIMEOUT_MS', default: '500', description: 'How long one Redis command may take; past it (or with Redis unreachable) the node counts in memory instead, logs an error and reports `portcullis_protection_counter_store_degraded` 1 (decision 013).' },
  { env: 'BRUTE_FORCE_WINDOW_SECONDS', default: '86400', description: 'Brute-force protection counts failed logins of an identifier (and IP) over this window from the first attempt after the last success; a blocked pair stays blocked until it ends unless released earlier (user-blocks API, password change).' },
  { env: 'RATE_LIMIT_TOKEN_PER_SECOND', default: '10000', description: 'Requests per second per tenant to `POST /oauth/token`; more get 429 with `Retry-After` and `X-RateLimit-*`. 0 turns the limit off.' },
  { env: 'RATE_LIMIT_LOGIN_PER_SECOND', default: '1000', description: 'Requests per second per tenant to the login and signup POSTs (`/u/login`, `/u/login/signup`, `/dbconnections/signup`). 0 turns the limit off.' },
  { env: 'RATE_LIMIT_MANAGEMENT_PER_SECOND', default: '10000', description: 'Requests per second per tenant to the Management API (`/api/v2/*`). 0 turns the limit off.' },
  { env: 'SECURITY_EVENTS', default: 'on', description: '`off` stops recording security log events (logins, token exchanges, Management API audit): `publish` returns at once and nothing reaches `GET /api/v2/logs` or log streams. **For the benchmark\'s "logging off" baseline only:** never run a real tenant with it off.' },
  { env: 'LOG_RETENTION_DAYS', default: '30', description: 'How long log events are kept, for tenants whose settings do not say (`log_retention_days` in `PATCH /api/v2/tenants/settings`). The worker role deletes older events in batches every `SWEEP_INTERVAL_MS`.' },
  { env: 'LOG_STREAM_ALLOWED_CIDRS', default: '(empty)', description: 'Comma-separated CIDRs of loopback or private networks that log-stream targets (webhook URLs, NATS servers) may use, e.g. `10.0.0.0/8,127.0.0.1/32`. **Security:** by default only public addresses are reached; link-local, cloud metadata, multicast and reserved addresses are refused whatever this says. Checked when a stream is saved and again on every connection, after DNS resolution.' },
  { env: 'LOG_STREAM_BATCH_SIZE', default: '200', description: 'Most events per log-stream delivery (one webhook request, or one pipelined JetStream publish).' },
  { env: 'LOG_STREAM_LINGER_MS', default: '200', description: 'How long a partial log-stream batch waits for more events, counted from its oldest event.' },
  { env: 'LOG_STREAM_POLL_INTERVAL_MS', default: '500', description: 'How often a worker looks for new events of an idle stream and for streams to claim.' },
  { env: 'LOG_STREAM_REQUEST_TIMEOUT_MS', default: '10000', description: 'Timeout of one log-stream delivery (connect, send, answer); at most a third of `LOG_STREAM_LEASE_MS` is used.' },
  { env: 'LOG_STREAM_LEASE_MS', default: '30000', description: 'How long a worker\'s claim on a stream lasts without renewal: a stream of a dead worker is taken over after this.' },
  { env: 'LOG_STREAM_RETRY_BASE_MS', default: '1000', description: 'First retry delay of a failing stream; doubles per failure (full jitter) up to `LOG_STREAM_RETRY_MAX_MS`.' },
  { env: 'LOG_STREAM_RETRY_MAX_MS', default: '300000', description: 'Longest retry delay of a failing stream.' },
  { env: 'LOG_STREAM_SUSPEND_AFTER_MS', default: '604800000', description: 'A stream failing continuously for this long (default 7 days, as Auth0) is `suspended` and stops; `PATCH` it to `active` to resume from where it stopped.' },
  { env: 'LOG_STREAM_MAX_CONCURRENT', default: '32', description: 'Log streams one worker node delivers at the same time.' },
];
