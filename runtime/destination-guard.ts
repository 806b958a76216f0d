/**
 * Server-side request forgery guard for outbound webhooks. Destinations that
 * resolve to loopback, private, link-local or otherwise internal addresses are
 * refused unless allowlisted. The addresses checked are the ones connected to
 * (see `pinnedLookup`), so DNS rebinding between check and connect cannot
 * slip through.
 */
import { BlockList, isIP } from 'node:net';
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';

const blocked = new BlockList();
for (const [net, prefix] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['224.0.0.0', 4],
  ['240.0.0.0', 4],
] as const) {
  blocked.addSubnet(net, prefix, 'ipv4');
}
for (const [net, prefix] of [
  ['::', 128],
  ['::1', 128],
  ['fc00::', 7],
  ['fe80::', 10],
  ['ff00::', 8],
] as const) {
  blocked.addSubnet(net, prefix, 'ipv6');
}

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

/** IPv4-mapped IPv6 (::ffff:10.0.0.1) is judged as the IPv4 address it carries. */
function unmapped(address: string): string {
  const m = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  return m ? m[1]! : address;
}

export function isBlockedAddress(address: string, allow: DestinationAllowlist): boolean {
  const a = unmapped(address);
  if (allow.addresses.check(a, familyName(a))) return false;
  return blocked.check(a, familyName(a));
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
        `destination ${host} resolves to ${bad.address}, a loopback/private/link-local address; allowlist it in JOBPLANE_WEBHOOK_ALLOWED_HOSTS to permit it`,
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
