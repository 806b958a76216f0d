import { randomBytes } from 'node:crypto';

const alphabet = '0123456789abcdefghjkmnpqrstvwxyz'; // Crockford base32, lower case

/**
 * `job_` + 10 chars of millisecond time + 16 random chars: opaque to users,
 * unique, and sortable by creation time (handy for listing and for humans
 * reading logs).
 */
export function newJobId(now = Date.now()): string {
  return newId('job', now);
}

/** A stored batch item list id: `bin_` + the same 26 sortable chars as job ids. */
export function newBatchInputId(now = Date.now()): string {
  return newId('bin', now);
}

function newId(prefix: string, now: number): string {
  let time = '';
  let t = now;
  for (let i = 0; i < 10; i++) {
    time = alphabet[t % 32]! + time;
    t = Math.floor(t / 32);
  }
  const rnd = [...randomBytes(16)].map((b) => alphabet[b % 32]).join('');
  return `${prefix}_${time}${rnd}`;
}

export const jobIdPattern = /^job_[0-9a-z]{26}$/;
