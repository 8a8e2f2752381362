import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { isIP } from 'node:net';

/**
 * The SSRF guard for log-stream targets (webhook URLs, NATS servers): a
 * tenant administrator names a host, and a worker node connects to it from
 * inside the operator's network, so the address is checked before every
 * connection — after DNS resolution, and the socket connects to exactly the
 * address that was checked (no second lookup an attacker's DNS could answer
 * differently: DNS rebinding).
 *
 * - Never allowed: unspecified, link-local (169.254/16, fe80::/10), cloud
 *   metadata addresses (169.254.169.254, fd00:ec2::254, 100.100.100.200),
 *   multicast, broadcast and reserved or documentation ranges, and IPv6
 *   tunnels that could hide any IPv4 address (Teredo).
 * - Allowed only when the operator lists them in LOG_STREAM_ALLOWED_CIDRS:
 *   loopback and private ranges (RFC 1918, CGNAT 100.64/10, ULA fc00::/7, …).
 * - Everything else (public unicast) is allowed.
 * IPv6 forms that embed an IPv4 address (mapped ::ffff:a.b.c.d, NAT64
 * 64:ff9b::/96, 6to4 2002::/16, compatible ::a.b.c.d) are judged by the
 * IPv4 address they carry.
 */

interface Cidr {
  readonly version: 4 | 6;
  readonly base: bigint;
  readonly bits: number;
}

/** Why an address is refused, or `private` for a range the operator may allow. */
export type AddressVerdict =
  | { readonly allowed: true }
  | { readonly allowed: false; readonly reason: 'unspecified' | 'link-local' | 'metadata' | 'multicast' | 'broadcast' | 'reserved' | 'private' | 'invalid' };

const REASON_TEXT: Record<Exclude<AddressVerdict, { allowed: true }>['reason'], string> = {
  unspecified: 'an unspecified address',
  'link-local': 'a link-local address',
  metadata: 'a cloud metadata address',
  multicast: 'a multicast address',
  broadcast: 'a broadcast address',
  reserved: 'a reserved address',
  private: 'a loopback or private address (allowed only when the operator lists it in LOG_STREAM_ALLOWED_CIDRS)',
  invalid: 'not a valid address',
};

export function describeRefusal(verdict: AddressVerdict): string {
  return verdict.allowed ? 'allowed' : REASON_TEXT[verdict.reason];
}

/** An error for a refused target; the message names the host and why, never credentials. */
export class SsrfRefusedError extends Error {
  readonly code = 'SSRF_REFUSED';
  constructor(host: string, address: string, verdict: AddressVerdict) {
    super(`target ${host}${address !== host ? ` (${address})` : ''} is ${describeRefusal(verdict)}`);
    this.name = 'SsrfRefusedError';
  }
}

function v4ToBigInt(ip: string): bigint {
  return ip.split('.').reduce((acc, part) => (acc << 8n) | BigInt(Number(part)), 0n);
}

function v6ToBigInt(ip: string): bigint {
  let text = ip.split('%')[0] ?? ip;
  // A dotted IPv4 tail (::ffff:1.2.3.4) becomes two hex groups.
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (dotted?.[1]) {
    const v4 = v4ToBigInt(dotted[1]);
    text = text.slice(0, dotted.index) + `${(v4 >> 16n).toString(16)}:${(v4 & 0xffffn).toString(16)}`;
  }
  const [head = '', tail] = text.split('::');
  const headGroups = head === '' ? [] : head.split(':');
  const tailGroups = tail === undefined || tail === '' ? [] : tail.split(':');
  const groups = tail === undefined ? headGroups : [...headGroups, ...Array<string>(8 - headGroups.length - tailGroups.length).fill('0'), ...tailGroups];
  return groups.reduce((acc, group) => (acc << 16n) | BigInt(parseInt(group, 16)), 0n);
}

/** Parses `a.b.c.d/n` or `x::y/n` (a bare address is a /32 or /128); throws with a readable message. */
export function parseCidr(text: string): Cidr {
  const [address = '', prefix] = text.trim().split('/');
  const version = isIP(address);
  if (version === 0) throw new Error(`"${text}" is not an IP address or CIDR`);
  const max = version === 4 ? 32 : 128;
  const bits = prefix === undefined ? max : Number(prefix);
  if (!Number.isInteger(bits) || bits < 0 || bits > max || (prefix !== undefined && !/^\d{1,3}$/.test(prefix))) throw new Error(`"${text}" has an invalid prefix length`);
  const value = version === 4 ? v4ToBigInt(address) : v6ToBigInt(address);
  return { version: version as 4 | 6, base: mask(value, bits, max), bits };
}

function mask(value: bigint, bits: number, max: number): bigint {
  if (bits === 0) return 0n;
  const shift = BigInt(max - bits);
  return (value >> shift) << shift;
}

function contains(cidr: Cidr, version: 4 | 6, value: bigint): boolean {
  return cidr.version === version && mask(value, cidr.bits, version === 4 ? 32 : 128) === cidr.base;
}

const ranges = (list: readonly string[]) => list.map(parseCidr);

const V4_REFUSED: ReadonlyArray<readonly [Cidr[], Exclude<AddressVerdict, { allowed: true }>['reason']]> = [
  [ranges(['169.254.169.254/32', '100.100.100.200/32']), 'metadata'],
  [ranges(['0.0.0.0/8']), 'unspecified'],
  [ranges(['169.254.0.0/16']), 'link-local'],
  [ranges(['255.255.255.255/32']), 'broadcast'],
  [ranges(['224.0.0.0/4']), 'multicast'],
  // IETF assignments (incl. 192.0.0.192, a metadata address on some clouds), documentation, reserved.
  [ranges(['192.0.0.0/24', '192.0.2.0/24', '198.51.100.0/24', '203.0.113.0/24', '240.0.0.0/4']), 'reserved'],
];
const V4_PRIVATE = ranges(['127.0.0.0/8', '10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', '100.64.0.0/10', '198.18.0.0/15']);

const V6_REFUSED: ReadonlyArray<readonly [Cidr[], Exclude<AddressVerdict, { allowed: true }>['reason']]> = [
  [ranges(['fd00:ec2::254/128']), 'metadata'],
  [ranges(['::/128']), 'unspecified'],
  [ranges(['fe80::/10']), 'link-local'],
  [ranges(['ff00::/8']), 'multicast'],
  // Discard-only, documentation, Teredo (tunnels to any IPv4 address), ORCHID.
  [ranges(['100::/64', '2001:db8::/32', '2001::/32', '2001:10::/28', '2001:20::/28']), 'reserved'],
];
const V6_PRIVATE = ranges(['::1/128', 'fc00::/7', 'fec0::/10']);

/** The IPv4 address an IPv6 address carries, for the forms that route to it. */
function embeddedV4(value: bigint): bigint | undefined {
  if (value >> 32n === 0xffffn) return value & 0xffffffffn; // ::ffff:a.b.c.d (mapped)
  if (value >> 32n === 0x64ff9b0000000000000000n) return value & 0xffffffffn; // 64:ff9b::/96 (NAT64)
  if (value >> 112n === 0x2002n) return (value >> 80n) & 0xffffffffn; // 2002:aabb:ccdd::/48 (6to4)
  if (value >> 32n === 0n && value > 1n) return value; // ::a.b.c.d (deprecated compatible)
  return undefined;
}

/** The operator's allowed ranges (LOG_STREAM_ALLOWED_CIDRS), parsed once. */
export class AddressPolicy {
  readonly #allowed: readonly Cidr[];

  constructor(allowedCidrs: readonly string[] = []) {
    this.#allowed = allowedCidrs.map(parseCidr);
  }

  /** The verdict for one IP address (not a hostname). */
  judge(address: string): AddressVerdict {
    const version = isIP(address.split('%')[0] ?? '');
    if (version === 0) return { allowed: false, reason: 'invalid' };
    if (version === 4) return this.#judgeV4(v4ToBigInt(address));
    const value = v6ToBigInt(address);
    const v4 = embeddedV4(value);
    if (v4 !== undefined) return this.#judgeV4(v4);
    for (const [list, reason] of V6_REFUSED) if (list.some((c) => contains(c, 6, value))) return { allowed: false, reason };
    if (V6_PRIVATE.some((c) => contains(c, 6, value)) && !this.#allowed.some((c) => contains(c, 6, value))) return { allowed: false, reason: 'private' };
    return { allowed: true };
  }

  #judgeV4(value: bigint): AddressVerdict {
    for (const [list, reason] of V4_REFUSED) if (list.some((c) => contains(c, 4, value))) return { allowed: false, reason };
    if (V4_PRIVATE.some((c) => contains(c, 4, value)) && !this.#allowed.some((c) => contains(c, 4, value))) return { allowed: false, reason: 'private' };
    return { allowed: true };
  }

  /**
   * The check at configuration time, on the host as written: an IP literal
   * is judged; `localhost` is loopback; well-known metadata names are
   * refused. Any other name is checked again after resolution at delivery.
   */
  judgeHost(hostname: string): AddressVerdict {
    const host = hostname.startsWith('[') && hostname.endsWith(']') ? hostname.slice(1, -1) : hostname;
    if (isIP(host.split('%')[0] ?? '') !== 0) return this.judge(host);
    const name = host.toLowerCase().replace(/\.$/, '');
    if (name === 'localhost' || name.endsWith('.localhost')) return this.judge('127.0.0.1');
    if (METADATA_NAMES.has(name)) return { allowed: false, reason: 'metadata' };
    return { allowed: true };
  }

  /**
   * Resolves `hostname` and returns its addresses, every one of them
   * allowed; throws SsrfRefusedError when any is not (a name that resolves
   * to both a public and an internal address is refused as a whole).
   */
  async resolve(hostname: string): Promise<LookupAddress[]> {
    const host = hostname.startsWith('[') && hostname.endsWith(']') ? hostname.slice(1, -1) : hostname;
    const literal = isIP(host.split('%')[0] ?? '');
    const addresses: LookupAddress[] = literal !== 0 ? [{ address: host, family: literal }] : await lookupAll(host);
    if (addresses.length === 0) throw new Error(`${hostname} does not resolve`);
    for (const entry of addresses) {
      const verdict = this.judge(entry.address);
      if (!verdict.allowed) throw new SsrfRefusedError(hostname, entry.address, verdict);
    }
    return addresses;
  }

  /**
   * A `lookup` for node:net / node:http that resolves through `resolve`:
   * the socket connects to an address this policy has just allowed.
   */
  readonly lookup = (hostname: string, options: { all?: boolean; family?: number | string } | number, callback: (...args: unknown[]) => void): void => {
    const all = typeof options === 'object' && options.all === true;
    this.resolve(hostname).then(
      (addresses) => {
        if (all) return callback(null, addresses);
        const first = addresses[0] as LookupAddress;
        return callback(null, first.address, first.family);
      },
      (error: unknown) => callback(error),
    );
  };
}

const METADATA_NAMES = new Set(['metadata', 'metadata.google.internal', 'metadata.goog', 'instance-data', 'instance-data.ec2.internal', 'metadata.azure.internal']);

function lookupAll(host: string): Promise<LookupAddress[]> {
  return new Promise((resolve, reject) => {
    dnsLookup(host, { all: true, verbatim: true }, (error, addresses) => (error ? reject(error) : resolve(addresses)));
  });
}
