/**
 * Telling "the database is not there right now" from a bug. postgres.js
 * reports a refused or dropped connection with a Node or driver code
 * (ECONNREFUSED, CONNECTION_CLOSED …) and a server going down or starting up
 * with SQLSTATE class 08 (connection exception) or 57P01–57P03 (shutdown,
 * crash shutdown, cannot connect now); drizzle wraps either as the `cause`.
 */
const unavailableCodes = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'CONNECTION_CLOSED',
  'CONNECTION_ENDED',
  'CONNECTION_DESTROYED',
  'CONNECT_TIMEOUT',
  '57P01',
  '57P02',
  '57P03',
]);

/** True when `err` (or an error it wraps) says Postgres cannot be reached or is restarting. */
export function isDatabaseUnavailable(err: unknown): boolean {
  for (let e: unknown = err, depth = 0; e && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && (unavailableCodes.has(code) || code.startsWith('08'))) return true;
  }
  return false;
}
