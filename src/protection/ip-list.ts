import { BlockList, isIP } from 'node:net';

/** `::ffff:192.0.2.1` (an IPv4 client on a dual-stack socket) is 192.0.2.1: one client, one key. */
export function normalizeIp(ip: string): string {
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(ip);
  return mapped ? (mapped[1] as string) : ip.toLowerCase();
}

/** Why an allowlist entry (an IPv4 or IPv6 address, or a CIDR of either) is refused; undefined when it is valid. */
export function ipEntryProblem(entry: string): string | undefined {
  const [address, prefix, ...rest] = entry.split('/');
  const family = isIP(address ?? '');
  if (family === 0 || rest.length > 0) return `"${entry}" is not an IP address or CIDR`;
  if (prefix === undefined) return undefined;
  const bits = Number(prefix);
  if (!/^\d{1,3}$/.test(prefix) || bits > (family === 4 ? 32 : 128)) return `"${entry}" has an invalid prefix length`;
  return undefined;
}

/**
 * An allowlist of addresses and CIDR ranges (Auth0's `allowlist`), matched
 * with node's BlockList. Built once per distinct list and cached: a tenant's
 * list is read on every login attempt.
 */
export class IpList {
  readonly #list = new BlockList();
  readonly empty: boolean;

  constructor(entries: readonly string[]) {
    this.empty = entries.length === 0;
    for (const entry of entries) {
      if (ipEntryProblem(entry)) continue;
      const [address, prefix] = entry.split('/') as [string, string | undefined];
      const type = isIP(address) === 4 ? 'ipv4' : 'ipv6';
      if (prefix === undefined) this.#list.addAddress(address, type);
      else this.#list.addSubnet(address, Number(prefix), type);
    }
  }

  has(ip: string): boolean {
    if (this.empty) return false;
    const address = normalizeIp(ip);
    const family = isIP(address);
    if (family === 0) return false;
    return this.#list.check(address, family === 4 ? 'ipv4' : 'ipv6');
  }
}

const cache = new Map<string, IpList>();

/** The IpList of an allowlist (cached by content; lists are small and few). */
export function ipListOf(entries: readonly string[]): IpList {
  const id = entries.join(',');
  let list = cache.get(id);
  if (!list) {
    if (cache.size >= 1000) cache.delete(cache.keys().next().value as string);
    list = new IpList(entries);
    cache.set(id, list);
  }
  return list;
}
