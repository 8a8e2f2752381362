import { BlockList, isIP } from 'node:net';

/** `::ffff:192.0.2.1` (an IPv4 client on a dual-stack socket) is 192.0.2.1: one client, one key. */
export function normalizeIp(ip: string): string {
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(ip);
  return mapped ? (mapped[1] as string) : ip.toLowerCase();
}

/**
 * The address a protection counts attempts by: an IPv4 address itself, an
 * IPv6 address by its /64 network — one host usually holds a whole /64, and
 * counting single IPv6 addresses would let it rotate past every limit.
 */
export function counterIpKey(ip: string): string {
  const address = normalizeIp(ip);
  if (isIP(address) !== 6) return address;
  const zone = address.indexOf('%');
  const bare = zone === -1 ? address : address.slice(0, zone);
  const [head = '', tail] = bare.split('::');
  const left = head === '' ? [] : head.split(':');
  const right = tail === undefined || tail === '' ? [] : tail.split(':');
  // A trailing dotted IPv4 part stands for the last 32 bits, never inside the first 64.
  const missing = 8 - left.length - right.length - (right.at(-1)?.includes('.') ? 1 : 0);
  const groups = tail === undefined ? left : [...left, ...Array<string>(Math.max(0, missing)).fill('0'), ...right];
  return `${groups.slice(0, 4).map((g) => g.replace(/^0+(?=.)/, '')).join(':')}::/64`;
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
