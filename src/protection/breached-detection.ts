import type { EventBus } from '../events/bus.js';
import type { Tenant } from '../tenants/store.js';
import { UserError } from '../users/errors.js';
import type { PasswordScreen } from '../users/service.js';
import { isBreached } from './breached-passwords.js';
import { attackProtectionOf } from './settings.js';

export const BREACHED_AT_SIGNUP_OR_CHANGE = 'This password has appeared in a data breach (not in this application) and cannot be used. Choose another one.';
/** Auth0's wording for a login refused by breached password detection. */
export const BREACHED_AT_LOGIN = "This login attempt has been blocked because the password you're using was previously disclosed through a data breach (not in this application).";

export interface BreachedDetectionDeps {
  readonly events: EventBus;
  /** The tenant as stored now (the users service knows only its id). */
  readonly tenantOf: (tenantId: string) => Promise<Tenant | undefined>;
  /** A refused attempt (the blocked-attempts metric). */
  readonly onBlocked: () => void;
}

export interface LoginPassword {
  readonly tenant: Tenant;
  readonly password: string;
  readonly userId: string;
  readonly userName: string;
  readonly connection: string;
  readonly ip: string;
  readonly clientId?: string;
  readonly userAgent?: string;
}

/**
 * Breached password detection (Auth0's `breached-password-detection`
 * settings) against the offline corpus: at signup and password change (the
 * users service calls `screen` for every new password, after the
 * connection's policy) and at login (after the password verified). A hit is
 * a `pwd_leak` event, awaited before the answer; `block` in the stage's
 * shields refuses it. Notifications (`user_notification`,
 * `admin_notification`) are the event for now: no mail is sent.
 */
export function breachedDetection(deps: BreachedDetectionDeps) {
  const screen: PasswordScreen = async (input) => {
    const tenant = await deps.tenantOf(input.tenantId);
    if (!tenant) return;
    const settings = attackProtectionOf(tenant).breached_password_detection;
    if (!settings.enabled || !(await isBreached(input.password))) return;
    const shields = settings.stage[input.stage].shields;
    const blocked = shields.includes('block');
    await deps.events.publish({
      tenantId: input.tenantId,
      type: 'pwd_leak',
      userId: input.userId,
      userName: input.userName,
      connection: input.connection,
      description: input.stage === 'pre-user-registration' ? 'Breached password used at signup' : 'Breached password used in a password change',
      details: { stage: input.stage, shields, blocked },
    });
    if (blocked) {
      deps.onBlocked();
      throw new UserError(BREACHED_AT_SIGNUP_OR_CHANGE, 'password_breached');
    }
  };

  /** True when the login must be refused (the password verified, is breached, and `block` is a login shield). */
  async function atLogin(input: LoginPassword): Promise<boolean> {
    const settings = attackProtectionOf(input.tenant).breached_password_detection;
    if (!settings.enabled || !(await isBreached(input.password))) return false;
    const blocked = settings.shields.includes('block');
    await deps.events.publish({
      tenantId: input.tenant.id,
      type: 'pwd_leak',
      userId: input.userId,
      userName: input.userName,
      connection: input.connection,
      ip: input.ip,
      clientId: input.clientId,
      userAgent: input.userAgent,
      description: 'Breached password used at login',
      details: { stage: 'login', shields: settings.shields, blocked },
    });
    if (blocked) deps.onBlocked();
    return blocked;
  }

  return { screen, atLogin };
}

export type BreachedDetection = ReturnType<typeof breachedDetection>;
