import { readFileSync } from 'node:fs';
import { type ZodError } from 'zod';
import { envSchema, type NodeRole, type RawEnv } from './schema.js';
import { parseAllowedCidrs, type LogStreamSettings } from '../logstreams/settings.js';

export type DatabaseConfig =
  | { readonly kind: 'sqlite'; readonly path: string; readonly busyTimeoutMs: number }
  | {
      readonly kind: 'postgres';
      readonly url: string;
      readonly poolMax: number;
      readonly connectTimeoutMs: number;
    };

export type TrustProxy = boolean | number | string[];

export interface Config {
  readonly env: RawEnv['NODE_ENV'];
  readonly port: number;
  readonly host: string;
  /** Origin users reach this service at, without trailing slash (e.g. https://login.example.com). */
  readonly publicUrl: string;
  /** Host (with port when not the scheme's default) of publicUrl: the default tenant's domain. */
  readonly publicHost: string;
  readonly database: DatabaseConfig;
  readonly databaseConnectRetries: number;
  readonly databaseConnectTimeoutMs: number;
  readonly redisUrl: string | undefined;
  /** The configured key; undefined means "use or create the key file" (not in production). */
  readonly masterKey: string | undefined;
  readonly masterKeyFile: string;
  readonly logLevel: RawEnv['LOG_LEVEL'];
  readonly logFormat: RawEnv['LOG_FORMAT'];
  readonly role: NodeRole;
  readonly tls: { readonly certFile: string; readonly keyFile: string } | undefined;
  readonly bodyLimitBytes: number;
  readonly shutdownTimeoutMs: number;
  readonly trustProxy: TrustProxy;
  readonly signingAlg: RawEnv['SIGNING_ALG'];
  readonly tenantCacheTtlMs: number;
  readonly sweepIntervalMs: number;
  /** Attack protection (ATTACK_PROTECTION, REDIS_KEY_PREFIX, BRUTE_FORCE_*, RATE_LIMIT_*); docs/attack-protection.md. */
  readonly attackProtection: {
    readonly enabled: boolean;
    readonly redisKeyPrefix: string;
    readonly redisCommandTimeoutMs: number;
    readonly bruteForceWindowSeconds: number;
    readonly rateLimits: { readonly token: number; readonly login: number; readonly management: number };
  };
  /** Whether security events are recorded (SECURITY_EVENTS; off only for benchmarks). */
  readonly securityEvents: boolean;
  /** Default log retention for tenants without `log_retention_days`. */
  readonly logRetentionDays: number;
  /** Log-stream delivery by the worker role (LOG_STREAM_*). */
  readonly logStreams: LogStreamSettings;
}

/** A configuration problem, reported as one line naming the variable. */
export class ConfigError extends Error {
  readonly code = 'CONFIG_INVALID';
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

function describeIssue(error: ZodError): string {
  const issue = error.issues[0];
  const variable = issue?.path.join('.') ?? 'environment';
  return `Invalid configuration: ${variable}: ${issue?.message ?? 'invalid value'}`;
}

function parseDatabaseUrl(raw: RawEnv): DatabaseConfig {
  const url = raw.DATABASE_URL;
  if (url.startsWith('sqlite:') || url.startsWith('file:')) {
    const path = url.replace(/^(sqlite|file):(\/\/)?/, '');
    if (path.length === 0) throw new ConfigError('Invalid configuration: DATABASE_URL: expected sqlite:<path> with a non-empty path');
    return { kind: 'sqlite', path, busyTimeoutMs: raw.SQLITE_BUSY_TIMEOUT_MS };
  }
  try {
    new URL(url);
  } catch {
    throw new ConfigError('Invalid configuration: DATABASE_URL: expected postgres://user@host:port/database');
  }
  return { kind: 'postgres', url, poolMax: raw.DATABASE_POOL_MAX, connectTimeoutMs: raw.DATABASE_CONNECT_TIMEOUT_MS };
}

function parseTrustProxy(value: string): TrustProxy {
  const v = value.trim().toLowerCase();
  if (v === '' || v === 'false') return false;
  if (v === 'true') return true;
  if (/^\d+$/.test(v)) return Number(v);
  const entries = value.split(',').map((s) => s.trim()).filter(Boolean);
  for (const entry of entries) {
    if (!/^[0-9a-fA-F:.]+(\/\d{1,3})?$/.test(entry)) {
      throw new ConfigError(`Invalid configuration: TRUST_PROXY: "${entry}" is not an IP address or CIDR (expected false, true, a hop count or a list of IPs/CIDRs)`);
    }
  }
  return entries;
}

function checkReadable(variable: string, path: string): void {
  try {
    readFileSync(path);
  } catch {
    throw new ConfigError(`Invalid configuration: ${variable}: cannot read file "${path}"`);
  }
}

/**
 * Parses the environment once. Throws ConfigError with a single line naming the
 * offending variable; the result is deeply frozen.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const input: Record<string, string> = {};
  for (const key of Object.keys(envSchema.shape)) {
    const value = env[key];
    if (value !== undefined && value !== '') input[key] = value;
  }
  const parsed = envSchema.safeParse(input);
  if (!parsed.success) throw new ConfigError(describeIssue(parsed.error));
  const raw = parsed.data;

  if (raw.NODE_ENV === 'production' && raw.MASTER_KEY === undefined) {
    throw new ConfigError('Invalid configuration: MASTER_KEY: required when NODE_ENV=production (32 bytes as 64 hex characters or base64)');
  }
  if ((raw.TLS_CERT_FILE === undefined) !== (raw.TLS_KEY_FILE === undefined)) {
    throw new ConfigError('Invalid configuration: TLS_CERT_FILE and TLS_KEY_FILE: set both or neither');
  }
  if (raw.TLS_CERT_FILE !== undefined && raw.TLS_KEY_FILE !== undefined) {
    checkReadable('TLS_CERT_FILE', raw.TLS_CERT_FILE);
    checkReadable('TLS_KEY_FILE', raw.TLS_KEY_FILE);
  }
  const scheme = raw.TLS_CERT_FILE ? 'https' : 'http';
  const publicUrl = new URL(raw.PUBLIC_URL ?? `${scheme}://localhost:${raw.PORT}`);
  if (publicUrl.pathname !== '/' || publicUrl.search || publicUrl.hash) {
    throw new ConfigError('Invalid configuration: PUBLIC_URL: expected an origin without path, query or fragment (e.g. https://login.example.com)');
  }

  const config: Config = {
    env: raw.NODE_ENV,
    port: raw.PORT,
    host: raw.HOST,
    publicUrl: publicUrl.origin,
    publicHost: publicUrl.host,
    database: parseDatabaseUrl(raw),
    databaseConnectRetries: raw.DATABASE_CONNECT_RETRIES,
    databaseConnectTimeoutMs: raw.DATABASE_CONNECT_TIMEOUT_MS,
    redisUrl: raw.REDIS_URL,
    masterKey: raw.MASTER_KEY,
    masterKeyFile: raw.MASTER_KEY_FILE,
    logLevel: raw.LOG_LEVEL,
    logFormat: raw.LOG_FORMAT,
    role: raw.NODE_ROLE,
    tls: raw.TLS_CERT_FILE && raw.TLS_KEY_FILE ? { certFile: raw.TLS_CERT_FILE, keyFile: raw.TLS_KEY_FILE } : undefined,
    bodyLimitBytes: raw.BODY_LIMIT_BYTES,
    shutdownTimeoutMs: raw.SHUTDOWN_TIMEOUT_MS,
    trustProxy: parseTrustProxy(raw.TRUST_PROXY),
    signingAlg: raw.SIGNING_ALG,
    tenantCacheTtlMs: raw.TENANT_CACHE_TTL_MS,
    sweepIntervalMs: raw.SWEEP_INTERVAL_MS,
    attackProtection: {
      enabled: raw.ATTACK_PROTECTION === 'on',
      redisKeyPrefix: raw.REDIS_KEY_PREFIX,
      redisCommandTimeoutMs: raw.REDIS_COMMAND_TIMEOUT_MS,
      bruteForceWindowSeconds: raw.BRUTE_FORCE_WINDOW_SECONDS,
      rateLimits: { token: raw.RATE_LIMIT_TOKEN_PER_SECOND, login: raw.RATE_LIMIT_LOGIN_PER_SECOND, management: raw.RATE_LIMIT_MANAGEMENT_PER_SECOND },
    },
    securityEvents: raw.SECURITY_EVENTS === 'on',
    logRetentionDays: raw.LOG_RETENTION_DAYS,
    logStreams: {
      allowedCidrs: parseAllowedCidrs(raw.LOG_STREAM_ALLOWED_CIDRS),
      batchSize: raw.LOG_STREAM_BATCH_SIZE,
      lingerMs: raw.LOG_STREAM_LINGER_MS,
      pollIntervalMs: raw.LOG_STREAM_POLL_INTERVAL_MS,
      requestTimeoutMs: raw.LOG_STREAM_REQUEST_TIMEOUT_MS,
      leaseMs: raw.LOG_STREAM_LEASE_MS,
      retryBaseMs: raw.LOG_STREAM_RETRY_BASE_MS,
      retryMaxMs: raw.LOG_STREAM_RETRY_MAX_MS,
      suspendAfterMs: raw.LOG_STREAM_SUSPEND_AFTER_MS,
      maxConcurrent: raw.LOG_STREAM_MAX_CONCURRENT,
    },
  };
  return deepFreeze(config);
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const inner of Object.values(value)) deepFreeze(inner);
    Object.freeze(value);
  }
  return value;
}

/** A copy of the config with some fields replaced (CLI flags such as --role). */
export function withOverrides(config: Config, overrides: Partial<Config>): Config {
  return deepFreeze({ ...config, ...overrides });
}
