import pino, { type Logger, type LoggerOptions } from 'pino';
import type { Config } from '../config/config.js';

/**
 * Paths redacted from every log line. Secrets must never reach logs: request
 * credentials, cookies, and any field named like a secret at the first two
 * levels of a logged object.
 */
export const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["x-api-key"]',
  'res.headers["set-cookie"]',
  ...['password', 'client_secret', 'secret', 'token', 'access_token', 'refresh_token', 'id_token', 'code', 'masterKey', 'privateJwk', 'private_key'].flatMap(
    (field) => [field, `*.${field}`],
  ),
];

export function loggerOptions(config: Pick<Config, 'logLevel' | 'logFormat'>, isTty = Boolean(process.stdout.isTTY)): LoggerOptions {
  const pretty = config.logFormat === 'pretty' || (config.logFormat === 'auto' && isTty);
  return {
    level: config.logLevel,
    base: { service: 'portcullis' },
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: { paths: REDACT_PATHS, censor: '[REDACTED]' },
    ...(pretty ? { transport: { target: 'pino-pretty', options: { translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname,service' } } } : {}),
  };
}

export function createLogger(config: Pick<Config, 'logLevel' | 'logFormat'>, destination?: pino.DestinationStream): Logger {
  const options = loggerOptions(config);
  return destination ? pino({ ...options, transport: undefined }, destination) : pino(options);
}

/**
 * Fastify makes a child logger per request to bind its reqId. Creating a pino
 * child serialises (and redacts) the bindings, which costs more than serving
 * /healthz. This child is created only when something is actually logged at an
 * enabled level; calls below the level stay no-ops. Log lines are identical.
 * A class, so a request allocates one small object and no closures.
 */
class LazyChildLogger {
  #child: Logger | undefined;
  constructor(
    private readonly parent: Logger,
    private readonly childBindings: pino.Bindings,
  ) {}

  #real(): Logger {
    return (this.#child ??= this.parent.child(this.childBindings));
  }

  get level(): string {
    return this.#child?.level ?? this.parent.level;
  }
  set level(value: string) {
    this.#real().level = value;
  }
  child(bindings: pino.Bindings, options?: pino.ChildLoggerOptions): Logger {
    return this.#real().child(bindings, options);
  }
  isLevelEnabled(level: string): boolean {
    return this.parent.isLevelEnabled(level);
  }
  bindings(): pino.Bindings {
    return { ...this.parent.bindings(), ...this.childBindings };
  }
  flush(cb?: (err?: Error) => void): void {
    this.parent.flush(cb);
  }
  silent(): void {}
  fatal(...args: unknown[]): void {
    if (this.parent.isLevelEnabled('fatal')) (this.#real().fatal as (...a: unknown[]) => void)(...args);
  }
  error(...args: unknown[]): void {
    if (this.parent.isLevelEnabled('error')) (this.#real().error as (...a: unknown[]) => void)(...args);
  }
  warn(...args: unknown[]): void {
    if (this.parent.isLevelEnabled('warn')) (this.#real().warn as (...a: unknown[]) => void)(...args);
  }
  info(...args: unknown[]): void {
    if (this.parent.isLevelEnabled('info')) (this.#real().info as (...a: unknown[]) => void)(...args);
  }
  debug(...args: unknown[]): void {
    if (this.parent.isLevelEnabled('debug')) (this.#real().debug as (...a: unknown[]) => void)(...args);
  }
  trace(...args: unknown[]): void {
    if (this.parent.isLevelEnabled('trace')) (this.#real().trace as (...a: unknown[]) => void)(...args);
  }
}

export function lazyChildLogger(parent: Logger, bindings: pino.Bindings): Logger {
  return new LazyChildLogger(parent, bindings) as unknown as Logger;
}
