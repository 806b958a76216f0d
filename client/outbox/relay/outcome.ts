/**
 * What one send of an outbox row came to, and when to try again: pure
 * functions, so the rules are tested without a server.
 *
 * - 201 / 200 → relayed (200: the Idempotency-Key had made the job already).
 * - A refusal of the request itself (400 validation or `job-type-internal`,
 *   404, 409, 413, 422, other 4xx) → failed for good: sending the same body
 *   again gets the same answer.
 * - 429, 408, 5xx, a network error or a timeout → retried after
 *   `Retry-After` or a backoff.
 * - 401 and 403 are retried too: a revoked or under-privileged key is a
 *   deployment mistake, fixed by a new key, and must not fail every row
 *   while it lasts (the lag gauge shows it).
 */
import { JobplaneProblemError } from '../../errors.ts';

/** Statuses worth sending again unchanged. */
const retryableStatuses = new Set([401, 403, 408, 425, 429]);
/** Longest `Retry-After` honoured as given (an absurd value must not park a row for days). */
const maxRetryAfterMs = 3_600_000;
/** Longest `last_error` stored. */
const maxErrorLength = 2000;

export type SendOutcome =
  | { kind: 'relayed'; jobId: string; created: boolean }
  | { kind: 'retry'; delayMs: number; reason: string; error: string }
  | { kind: 'failed'; reason: string; error: string };

export interface BackoffPolicy {
  /** First delay. */
  baseMs: number;
  /** Longest delay. */
  maxMs: number;
}

/**
 * Delay before attempt `attempts + 1`: `Retry-After` when the API sent one,
 * else base·2^(attempts−1) capped at max, with "equal jitter" (half fixed,
 * half random) so relays that failed together do not retry together.
 */
export function retryDelayMs(attempts: number, retryAfterSeconds: number | undefined, policy: BackoffPolicy, random: () => number = Math.random): number {
  if (retryAfterSeconds !== undefined) return Math.min(Math.max(0, retryAfterSeconds * 1000), maxRetryAfterMs);
  const exponential = Math.min(policy.maxMs, policy.baseMs * 2 ** Math.max(0, attempts - 1));
  return Math.round(exponential / 2 + random() * (exponential / 2));
}

/** The problem as one line for `last_error`: status, slug, title, detail, field errors and request id. */
export function describeProblem(err: JobplaneProblemError): string {
  const fields = err.errors?.map((e) => `${e.path}: ${e.message}`).join('; ');
  const text = [`${err.status} ${err.slug}: ${err.title}`, err.detail, fields && `(${fields})`, err.requestId && `[request ${err.requestId}]`].filter(Boolean).join(' ');
  return truncate(text);
}

/** A network error as one line: name, message and the cause's code (ECONNREFUSED…). */
function describeNetworkError(err: unknown): string {
  if (!(err instanceof Error)) return truncate(`network: ${String(err)}`);
  const cause = err.cause as { code?: string; message?: string } | undefined;
  return truncate(`network: ${err.name}: ${err.message}${cause?.code ? ` (${cause.code})` : cause?.message ? ` (${cause.message})` : ''}`);
}

const truncate = (s: string) => (s.length > maxErrorLength ? `${s.slice(0, maxErrorLength - 1)}…` : s);

/** Classifies a failed send (anything `createJob` threw). `attempts` counts this one. */
export function classifySendError(err: unknown, attempts: number, policy: BackoffPolicy, random?: () => number): SendOutcome {
  if (err instanceof JobplaneProblemError) {
    const error = describeProblem(err);
    const reason = String(err.status);
    if (err.status >= 500 || retryableStatuses.has(err.status)) return { kind: 'retry', delayMs: retryDelayMs(attempts, err.retryAfterSeconds, policy, random), reason, error };
    return { kind: 'failed', reason, error };
  }
  const timedOut = err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError');
  return { kind: 'retry', delayMs: retryDelayMs(attempts, undefined, policy, random), reason: timedOut ? 'timeout' : 'network', error: describeNetworkError(err) };
}
