import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { EventBus } from '../events/bus.js';
import { passwordLoginEvent } from '../logs/login-events.js';
import { BREACHED_AT_LOGIN } from '../protection/breached-detection.js';
import { SUSPICIOUS_IP_MESSAGE } from '../protection/suspicious-ip.js';
import { acceptFormBodies } from '../http/form-body.js';
import { handOverResponse } from '../oauth/hand-over.js';
import type { ProviderRegistry, TenantEngine } from '../oauth/provider-registry.js';
import type { RequestTenant } from '../tenants/routes.js';
import type { Tenant } from '../tenants/store.js';
import { LOGIN_CSS } from './assets.js';
import { csrfToken, csrfValid } from './csrf.js';
import { brandingOf, newNonce, pageHeaders } from './page-reply.js';
import { consentPage, errorPage, loginPage, signupPage, type ConsentApi, type ConsentView, type SignupView } from './views.js';

export const WRONG_CREDENTIALS = 'Wrong email or password.';

/** Who a login attempt was about, for the security log only: never rendered (an unknown user and a wrong password look the same). */
export interface LoginLogFacts {
  readonly userId?: string;
  readonly email?: string | null;
  readonly connection?: { readonly id: string; readonly name: string };
}

/** Why a login is refused: the password check, or attack protection (src/protection) before or after it. */
export type LoginRefusal = 'wrong_credentials' | 'blocked' | 'too_many_attempts' | 'ip_blocked' | 'password_leaked';

/** What the page says for each refusal (Auth0's wording), and its status; throttled ones carry Retry-After. */
const REFUSALS: Record<LoginRefusal, { status: number; message: string }> = {
  wrong_credentials: { status: 400, message: WRONG_CREDENTIALS },
  blocked: { status: 400, message: 'Your account has been blocked. Contact the administrator.' },
  too_many_attempts: { status: 429, message: 'Your account has been blocked after multiple consecutive login attempts.' },
  ip_blocked: { status: 429, message: SUSPICIOUS_IP_MESSAGE },
  password_leaked: { status: 400, message: `${BREACHED_AT_LOGIN} Reset your password to sign in.` },
};

export type AuthenticationResult = ({ ok: true; userId: string } | { ok: false; reason: LoginRefusal; retryAfterSeconds?: number }) & { readonly log?: LoginLogFacts };

/** What the login page needs from the users capability. */
export interface PasswordAuthenticator {
  authenticate(input: { tenantId: string; identifier: string; password: string; ip: string; tenant?: Tenant; clientId?: string; userAgent?: string }): Promise<AuthenticationResult>;
  /** Whether the login page offers signup, and the password length it asks. */
  signupPolicy(tenantId: string): Promise<{ enabled: boolean; minLength: number }>;
  /** A refusal names the field it is about, so the page marks that field (and only it) invalid. */
  signup(input: { tenantId: string; email: string; password: string }): Promise<{ ok: true; userId: string } | { ok: false; message: string; field: 'email' | 'password'; code?: string }>;
}

/** An API (resource server) as the consent page names it. */
export interface ApiDescription {
  readonly name: string;
  readonly scopes: readonly { readonly value: string; readonly description: string | null }[];
}

export interface LoginRoutesOptions {
  readonly registry: ProviderRegistry;
  readonly authenticator: PasswordAuthenticator;
  readonly events: EventBus;
  /** Per-tenant secret for form tokens. */
  readonly formSecret: (tenantId: string) => string;
  /** Whether a client is first-party (no consent asked, as in Auth0). */
  readonly isFirstParty: (tenantId: string, clientId: string) => Promise<boolean>;
  /**
   * An API by identifier (audience), for the names and scope descriptions on
   * the consent page. Without it, or for an unknown API, the page shows the
   * identifier and the bare scope values.
   */
  readonly describeApi?: (tenantId: string, identifier: string) => Promise<ApiDescription | undefined>;
}

/**
 * Universal login: server-rendered pages for the engine's interactions.
 * The engine redirects the browser here (`/u/login?state=<uid>`); a
 * successful POST finishes the interaction and the engine continues the
 * authorization request.
 */
export async function loginRoutes(app: FastifyInstance, options: LoginRoutesOptions): Promise<void> {
  acceptFormBodies(app, { bodyLimit: 16 * 1024 });

  app.get(LOGIN_CSS.path, function loginCss(_request, reply) {
    reply.header('cache-control', 'public, max-age=31536000, immutable').type('text/css; charset=utf-8').send(LOGIN_CSS.body);
  });

  // Browsers ask every origin for a favicon; answer without an error.
  app.get('/favicon.ico', function favicon(_request, reply) {
    reply.header('cache-control', 'public, max-age=86400').code(204).send();
  });

  async function interaction(request: FastifyRequest, reply: FastifyReply) {
    const context = request.tenantContext as RequestTenant;
    const engine = await options.registry.get(context.tenant, context.issuer);
    const nonce = newNonce();
    const branding = brandingOf(context.tenant);
    const state = (request.query as { state?: unknown }).state;
    let details: InteractionDetails;
    try {
      details = await engine.provider.interactionDetails(request.raw, reply.raw);
    } catch {
      pageHeaders(reply, nonce);
      reply.code(400).send(errorPage(branding, nonce, 'Session expired', 'Your login session has expired or is not valid in this browser. Go back to the application and try again.'));
      return undefined;
    }
    // The browser's interaction (its cookie) is another one than this page's.
    if (typeof state !== 'string' || details.uid !== state) {
      pageHeaders(reply, nonce);
      reply.code(403).send(errorPage(branding, nonce, 'Request refused', 'This page does not belong to the login in progress in this browser. Go back to the application and try again.'));
      return undefined;
    }
    const client = await engine.provider.Client.find(details.params.client_id as string);
    return { context, engine, nonce, branding, details, clientName: client?.clientName ?? 'the application' };
  }

  app.get('/u/login', async function showLogin(request, reply) {
    const found = await interaction(request, reply);
    if (!found) return reply;
    const { context, engine, nonce, branding, details, clientName } = found;
    if (details.prompt.name === 'consent') {
      const firstParty = await options.isFirstParty(context.tenant.id, details.params.client_id as string);
      if (firstParty) return finish(engine, request, reply, { consent: { grantId: await approveAll(engine, details) } });
      const view = await consentView(context.tenant, engine, details, clientName);
      pageHeaders(reply, nonce);
      return reply.send(consentPage(branding, nonce, view));
    }
    if (details.prompt.name !== 'login') {
      pageHeaders(reply, nonce);
      return reply.code(400).send(errorPage(branding, nonce, 'Not supported', `Unexpected prompt "${details.prompt.name}".`));
    }
    const signup = await options.authenticator.signupPolicy(context.tenant.id);
    if (details.params.screen_hint === 'signup' && signup.enabled) return reply.redirect(`/u/login/signup?state=${details.uid}`, 303);
    pageHeaders(reply, nonce);
    const loginHint = typeof details.params.login_hint === 'string' ? details.params.login_hint : '';
    return reply.send(
      loginPage(branding, nonce, {
        action: `/u/login?state=${details.uid}`,
        csrf: csrfToken(options.formSecret(context.tenant.id), details.uid),
        clientName,
        username: loginHint,
        error: undefined,
        signupUrl: signup.enabled ? `/u/login/signup?state=${details.uid}` : undefined,
      }),
    );
  });

  app.post('/u/login', async function submitLogin(request, reply) {
    const found = await interaction(request, reply);
    if (!found) return reply;
    const { context, engine, nonce, branding, details, clientName } = found;
    const body = (request.body ?? {}) as Record<string, unknown>;
    const secret = options.formSecret(context.tenant.id);
    if (!csrfValid(secret, details.uid, body.csrf) || details.prompt.name !== 'login') {
      pageHeaders(reply, nonce);
      return reply.code(403).send(errorPage(branding, nonce, 'Request refused', 'This form was not submitted from this login page. Go back to the application and try again.'));
    }
    const identifier = typeof body.username === 'string' ? body.username.trim() : '';
    const password = typeof body.password === 'string' ? body.password : '';
    const result = identifier && password ? await options.authenticator.authenticate({ tenantId: context.tenant.id, tenant: context.tenant, identifier, password, ip: request.ip, clientId: details.params.client_id as string | undefined, userAgent: request.headers['user-agent'] }) : ({ ok: false, reason: 'wrong_credentials' } as AuthenticationResult);
    const clientId = details.params.client_id as string | undefined;
    const loginEvent = { tenantId: context.tenant.id, identifier, clientId, ip: request.ip, userAgent: request.headers['user-agent'], audience: engineAudience(details.params), scope: engineScope(details.params) };
    if (!result.ok) {
      await options.events.publish(passwordLoginEvent({ ok: false, reason: result.reason, userId: result.log?.userId, connection: result.log?.connection }, loginEvent));
      pageHeaders(reply, nonce);
      const refusal = REFUSALS[result.reason];
      if (result.retryAfterSeconds !== undefined) reply.header('retry-after', String(result.retryAfterSeconds));
      return reply.code(refusal.status).send(loginPage(branding, nonce, { action: `/u/login?state=${details.uid}`, csrf: csrfToken(secret, details.uid), clientName, username: identifier, error: refusal.message }));
    }
    await options.events.publish(passwordLoginEvent({ ok: true, userId: result.userId, email: result.log?.email, connection: result.log?.connection }, loginEvent));
    return finish(engine, request, reply, { login: { accountId: result.userId, amr: ['pwd'] } });
  });

  /**
   * The consent page's answer. Posted under /u/login/ because the engine's
   * interaction cookie is scoped to the interaction URL's path (/u/login).
   */
  app.post('/u/login/consent', async function submitConsent(request, reply) {
    const found = await interaction(request, reply);
    if (!found) return reply;
    const { context, engine, nonce, branding, details } = found;
    const body = (request.body ?? {}) as Record<string, unknown>;
    if (!csrfValid(options.formSecret(context.tenant.id), details.uid, body.csrf) || details.prompt.name !== 'consent') {
      pageHeaders(reply, nonce);
      return reply.code(403).send(errorPage(branding, nonce, 'Request refused', 'This form was not submitted from this consent page. Go back to the application and try again.'));
    }
    if (body.decision === 'accept') return finish(engine, request, reply, { consent: { grantId: await approveAll(engine, details) } });
    // Auth0's answer when the user declines; the engine sends it to the client's redirect_uri.
    if (body.decision === 'deny') return finish(engine, request, reply, { error: 'access_denied', error_description: 'User did not authorize the request' });
    pageHeaders(reply, nonce);
    return reply.code(400).send(errorPage(branding, nonce, 'Request refused', 'Choose Accept or Deny on the consent page.'));
  });

  /** The consent page's content: what the request asks, worded for people. */
  async function consentView(tenant: RequestTenant['tenant'], engine: TenantEngine, details: InteractionDetails, clientName: string): Promise<ConsentView> {
    const asked = await requestedAccess(engine, details, tenant.settings.default_audience);
    const apis = await Promise.all(
      [...asked.resources].map(async ([identifier, scopes]): Promise<ConsentApi> => {
        const api = await options.describeApi?.(tenant.id, identifier);
        const descriptions = new Map(api?.scopes.map((s) => [s.value, s.description]));
        return { name: api?.name ?? identifier, scopes: scopes.map((value) => ({ value, description: descriptions.get(value) ?? null })) };
      }),
    );
    return {
      action: `/u/login/consent?state=${details.uid}`,
      csrf: csrfToken(options.formSecret(tenant.id), details.uid),
      clientName,
      account: [...asked.oidc.map((scope) => OIDC_SCOPE_WORDING.get(scope) ?? scope), ...(asked.claims.length > 0 ? [`Profile details: ${asked.claims.join(', ')}`] : [])],
      apis,
    };
  }

  async function signupContext(request: FastifyRequest, reply: FastifyReply) {
    const found = await interaction(request, reply);
    if (!found) return undefined;
    const policy = await options.authenticator.signupPolicy(found.context.tenant.id);
    if (!policy.enabled || found.details.prompt.name !== 'login') {
      pageHeaders(reply, found.nonce);
      reply.code(403).send(errorPage(found.branding, found.nonce, 'Sign up unavailable', 'New accounts cannot be created here. Go back to the application.'));
      return undefined;
    }
    return { ...found, policy };
  }

  const signupView = (details: InteractionDetails, secret: string, clientName: string, minLength: number, email: string, error: SignupView['error']) => ({
    action: `/u/login/signup?state=${details.uid}`,
    csrf: csrfToken(secret, details.uid),
    clientName,
    email,
    error,
    loginUrl: `/u/login?state=${details.uid}`,
    minLength,
  });

  app.get('/u/login/signup', async function showSignup(request, reply) {
    const found = await signupContext(request, reply);
    if (!found) return reply;
    const { context, nonce, branding, details, clientName, policy } = found;
    pageHeaders(reply, nonce);
    return reply.send(signupPage(branding, nonce, signupView(details, options.formSecret(context.tenant.id), clientName, policy.minLength, '', undefined)));
  });

  app.post('/u/login/signup', async function submitSignup(request, reply) {
    const found = await signupContext(request, reply);
    if (!found) return reply;
    const { context, engine, nonce, branding, details, clientName, policy } = found;
    const body = (request.body ?? {}) as Record<string, unknown>;
    const secret = options.formSecret(context.tenant.id);
    if (!csrfValid(secret, details.uid, body.csrf)) {
      pageHeaders(reply, nonce);
      return reply.code(403).send(errorPage(branding, nonce, 'Request refused', 'This form was not submitted from this page. Go back to the application and try again.'));
    }
    const email = typeof body.email === 'string' ? body.email.trim() : '';
    const password = typeof body.password === 'string' ? body.password : '';
    const result = await options.authenticator.signup({ tenantId: context.tenant.id, email, password });
    const clientId = details.params.client_id as string | undefined;
    const signupEvent = { tenantId: context.tenant.id, userName: email, clientId, ip: request.ip, userAgent: request.headers['user-agent'] };
    if (!result.ok) {
      // The reason, never the password (docs/log-events.md).
      await options.events.publish({ ...signupEvent, type: 'fs', description: result.message, details: { error: { message: result.message, ...(result.code ? { code: result.code } : {}) }, field: result.field } });
      pageHeaders(reply, nonce);
      return reply.code(400).send(signupPage(branding, nonce, signupView(details, secret, clientName, policy.minLength, email, { message: result.message, field: result.field })));
    }
    await options.events.publish({ ...signupEvent, type: 'ss', userId: result.userId });
    // Auth0 signs the new user in straight away.
    return finish(engine, request, reply, { login: { accountId: result.userId, amr: ['pwd'] } });
  });
}

type InteractionDetails = Awaited<ReturnType<TenantEngine['provider']['interactionDetails']>>;

/** The API the authorization request names (Auth0's `audience` reaches the engine as `resource`), for the log. */
function engineAudience(params: InteractionDetails['params']): string | undefined {
  const resource = params.resource;
  return typeof resource === 'string' ? resource : Array.isArray(resource) ? resource.map(String).join(' ') : undefined;
}

function engineScope(params: InteractionDetails['params']): string | undefined {
  return typeof params.scope === 'string' ? params.scope : undefined;
}

type MissingAccess = { missingOIDCScope?: string[]; missingOIDCClaims?: string[]; missingResourceScopes?: Record<string, string[]> };

/** OpenID scopes (OIDC Core §5.4) as the consent page says them. */
const OIDC_SCOPE_WORDING = new Map([
  ['openid', 'Your user ID, to sign you in'],
  ['profile', 'Your profile: name, nickname and picture'],
  ['email', 'Your email address'],
  ['offline_access', 'Access to your account while you are not using the application'],
]);

/**
 * What the request asks of the user: what the engine reports missing from
 * the grant, plus what the grant already holds of this request (with
 * prompt=consent the user is asked again for what was granted before), in
 * the order of the request's `scope`.
 */
async function requestedAccess(engine: TenantEngine, details: InteractionDetails, defaultAudience: string | undefined) {
  const missing = details.prompt.details as MissingAccess;
  const requested = [...new Set(String(details.params.scope ?? '').split(' ').filter(Boolean))];
  const grant = details.grantId ? await engine.provider.Grant.find(details.grantId) : undefined;
  const grantedOidc = new Set(grant?.getOIDCScopeFiltered(requested).split(' '));
  const missingOidc = new Set(missing.missingOIDCScope);
  const oidc = requested.filter((scope) => missingOidc.has(scope) || grantedOidc.has(scope));

  // APIs of this request: those the engine reports, and those named by `resource` (Auth0's `audience`) or the default audience.
  const resourceParam = details.params.resource;
  const named = new Set(resourceParam === undefined ? [defaultAudience] : [resourceParam].flat().map(String));
  const missingByApi = new Map(Object.entries(missing.missingResourceScopes ?? {}));
  const indicators = new Set([...missingByApi.keys(), ...Object.keys(grant?.resources ?? {}).filter((r) => named.has(r))]);
  const resources = new Map<string, string[]>();
  for (const indicator of indicators) {
    const missingScopes = new Set(missingByApi.get(indicator));
    const grantedScopes = new Set(grant?.getResourceScopeFiltered(indicator, requested).split(' '));
    const scopes = requested.filter((scope) => missingScopes.has(scope) || grantedScopes.has(scope));
    if (scopes.length > 0) resources.set(indicator, scopes);
  }
  return { oidc, claims: missing.missingOIDCClaims ?? [], resources };
}

/**
 * Grants what the engine reports missing (scopes, claims, API scopes): for a
 * first-party application without asking (Auth0 asks no consent of them),
 * for a third-party one when the user accepts the consent page, which listed
 * it all.
 */
async function approveAll(engine: TenantEngine, details: InteractionDetails): Promise<string> {
  const accountId = details.session?.accountId;
  const clientId = details.params.client_id as string;
  const grant = details.grantId ? await engine.provider.Grant.find(details.grantId) : new engine.provider.Grant({ accountId, clientId });
  if (!grant) throw new Error('grant referenced by the interaction no longer exists');
  const missing = details.prompt.details as MissingAccess;
  if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(' '));
  if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims);
  for (const [indicator, scopes] of Object.entries(missing.missingResourceScopes ?? {})) grant.addResourceScope(indicator, scopes.join(' '));
  return grant.save();
}

/** Lets the engine write its 303 redirect back to the authorization endpoint. */
async function finish(engine: TenantEngine, request: FastifyRequest, reply: FastifyReply, result: Record<string, unknown>): Promise<FastifyReply> {
  handOverResponse(reply);
  await engine.provider.interactionFinished(request.raw, reply.raw, result, { mergeWithLastSubmission: 'consent' in result });
  return reply;
}
