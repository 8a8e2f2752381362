import { EventEmitter } from 'node:events';

/**
 * Authentication events, as the logs capability will record them (Auth0's
 * `s`, `f`, `seccft`, `feccft`, … are derived from these). Payloads carry
 * identifiers only: never a password, secret or token.
 */
export interface AuthEvents {
  'token.issued': { tenantId: string; grantType: string; clientId: string | undefined; userId: string | undefined; audience: string | undefined; scope: string | undefined; ip: string };
  'token.failed': { tenantId: string; grantType: string | undefined; clientId: string | undefined; error: string; description: string | undefined; ip: string };
  'login.succeeded': { tenantId: string; userId: string; clientId: string | undefined; ip: string };
  'login.failed': { tenantId: string; identifier: string; clientId: string | undefined; reason: 'wrong_credentials' | 'blocked'; ip: string };
  'signup.succeeded': { tenantId: string; userId: string; clientId: string | undefined; ip: string };
  'logout.succeeded': { tenantId: string; clientId: string | undefined; ip: string };
  'engine.error': { tenantId: string; message: string };
}

/**
 * A typed, in-process event bus. Listeners must not throw into the emitter's
 * caller (a logging failure must not fail a login): errors are routed to
 * `onListenerError`. Durability belongs to whoever listens (the logs
 * capability writes through an outbox).
 */
export class EventBus {
  readonly #emitter = new EventEmitter();

  constructor(private readonly onListenerError: (error: unknown, event: string) => void = () => undefined) {
    this.#emitter.setMaxListeners(50);
  }

  on<K extends keyof AuthEvents>(event: K, listener: (payload: AuthEvents[K]) => void | Promise<void>): void {
    this.#emitter.on(event, (payload: AuthEvents[K]) => {
      try {
        const result = listener(payload);
        if (result instanceof Promise) result.catch((error: unknown) => this.onListenerError(error, event));
      } catch (error) {
        this.onListenerError(error, event);
      }
    });
  }

  emit<K extends keyof AuthEvents>(event: K, payload: AuthEvents[K]): void {
    this.#emitter.emit(event, payload);
  }
}
