/**
 * Text from outside (a receiver's error, a failure message) made storable:
 * Postgres `text` and `jsonb` refuse NUL, and a lone UTF-16 surrogate is not
 * text at all. Both become U+FFFD, so the record is written, not lost with a
 * driver error. (The API refuses them in requests instead: api/http/json-guard.ts.)
 */
// eslint-disable-next-line no-control-regex -- NUL is exactly what is replaced
const unstorable = /\u0000|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

export function storableText(value: string): string;
export function storableText(value: string | null): string | null;
export function storableText(value: string | null): string | null {
  if (value === null) return null;
  return value.replace(unstorable, '\uFFFD');
}
