export type TicketErrorCode =
  /** Unknown, expired or already used: the page says the same for all three. */
  | 'invalid_ticket'
  | 'user_not_found'
  | 'connection_not_found'
  | 'client_not_found'
  | 'identity_not_found'
  | 'not_database_user'
  | 'no_email';

/**
 * A refusal by the tickets service. `code` is stable (`switch (error.code)`
 * picks the Management API status or the page); `message` is Auth0-style
 * wording for API callers, never shown for `invalid_ticket`.
 */
export class TicketError extends Error {
  constructor(
    message: string,
    readonly code: TicketErrorCode,
  ) {
    super(message);
    this.name = 'TicketError';
  }
}
