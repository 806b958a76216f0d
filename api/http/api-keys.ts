/**
 * API key format: `jp_<keyId>_<secret>`. The key id is a public lookup handle;
 * only SHA-256(secret) is stored, and it is compared in constant time.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { ApiKeyRole } from '../../db/schema/index.ts';
import { idPrefixes } from '../../contracts/ids.ts';

export interface IssuedKey {
  id: string;
  /** Shown once to the caller; never stored. */
  key: string;
  secretHash: string;
}

const keyPattern = new RegExp(`^${idPrefixes.apiKey}_([a-z0-9]{16})_([A-Za-z0-9_-]{43})$`);

export function hashSecret(secret: string): string {
  return createHash('sha256').update(secret).digest('hex');
}

export function issueApiKey(): IssuedKey {
  const id = randomBytes(10).toString('hex').slice(0, 16);
  const secret = randomBytes(32).toString('base64url');
  return { id, key: `${idPrefixes.apiKey}_${id}_${secret}`, secretHash: hashSecret(secret) };
}

/** Splits a presented key into id and secret; undefined when it is not shaped like one of ours. */
export function parseApiKey(key: string): { id: string; secret: string } | undefined {
  const m = keyPattern.exec(key);
  return m ? { id: m[1]!, secret: m[2]! } : undefined;
}

export function secretMatches(secret: string, storedHash: string): boolean {
  const a = Buffer.from(hashSecret(secret), 'hex');
  const b = Buffer.from(storedHash, 'hex');
  return a.length === b.length && timingSafeEqual(a, b);
}

// `codec` ranks below every role of the API: it includes none of them.
const roleRank: Record<ApiKeyRole, number> = { admin: 3, operator: 2, submitter: 1, viewer: 0, codec: -1 };

/** Each role includes the ones after it: admin ⊃ operator ⊃ submitter ⊃ viewer; `codec` includes none (codec endpoint only). */
export function roleAllows(role: ApiKeyRole, needed: ApiKeyRole): boolean {
  return roleRank[role] >= roleRank[needed];
}
