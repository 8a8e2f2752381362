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
