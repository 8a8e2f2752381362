import { ConfigError } from '../config/config.js';
import { MasterKeyMismatchError } from '../crypto/master-key-check.js';
import { SecretBoxError } from '../crypto/secret-box.js';
import { KeyError } from '../keys/service.js';
import { DatabaseError } from '../storage/database.js';
import { TenantInputError } from '../tenants/domain.js';
import { UserError } from '../users/errors.js';

/** A mistake in how the command was called (exit code 2). */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

const EXPECTED = [ConfigError, DatabaseError, SecretBoxError, MasterKeyMismatchError, TenantInputError, KeyError, UsageError, UserError];

/**
 * The one line printed for a failed command. Errors we expect (bad config,
 * unreachable database, wrong master key…) carry their own message; anything
 * else is unexpected, and says how to see more.
 */
export function describeFailure(error: unknown): string {
  if (EXPECTED.some((type) => error instanceof type)) return (error as Error).message;
  const message = error instanceof Error ? error.message : String(error);
  const code = (error as { code?: unknown } | null)?.code;
  if (code === 'EADDRINUSE') return `cannot listen: address already in use (${message.replace(/^listen EADDRINUSE: address already in use /, '')}); set PORT to another port`;
  if (code === 'EACCES') return `permission denied: ${message}`;
  return `unexpected error: ${message} (run with LOG_LEVEL=debug for details)`;
}
