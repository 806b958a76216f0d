import { describe, expect, it } from 'vitest';
import { DestinationBlockedError, isBlockedAddress, parseAllowlist, resolveDestination } from '../../domain/outbound/destination-guard.ts';
import { parseRetryAfter } from '../../activities/http-post.ts';

const none = parseAllowlist('');

describe('destination guard', () => {
  it.each([
    '127.0.0.1', '10.1.2.3', '172.16.0.1', '172.31.255.255', '192.168.1.1', '169.254.169.254', '100.64.0.1',
    '0.0.0.0', '::1', 'fe80::1', 'fd00::1', '::ffff:10.0.0.1', '::ffff:127.0.0.1',
  ])('blocks %s', (addr) => {
    expect(isBlockedAddress(addr, none)).toBe(true);
  });

  it.each(['93.184.216.34', '8.8.8.8', '172.32.0.1', '2606:4700::1111'])('allows public %s', (addr) => {
    expect(isBlockedAddress(addr, none)).toBe(false);
  });

  // IPv6 spellings that carry an IPv4 loopback or private address are judged as that IPv4.
  it.each([
    ['IPv4-compatible', '::127.0.0.1'],
    ['IPv4-compatible, hex', '::7f00:1'],
    ['IPv4-compatible, private', '::10.0.0.1'],
    ['IPv4-mapped, hex', '::ffff:7f00:1'],
    ['IPv4-translated', '::ffff:0:127.0.0.1'],
    ['NAT64', '64:ff9b::127.0.0.1'],
    ['NAT64, hex, private', '64:ff9b::a00:1'],
    ['NAT64, metadata', '64:ff9b::a9fe:a9fe'],
    ['6to4 of loopback', '2002:7f00:1::1'],
    ['6to4 of 192.168.1.1', '2002:c0a8:101::'],
    ['Teredo', '2001:0:4136:e378:8000:63bf:3fff:fdd2'],
  ])('blocks %s (%s)', (_form, addr) => {
    expect(isBlockedAddress(addr, none)).toBe(true);
  });

  it.each([
    ['site-local', 'fec0::1'],
    ['site-local, upper end', 'feff:ffff::1'],
    ['documentation', '2001:db8::1'],
    ['documentation (new)', '3fff::1'],
    ['discard-only', '100::1'],
    ['IETF protocol assignments', '2001:2::1'],
    ['local-use NAT64', '64:ff9b:1::1'],
    ['SRv6 SIDs', '5f00::1'],
    ['multicast', 'ff02::1'],
    ['unspecified', '::'],
    ['IPv4 documentation', '192.0.2.10'],
    ['IPv4 documentation 2', '198.51.100.7'],
    ['IPv4 documentation 3', '203.0.113.200'],
    ['IPv4 6to4 relay anycast', '192.88.99.1'],
    ['IPv4 benchmarking', '198.19.0.1'],
    ['IPv4 broadcast', '255.255.255.255'],
    ['IPv4 multicast', '239.1.1.1'],
  ])('blocks the special-purpose %s range (%s)', (_range, addr) => {
    expect(isBlockedAddress(addr, none)).toBe(true);
  });

  it.each([
    ['IPv4-mapped public', '::ffff:8.8.8.8'],
    ['NAT64 of a public address', '64:ff9b::808:808'],
    ['6to4 of a public address', '2002:808:808::1'],
  ])('allows %s (%s)', (_form, addr) => {
    expect(isBlockedAddress(addr, none)).toBe(false);
  });

  it('an allowlisted IPv4 is allowed in its IPv6 spellings too', () => {
    const allow = parseAllowlist('127.0.0.1');
    expect(isBlockedAddress('::ffff:127.0.0.1', allow)).toBe(false);
    expect(isBlockedAddress('64:ff9b::7f00:1', allow)).toBe(false);
    expect(isBlockedAddress('::ffff:127.0.0.2', allow)).toBe(true);
  });

  it('judges the host a URL names, after the URL parser normalised it (decimal, hex and short IPv4, bracketed IPv6)', async () => {
    for (const url of ['http://2130706433/', 'http://0x7f.0.0.1/', 'http://127.1/', 'http://[::ffff:7f00:1]/', 'http://[64:ff9b::7f00:1]:8080/x']) {
      await expect(resolveDestination(new URL(url).hostname, none), url).rejects.toBeInstanceOf(DestinationBlockedError);
    }
  });

  it('allowlists addresses, CIDRs and host names', async () => {
    const allow = parseAllowlist(' 127.0.0.1, 10.0.0.0/8 ,internal.example, fd00::/8');
    expect(isBlockedAddress('127.0.0.1', allow)).toBe(false);
    expect(isBlockedAddress('127.0.0.2', allow)).toBe(true);
    expect(isBlockedAddress('10.200.1.1', allow)).toBe(false);
    expect(isBlockedAddress('fd12::1', allow)).toBe(false);
    expect(allow.hostnames.has('internal.example')).toBe(true);
    await expect(resolveDestination('localhost', parseAllowlist('localhost'))).resolves.not.toHaveLength(0);
  });

  it('rejects a malformed CIDR in the allowlist', () => {
    expect(() => parseAllowlist('10.0.0.0/40')).toThrow(/not a valid CIDR/);
    expect(() => parseAllowlist('nothost/8')).toThrow(/not a valid CIDR/);
  });

  it('resolves names before judging them: localhost is loopback', async () => {
    await expect(resolveDestination('localhost', none)).rejects.toBeInstanceOf(DestinationBlockedError);
    await expect(resolveDestination('[::1]', none)).rejects.toBeInstanceOf(DestinationBlockedError);
    await expect(resolveDestination('127.0.0.1', parseAllowlist('127.0.0.1'))).resolves.toEqual([{ address: '127.0.0.1', family: 4 }]);
  });
});

describe('Retry-After', () => {
  it('parses delta seconds and HTTP dates', () => {
    expect(parseRetryAfter('7')).toBe(7000);
    const now = Date.parse('2026-01-01T00:00:00Z');
    expect(parseRetryAfter('Thu, 01 Jan 2026 00:00:30 GMT', now)).toBe(30_000);
    expect(parseRetryAfter('Wed, 31 Dec 2025 00:00:00 GMT', now)).toBe(0);
    expect(parseRetryAfter('soon')).toBeUndefined();
    expect(parseRetryAfter(undefined)).toBeUndefined();
  });
});
