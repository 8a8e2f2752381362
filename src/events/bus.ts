/**
 * The security event bus: every authentication and management event of a
 * tenant, already in Auth0's log vocabulary (type codes and field names), goes
 * through here. Listeners are the log writer (durable: the event is committed
 * before `publish` resolves), metrics, and whatever else observes security
 * events. Payloads carry identifiers and outcomes only: never a password,
 * secret, token or authorization code.
 */

/** Auth0 log event type codes Portcullis produces (docs/log-events.md lists when). */
export const LOG_EVENT_TYPES = {
  s: 'Success Login',
  f: 'Failed Login',
  fp: 'Failed Login (Incorrect Password)',
  fu: 'Failed Login (Invalid Email/Username)',
  w: 'Warnings During Login',
  ss: 'Success Signup',
  fs: 'Failed Signup',
  slo: 'Success Logout',
  flo: 'Failed Logout',
  ssa: 'Success Silent Auth',
  fsa: 'Failed Silent Auth',
  sapi: 'Success API Operation',
  fapi: 'Failed API Operation',
  seacft: 'Success Exchange (Authorization Code for Access Token)',
  feacft: 'Failed Exchange (Authorization Code for Access Token)',
  seccft: 'Success Exchange (Client Credentials for Access Token)',
  feccft: 'Failed Exchange (Client Credentials for Access Token)',
  sertft: 'Success Exchange (Refresh Token for Access Token)',
  fertft: 'Failed Exchange (Refresh Token for Access Token)',
  ferrt: 'Failed Exchange (Rotating Refresh Token)',
  sepft: 'Success Exchange (Password for Access Token)',
  fepft: 'Failed Exchange (Password for Access Token)',
  scp: 'Success Change Password',
  fcp: 'Failed Change Password',
  scpr: 'Success Change Password Request',
  sv: 'Success Verification Email',
  fv: 'Failed Verification Email',
  du: 'Deleted User',
  sdu: 'Successful User Deletion',
  fdu: 'Failed User Deletion',
  limit_wc: 'Blocked Account',
  limit_mu: 'Blocked IP Address',
  pwd_leak: 'Breached Password',
  api_limit: 'Rate Limit on the Authentication or Management APIs',
  ublkdu: 'User Login Block Released',
} as const;

export type LogEventType = keyof typeof LOG_EVENT_TYPES;

/** One security event, in Auth0's log shape (camelCase here; the log writer stores Auth0's snake_case). */
export interface SecurityEvent {
  readonly tenantId: string;
  readonly type: LogEventType;
  /** Human-readable; defaults to the type's description. */
  readonly description?: string;
  readonly ip?: string;
  readonly userAgent?: string;
  readonly clientId?: string;
  /** Filled from clientId by the log writer when absent. */
  readonly clientName?: string;
  readonly userId?: string;
  /** The email or username the event is about (as typed, for failures). */
  readonly userName?: string;
  readonly connection?: string;
  readonly connectionId?: string;
  readonly audience?: string;
  readonly scope?: string;
  readonly strategy?: string;
  /** Extra facts (error codes, grant type, request path). Never secrets. */
  readonly details?: Record<string, unknown>;
}

export type SecurityEventListener = (event: SecurityEvent) => void | Promise<void>;

/**
 * A typed, in-process bus. `publish` resolves once every durable listener has
 * finished (the log writer resolves when the event is committed), and
 * rejects if a durable listener fails, so a caller that awaits it before
 * answering never answers a request whose security event was lost. Observers
 * (metrics, tests) are not awaited; their errors go to `onObserverError` and
 * never reach the caller.
 */
export class EventBus {
  readonly #durable: SecurityEventListener[] = [];
  readonly #observers: SecurityEventListener[] = [];

  constructor(private readonly onObserverError: (error: unknown, event: SecurityEvent) => void = () => undefined) {}

  /** A listener whose work `publish` waits for (the log writer). */
  onDurable(listener: SecurityEventListener): void {
    this.#durable.push(listener);
  }

  /** A listener that observes events; never delays nor fails a publisher. */
  observe(listener: SecurityEventListener): void {
    this.#observers.push(listener);
  }

  publish(event: SecurityEvent): Promise<void> {
    for (const observer of this.#observers) {
      try {
        const result = observer(event);
        if (result instanceof Promise) result.catch((error: unknown) => this.onObserverError(error, event));
      } catch (error) {
        this.onObserverError(error, event);
      }
    }
    // A listener that throws synchronously rejects the promise like one that rejects.
    return Promise.all(this.#durable.map(async (listener) => listener(event))).then(() => undefined);
  }
}
