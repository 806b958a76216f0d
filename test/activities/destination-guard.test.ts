import { describe, expect, it } from 'vitest';
import { DestinationBlockedError, isBlockedAddress, parseAllowlist, resolveDestination } from '../../activities/destination-guard.ts';
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
