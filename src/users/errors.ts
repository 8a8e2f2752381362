import type { PasswordPolicyCode } from './password-policy.js';

export type UserErrorCode =
  | 'connection_not_found'
  | 'signup_disabled'
  | 'invalid_email'
  | 'invalid_username'
  | 'invalid_user_metadata'
  | 'user_exists'
  | 'user_not_found'
  | 'not_database_user'
  /** Refused by breached password detection (src/protection). */
  | 'password_breached'
  | PasswordPolicyCode;

/**
 * A refusal by the users service. `message` is fit to show the person at the
 * form (Auth0's wording where Auth0 has one); `code` is stable, so a caller
 * can `switch (error.code)` to pick a status or an Auth0 error name.
 */
export class UserError extends Error {
  constructor(
    message: string,
    readonly code: UserErrorCode,
  ) {
    super(message);
    this.name = 'UserError';
  }
}
