/**
 * Time-sortable ids (`<prefix>_` + 10 chars of millisecond time + 16 chars):
 * opaque to users, unique, and sortable by creation time, so keyset pages
 * (`id < cursor`) stay stable while rows are inserted. Shared by the API
 * (random ids) and the workers (ids derived from a key, so a retried or reset
 * activity produces the same id again).
 */
import { createHash, randomBytes } from 'node:crypto';

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

const encode = (bytes: Uint8Array) => [...bytes.subarray(0, 16)].map((b) => alphabet[b % 32]).join('');

/** A new random id, e.g. `timeSortableId('doc')` → `doc_01m8…`. */
export function timeSortableId(prefix: string, now = Date.now()): string {
  return `${prefix}_${timePart(now)}${encode(randomBytes(16))}`;
}

/** The same id for the same `key` and time, every time: for ids a retried activity must not duplicate. */
export function derivedTimeSortableId(prefix: string, atMs: number, key: string): string {
  return `${prefix}_${timePart(atMs)}${encode(createHash('sha256').update(key).digest())}`;
}

/** `<prefix>_` + 26 base32 chars. */
export function idPattern(prefix: string): RegExp {
  return new RegExp(`^${prefix}_[0-9a-z]{26}$`);
}
