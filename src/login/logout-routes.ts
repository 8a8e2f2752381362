import type { FastifyInstance } from 'fastify';
import type { KoaContextWithOIDC } from 'oidc-provider';
import type { EventBus } from '../events/bus.js';
import type { ProviderRegistry } from '../oauth/provider-registry.js';
import type { RequestTenant } from '../tenants/routes.js';
import { brandingOf, sendPage } from './page-reply.js';
import { errorPage, loggedOutPage } from './views.js';

export interface LogoutRoutesOptions {
  readonly registry: ProviderRegistry;
  /** The client's `allowed_logout_urls`, or undefined when the client does not exist. */
  readonly allowedLogoutUrls: (tenantId: string, clientId: string) => Promise<readonly string[] | undefined>;
  /** `slo` / `flo` events, committed before the answer. */
  readonly events: EventBus;
}

/**
 * Auth0's `GET /v2/logout?client_id&returnTo`: ends the SSO session
 * server-side (the session artifact is deleted, so the old cookie is worth
 * nothing on any node) and redirects only to a URL listed exactly in the
 * client's `allowed_logout_urls` (or, without client_id, the tenant's). An
 * unlisted returnTo is an error page, never a redirect (no open redirector).
 */
export async function logoutRoutes(app: FastifyInstance, options: LogoutRoutesOptions): Promise<void> {
  app.get('/v2/logout', async function auth0Logout(request, reply) {
    const { tenant, issuer } = request.tenantContext as RequestTenant;
    const branding = brandingOf(tenant);
    const query = request.query as Record<string, unknown>;
    const clientId = typeof query.client_id === 'string' ? query.client_id : undefined;
    const returnTo = typeof query.returnTo === 'string' ? query.returnTo : undefined;
    const userAgent = typeof request.headers['user-agent'] === 'string' ? request.headers['user-agent'] : undefined;
    const failed = (description: string, error: string) =>
      options.events.publish({ tenantId: tenant.id, type: 'flo', description, clientId, ip: request.ip, userAgent, details: { error, ...(returnTo !== undefined ? { return_to: returnTo.slice(0, 1024) } : {}) } });

    let allowed: readonly string[] = tenant.settings.allowed_logout_urls;
    if (clientId !== undefined) {
      const list = await options.allowedLogoutUrls(tenant.id, clientId);
      if (!list) {
        await failed('The client_id is not known.', 'invalid_client');
        return sendPage(reply, 400, (nonce) => errorPage(branding, nonce, 'Logout failed', 'The client_id is not known.'));
      }
      allowed = list;
    }
    if (returnTo !== undefined && !allowed.includes(returnTo)) {
      await failed('The returnTo URL is not an allowed logout URL.', 'invalid_request');
      return sendPage(reply, 400, (nonce) => errorPage(branding, nonce, 'Logout failed', `"${returnTo}" is not an allowed logout URL for this application.`));
    }

    const engine = await options.registry.get(tenant, issuer);
    const ctx = engine.provider.createContext(request.raw, reply.raw) as unknown as KoaContextWithOIDC;
    const session = await engine.provider.Session.get(ctx);
    const accountId = session.accountId;
    if (accountId) await session.destroy();
    await options.events.publish({ tenantId: tenant.id, type: 'slo', clientId, userId: accountId, ip: request.ip, userAgent, details: { ...(returnTo !== undefined ? { return_to: returnTo } : {}), session_ended: accountId !== undefined } });
    // Expire the session cookie in the browser too (the engine's cookie options).
    ctx.cookies.set(engine.provider.cookieName('session'), null);

    if (returnTo !== undefined) return reply.redirect(returnTo, 302);
    return sendPage(reply, 200, (nonce) => loggedOutPage(branding, nonce));
  });
}
