/** A tenant name, domain or setting was refused; the message says what is expected. */
export class TenantInputError extends Error {
  readonly code = 'TENANT_INVALID_INPUT';
  constructor(message: string) {
    super(message);
    this.name = 'TenantInputError';
  }
}

const LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

/**
 * Normalises and validates a tenant domain: a DNS host name (RFC 1123 labels)
 * or IPv4 address, lower-case, optionally with `:port`. No scheme, path,
 * wildcard or user info.
 */
export function normalizeDomain(input: string): string {
  const value = input.trim().toLowerCase().replace(/\.$/, '');
  const match = /^([^:/]+)(?::(\d{1,5}))?$/.exec(value);
  const host = match?.[1];
  const port = match?.[2];
  const fail = () => new TenantInputError(`"${input}" is not a valid domain: expected a host name such as login.example.com, optionally with :port`);
  if (!host || host.length > 253) throw fail();
  if (port !== undefined && (Number(port) < 1 || Number(port) > 65535)) throw fail();
  const labels = host.split('.');
  if (!labels.every((l) => LABEL.test(l))) throw fail();
  return port === undefined ? host : `${host}:${port}`;
}

/** Strips the port from a Host header value (IPv6 literals keep their brackets). */
export function hostWithoutPort(host: string): string {
  if (host.startsWith('[')) return host.slice(0, host.indexOf(']') + 1);
  const colon = host.lastIndexOf(':');
  return colon === -1 ? host : host.slice(0, colon);
}

const TENANT_NAME = /^[a-z0-9][a-z0-9-]{1,62}$/;

export function validateTenantName(name: string): string {
  if (!TENANT_NAME.test(name)) {
    throw new TenantInputError(`"${name}" is not a valid tenant name: expected 2-63 lower-case letters, digits or hyphens, starting with a letter or digit`);
  }
  return name;
}
