import { randomBytes } from 'node:crypto';
import type { FastifyReply } from 'fastify';
import type { Tenant } from '../tenants/store.js';
import { pageCsp } from './csp.js';
import type { Branding } from './views.js';

/** What the pages show of a tenant: its display name, logo and colour. */
export function brandingOf(tenant: Tenant): Branding {
  const settings = tenant.settings;
  return { tenantName: settings.friendly_name ?? tenant.name, logoUrl: settings.picture_url, primaryColor: settings.primary_color };
}

export const newNonce = (): string => randomBytes(16).toString('base64url');

/** Headers of every login page: the page CSP with this response's nonce, never cached. */
export function pageHeaders(reply: FastifyReply, nonce: string): FastifyReply {
  return reply.header('content-security-policy', pageCsp(nonce)).header('cache-control', 'no-store').header('pragma', 'no-cache').type('text/html; charset=utf-8');
}

/** Sends a page rendered with a fresh nonce. */
export function sendPage(reply: FastifyReply, status: number, render: (nonce: string) => string): FastifyReply {
  const nonce = newNonce();
  return pageHeaders(reply, nonce).code(status).send(render(nonce));
}
