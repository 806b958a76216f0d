/**
 * Server-side request forgery guard for outbound webhooks. Destinations that
 * resolve to loopback, private, link-local or otherwise internal addresses are
 * refused unless allowlisted. The addresses checked are the ones connected to
 * (see `pinnedLookup`), so DNS rebinding between check and connect cannot
 * slip through.
 */
import { BlockList, isIP } from 'node:net';
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';

/**
 * IPv4 special-purpose ranges (IANA registry) no webhook may reach: "this
 * network", private, shared (CGNAT), loopback, link-local, IETF protocol
 * assignments, documentation, the 6to4 relay anycast, benchmarking,
 * multicast, reserved and broadcast.
 */
const blockedV4: [string, number][] = [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.0.2.0', 24],
  ['192.88.99.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['198.51.100.0', 24],
  ['203.0.113.0', 24],
  ['224.0.0.0', 4],
  ['240.0.0.0', 4],
];

/**
 * IPv6 special-purpose ranges: unspecified, loopback, local-use NAT64, discard-only,
 * IETF protocol assignments (Teredo among them), documentation, 6to4 relays'
 * own range, unique-local, link-local, site-local (deprecated but still
 * routed by some stacks), multicast, the new documentation block and SRv6 SIDs.
 */
const blockedV6: [string, number][] = [
  ['::', 128],
  ['::1', 128],
  ['64:ff9b:1::', 48],
  ['100::', 64],
  ['2001::', 23],
  ['2001:db8::', 32],
  ['fc00::', 7],
  ['fe80::', 10],
  ['fec0::', 10],
  ['ff00::', 8],
  ['3fff::', 20],
  ['5f00::', 16],
];

const blocked = new BlockList();
for (const [net, prefix] of blockedV4) blocked.addSubnet(net, prefix, 'ipv4');
for (const [net, prefix] of blockedV6) blocked.addSubnet(net, prefix, 'ipv6');

/** Parsed `JOBPLANE_WEBHOOK_ALLOWED_HOSTS`. */
export interface DestinationAllowlist {
  hostnames: Set<string>;
  addresses: BlockList;
}

/** Thrown when a destination may not be reached; the activity turns it into a non-retryable failure. */
export class DestinationBlockedError extends Error {
  override name = 'DestinationBlockedError';
}

/** Parses a comma-separated list of host names, IPs and CIDRs. Throws on a malformed CIDR. */
export function parseAllowlist(spec: string): DestinationAllowlist {
  const allow: DestinationAllowlist = { hostnames: new Set(), addresses: new BlockList() };
  for (const raw of spec.split(',')) {
    const entry = raw.trim().toLowerCase();
    if (!entry) continue;
    const [net, prefixText] = entry.split('/');
    const family = isIP(net ?? '');
    if (prefixText !== undefined) {
      const prefix = Number(prefixText);
      const max = family === 4 ? 32 : 128;
      if (!family || !Number.isInteger(prefix) || prefix < 0 || prefix > max) {
        throw new Error(`JOBPLANE_WEBHOOK_ALLOWED_HOSTS: "${raw.trim()}" is not a valid CIDR`);
      }
      allow.addresses.addSubnet(net!, prefix, family === 4 ? 'ipv4' : 'ipv6');
    } else if (family) {
      allow.addresses.addAddress(entry, family === 4 ? 'ipv4' : 'ipv6');
    } else {
      allow.hostnames.add(entry.replace(/^\[|\]$/g, ''));
    }
  }
  return allow;
}

function familyName(address: string): 'ipv4' | 'ipv6' {
  return isIP(address) === 6 ? 'ipv6' : 'ipv4';
}

/** The eight 16-bit groups of an IPv6 address (`::` expanded, a trailing dotted quad split in two). */
function ipv6Groups(address: string): number[] | undefined {
  let text = address.toLowerCase();
  const quad = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (quad) {
    const [a, b, c, d] = quad.slice(1).map(Number) as [number, number, number, number];
    text = `${text.slice(0, quad.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, tail] = text.split('::') as [string, string | undefined];
  const parse = (part: string) => (part ? part.split(':').map((g) => parseInt(g, 16)) : []);
  const left = parse(head);
  const right = tail === undefined ? [] : parse(tail);
  const groups = tail === undefined ? left : [...left, ...Array<number>(8 - left.length - right.length).fill(0), ...right];
  return groups.length === 8 && groups.every((g) => Number.isInteger(g) && g >= 0 && g <= 0xffff) ? groups : undefined;
}

const v4 = (hi: number, lo: number) => `${hi >> 8}.${hi & 0xff}.${lo >> 8}.${lo & 0xff}`;

/**
 * The IPv4 addresses an IPv6 address carries, in every standard spelling a
 * stack may route to them: IPv4-mapped `::ffff:a.b.c.d`, IPv4-translated
 * `::ffff:0:a.b.c.d`, IPv4-compatible `::a.b.c.d` (deprecated), NAT64
 * `64:ff9b::a.b.c.d`, 6to4 `2002:aabb:ccdd::` and Teredo `2001:0:…` (server
 * and client, the client's bits inverted).
 */
export function embeddedIpv4(address: string): { addresses: string[]; translation: boolean } {
  const g = ipv6Groups(address);
  if (!g) return { addresses: [], translation: false };
  const zeros = (from: number, to: number) => g.slice(from, to).every((x) => x === 0);
  const last = [v4(g[6]!, g[7]!)];
  if (zeros(0, 5) && g[5] === 0xffff) return { addresses: last, translation: true }; // ::ffff:a.b.c.d
  if (zeros(0, 4) && g[4] === 0xffff && g[5] === 0) return { addresses: last, translation: true }; // ::ffff:0:a.b.c.d
  if (zeros(0, 6) && (g[6]! !== 0 || g[7]! > 1)) return { addresses: last, translation: true }; // ::a.b.c.d, not :: or ::1
  if (g[0] === 0x64 && g[1] === 0xff9b && zeros(2, 6)) return { addresses: last, translation: true }; // 64:ff9b::/96
  if (g[0] === 0x2002) return { addresses: [v4(g[1]!, g[2]!)], translation: true }; // 6to4
  // Teredo: the server, and the client with its bits inverted (2001::/32 is blocked as a whole anyway).
  if (g[0] === 0x2001 && g[1] === 0) return { addresses: [v4(g[2]!, g[3]!), v4(g[6]! ^ 0xffff, g[7]! ^ 0xffff)], translation: false };
  return { addresses: [], translation: false };
}

/**
 * Whether a destination address is refused. An allowlisted address (or
 * network) is always allowed. An IPv6 address that embeds IPv4 is judged as
 * the IPv4 it carries (a translation prefix: ::ffff:10.0.0.1 is 10.0.0.1,
 * ::ffff:8.8.8.8 is 8.8.8.8), or by both (Teredo); any other by its range.
 */
export function isBlockedAddress(address: string, allow: DestinationAllowlist): boolean {
  const family = familyName(address);
  if (allow.addresses.check(address, family)) return false;
  if (family === 'ipv6') {
    const { addresses, translation } = embeddedIpv4(address);
    if (addresses.some((inner) => allow.addresses.check(inner, 'ipv4'))) return false;
    if (addresses.some((inner) => blocked.check(inner, 'ipv4'))) return true;
    if (translation) return false;
  }
  return blocked.check(address, family);
}

/**
 * Resolves a URL's host and returns the addresses a request may connect to.
 * Throws {@link DestinationBlockedError} if any resolved address is blocked
 * (mixing one public and one private record is a classic rebinding trick).
 */
export async function resolveDestination(hostname: string, allow: DestinationAllowlist): Promise<LookupAddress[]> {
  const host = hostname.replace(/^\[|\]$/g, '').toLowerCase();
  const hostAllowed = allow.hostnames.has(host);
  const literal = isIP(host);
  const addresses: LookupAddress[] = literal
    ? [{ address: host, family: literal }]
    : await new Promise((resolve, reject) =>
        dnsLookup(host, { all: true }, (err, addrs) => (err ? reject(err) : resolve(addrs))),
      );
  if (!hostAllowed) {
    const bad = addresses.find((a) => isBlockedAddress(a.address, allow));
    if (bad) {
      throw new DestinationBlockedError(
        `destination ${host} resolves to ${bad.address}, a loopback, private, link-local or other special-purpose address; allowlist it in JOBPLANE_WEBHOOK_ALLOWED_HOSTS to permit it`,
      );
    }
  }
  return addresses;
}

type LookupCallback = (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void;

/** A `lookup` for http.request that answers only with the addresses already checked. */
export function pinnedLookup(addresses: LookupAddress[]) {
  return (_hostname: string, options: { all?: boolean } | number, callback: LookupCallback): void => {
    const all = typeof options === 'object' && options.all;
    if (all) callback(null, addresses);
    else callback(null, addresses[0]!.address, addresses[0]!.family);
  };
}
