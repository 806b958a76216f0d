/**
 * Making ids (the prefixes and patterns live in contracts/ids.ts). Shared by
 * the API (random ids) and the workers (ids derived from a key, so a retried
 * or reset activity produces the same id again).
 */
import { createHash, randomBytes } from 'node:crypto';
import { idPrefixes, type IdKind } from '../contracts/ids.ts';

const alphabet = '0123456789abcdefghjkmnpqrstvwxyz'; // Crockford base32, lower case

function timePart(ms: number): string {
  let time = '';
  let t = ms;
  for (let i = 0; i < 10; i++) {
    time = alphabet[t % 32]! + time;
    t = Math.floor(t / 32);
  }
  return time;
}

const encode = (bytes: Uint8Array, length = 16) => [...bytes.subarray(0, length)].map((b) => alphabet[b % 32]).join('');
const sha256 = (key: string) => createHash('sha256').update(key).digest();

/** A new random time-sortable id, e.g. `newId('document')` → `doc_01m8…`. */
export function newId(kind: IdKind, now = Date.now()): string {
  return `${idPrefixes[kind]}_${timePart(now)}${encode(randomBytes(16))}`;
}

/** The same id for the same `key` and time, every time: for ids a retried activity must not duplicate. */
export function derivedId(kind: IdKind, atMs: number, key: string): string {
  return `${idPrefixes[kind]}_${timePart(atMs)}${encode(sha256(key))}`;
}

/** An id that depends on `key` alone (26 chars of its digest): a retried create with the same key lands on the same id. */
export function keyedId(kind: IdKind, key: string): string {
  return `${idPrefixes[kind]}_${encode(sha256(key), 26)}`;
}

export const newJobId = (now = Date.now()) => newId('job', now);

/** `ten_` + 16 hex chars. */
export function newTenantId(): string {
  return `${idPrefixes.tenant}_${randomBytes(8).toString('hex')}`;
}
