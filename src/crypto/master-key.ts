import { hkdfSync, randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Logger } from 'pino';
import { ConfigError } from '../config/config.js';

/** Parses a 32-byte key given as 64 hex characters or base64 / base64url. */
export function parseMasterKey(value: string, source: string): Buffer {
  const trimmed = value.trim();
  if (/^[0-9a-fA-F]{64}$/.test(trimmed)) return Buffer.from(trimmed, 'hex');
  if (/^[A-Za-z0-9+/_-]{43}=?$/.test(trimmed)) {
    const bytes = Buffer.from(trimmed.replace(/-/g, '+').replace(/_/g, '/'), 'base64');
    if (bytes.length === 32) return bytes;
  }
  throw new ConfigError(`Invalid configuration: ${source}: expected a 32-byte key as 64 hex characters or base64 (generate one with: openssl rand -hex 32)`);
}

export interface MasterKeySource {
  readonly masterKey: string | undefined;
  readonly masterKeyFile: string;
}

/**
 * Returns MASTER_KEY, or in embedded development use the key kept in
 * MASTER_KEY_FILE, creating it (0600) with a loud warning on first run.
 * loadConfig already refuses a missing key in production.
 */
export function resolveMasterKey(config: MasterKeySource, logger: Logger): Buffer {
  if (config.masterKey !== undefined) return parseMasterKey(config.masterKey, 'MASTER_KEY');
  const file = config.masterKeyFile;
  try {
    return parseMasterKey(readFileSync(file, 'utf8'), `MASTER_KEY_FILE (${file})`);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  mkdirSync(dirname(file), { recursive: true });
  const key = randomBytes(32);
  try {
    writeFileSync(file, key.toString('hex') + '\n', { mode: 0o600, flag: 'wx' });
  } catch (error) {
    // Another process created it between our read and write: use theirs.
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return parseMasterKey(readFileSync(file, 'utf8'), `MASTER_KEY_FILE (${file})`);
    throw error;
  }
  logger.warn(
    { file },
    '!!! MASTER_KEY is not set: generated a development master key into %s. Anyone who can read that file can decrypt signing keys and client secrets. Set MASTER_KEY (openssl rand -hex 32) for any real deployment; it is required with NODE_ENV=production.',
    file,
  );
  return key;
}

/** Derives an independent subkey per purpose (RFC 5869 HKDF-SHA256). */
export function deriveKey(master: Buffer, purpose: string, length = 32): Buffer {
  return Buffer.from(hkdfSync('sha256', master, Buffer.alloc(0), `portcullis:${purpose}`, length));
}
