import type { SecurityEvent } from '../events/bus.js';

/** Auth0's description of a refused password, for an unknown user and a wrong password alike. */
const WRONG_CREDENTIALS = 'Wrong email or password.';

/**
 * The outcome of a password check as the log needs it. The account and
 * connection come from the users capability; they go into the log event only,
 * never into the answer (an unknown user and a wrong password look the same
 * to the caller).
 */
/** Descriptions of refusals (attack protection's refusals are logged as `f`, besides its own limit_wc, limit_mu and pwd_leak events). */
const REFUSAL_DESCRIPTIONS: Readonly<Record<string, string>> = {
  wrong_credentials: WRONG_CREDENTIALS,
  too_many_attempts: 'Too many failed login attempts for this account from this IP address.',
  ip_blocked: 'Too many failed login attempts from this IP address.',
  password_leaked: 'The password was found in a data breach.',
};

export type PasswordLoginOutcome =
  | { readonly ok: true; readonly userId: string; readonly email?: string | null; readonly connection?: { readonly id: string; readonly name: string } }
  | { readonly ok: false; readonly reason: string; readonly userId?: string; readonly connection?: { readonly id: string; readonly name: string } };

export interface PasswordLoginContext {
  readonly tenantId: string;
  /** The email or username as typed. */
  readonly identifier: string;
  readonly clientId?: string;
  readonly ip?: string;
  readonly userAgent?: string;
  readonly audience?: string;
  readonly scope?: string;
}

/**
 * The security event of one password login: `s` on success; on a refusal
 * `f` (blocked user), `fp` (the account exists, wrong password) or `fu` (no
 * such account). Never the password.
 */
export function passwordLoginEvent(outcome: PasswordLoginOutcome, context: PasswordLoginContext): SecurityEvent {
  const common = {
    tenantId: context.tenantId,
    clientId: context.clientId,
    ip: context.ip,
    userAgent: context.userAgent,
    audience: context.audience,
    scope: context.scope,
    connection: outcome.connection?.name,
    connectionId: outcome.connection?.id,
    strategy: outcome.connection ? 'auth0' : undefined,
  };
  if (outcome.ok) return { ...common, type: 's', userId: outcome.userId, userName: outcome.email ?? context.identifier };
  if (outcome.reason === 'blocked') {
    return { ...common, type: 'f', description: 'user is blocked', userId: outcome.userId, userName: context.identifier, details: { error: { message: 'user is blocked' }, reason: 'blocked' } };
  }
  const type = outcome.reason !== 'wrong_credentials' ? 'f' : outcome.userId !== undefined ? 'fp' : 'fu';
  const description = REFUSAL_DESCRIPTIONS[outcome.reason] ?? outcome.reason;
  return { ...common, type, description, userId: outcome.userId, userName: context.identifier, details: { error: { message: description }, reason: outcome.reason } };
}
