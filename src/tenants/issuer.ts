import type { Config } from '../config/config.js';

/**
 * A tenant's issuer: `<scheme>://<domain>/` with a trailing slash, as Auth0's.
 * The default tenant's issuer is PUBLIC_URL. Another tenant's domain takes
 * PUBLIC_URL's scheme, and its port when the domain names none.
 */
export function tenantIssuer(config: Pick<Config, 'publicUrl'>, tenant: { isDefault: boolean }, primaryDomain: string | undefined): string {
  const publicUrl = new URL(config.publicUrl);
  if (tenant.isDefault || primaryDomain === undefined) return `${publicUrl.origin}/`;
  const hasPort = /:\d+$/.test(primaryDomain);
  const port = !hasPort && publicUrl.port ? `:${publicUrl.port}` : '';
  return `${publicUrl.protocol}//${primaryDomain}${port}/`;
}
