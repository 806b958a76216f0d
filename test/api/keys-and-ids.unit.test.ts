import { describe, expect, it } from 'vitest';
import { issueApiKey, parseApiKey, roleAllows, secretMatches } from '../../api/http/api-keys.ts';
import { canonicalJson } from '../../runtime/canonical-json.ts';
import { jobIdPattern } from '../../contracts/ids.ts';
import { newJobId } from '../../runtime/ids.ts';

describe('API keys', () => {
  it('stores only a hash and verifies the secret', () => {
    const k = issueApiKey();
    const parsed = parseApiKey(k.key)!;
    expect(parsed.id).toBe(k.id);
    expect(k.secretHash).not.toContain(parsed.secret);
    expect(secretMatches(parsed.secret, k.secretHash)).toBe(true);
    expect(secretMatches(parsed.secret.replace(/.$/, (c) => (c === 'A' ? 'B' : 'A')), k.secretHash)).toBe(false);
    expect(parseApiKey('jp_short_x')).toBeUndefined();
  });

  it('roles include the ones after them', () => {
    expect(roleAllows('admin', 'viewer')).toBe(true);
    expect(roleAllows('operator', 'submitter')).toBe(true);
    expect(roleAllows('submitter', 'operator')).toBe(false);
    expect(roleAllows('viewer', 'submitter')).toBe(false);
  });
});

describe('ids and hashing', () => {
  it('job ids are unique, well-formed and sort by creation time', () => {
    const a = newJobId(1_000_000);
    const b = newJobId(2_000_000);
    expect(a).toMatch(jobIdPattern);
    expect(a < b).toBe(true);
    expect(new Set(Array.from({ length: 1000 }, () => newJobId())).size).toBe(1000);
  });

  it('canonical JSON ignores key order, not array order', () => {
    expect(canonicalJson({ b: 1, a: { d: [2, 1], c: null } })).toBe(canonicalJson({ a: { c: null, d: [2, 1] }, b: 1 }));
    expect(canonicalJson([1, 2])).not.toBe(canonicalJson([2, 1]));
  });
});
