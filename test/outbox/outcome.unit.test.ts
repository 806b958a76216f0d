/** What the relay does with each answer of POST /v1/jobs, and the body it sends for a row (the same on every send). */
import { describe, expect, it } from 'vitest';
import { JobplaneProblemError } from '../../client/index.ts';
import { classifySendError, retryDelayMs } from '../../client/outbox/relay/outcome.ts';
import { jobRequestOf } from '../../client/outbox/relay/relay.ts';
import type { ClaimedRow } from '../../client/outbox/relay/store.ts';

const policy = { baseMs: 1000, maxMs: 60_000 };
const problem = (status: number, slug: string, extra: Record<string, unknown> = {}, retryAfter?: number) =>
  new JobplaneProblemError({ type: `https://jobplane.dev/problems/${slug}`, status, title: `title of ${slug}`, ...extra }, retryAfter);

describe('send outcomes', () => {
  it('refusals of the request itself fail the row for good, with the problem in last_error', () => {
    for (const [status, slug] of [[400, 'validation-error'], [400, 'job-type-internal'], [404, 'not-found'], [409, 'idempotency-key-reused'], [413, 'payload-too-large'], [422, 'about:blank'], [415, 'unsupported-media-type']] as const) {
      expect(classifySendError(problem(status, slug), 1, policy), `${status} ${slug}`).toMatchObject({ kind: 'failed', reason: String(status) });
    }
    const outcome = classifySendError(problem(400, 'validation-error', { detail: 'input does not match noop', errors: [{ path: 'input.sleepMs', message: 'too small' }], requestId: 'req_1' }), 1, policy);
    expect(outcome).toEqual({ kind: 'failed', reason: '400', error: '400 validation-error: title of validation-error input does not match noop (input.sleepMs: too small) [request req_1]' });
  });

  it('load, outages, auth and the network are retried; Retry-After wins over the backoff', () => {
    for (const status of [401, 403, 408, 429, 500, 502, 503, 504]) {
      expect(classifySendError(problem(status, 'x'), 1, policy, () => 0.5), String(status)).toMatchObject({ kind: 'retry', reason: String(status) });
    }
    expect(classifySendError(problem(429, 'rate-limited', {}, 7), 3, policy)).toMatchObject({ kind: 'retry', delayMs: 7000 });
    const refused = Object.assign(new TypeError('fetch failed'), { cause: { code: 'ECONNREFUSED' } });
    expect(classifySendError(refused, 1, policy, () => 0)).toEqual({ kind: 'retry', reason: 'network', delayMs: 500, error: 'network: TypeError: fetch failed (ECONNREFUSED)' });
    const timeout = new DOMException('The operation was aborted due to timeout', 'TimeoutError');
    expect(classifySendError(timeout, 1, policy)).toMatchObject({ kind: 'retry', reason: 'timeout' });
  });

  it('backs off exponentially with jitter, up to the ceiling; an absurd Retry-After is capped at an hour', () => {
    expect([1, 2, 3, 4].map((a) => retryDelayMs(a, undefined, policy, () => 1))).toEqual([1000, 2000, 4000, 8000]);
    expect([1, 2, 3, 4].map((a) => retryDelayMs(a, undefined, policy, () => 0))).toEqual([500, 1000, 2000, 4000]);
    expect(retryDelayMs(30, undefined, policy, () => 1)).toBe(60_000);
    expect(retryDelayMs(1, 0, policy)).toBe(0);
    expect(retryDelayMs(1, 86_400, policy)).toBe(3_600_000);
  });
});

describe('the body sent for a row', () => {
  const row: ClaimedRow = { id: '7', idempotencyKey: 'k', type: 'noop', input: { tag: 't' }, labels: [], priority: null, startAt: null, attempts: 1, createdAt: new Date() };

  it('leaves out what the row does not set, and writes startAt the same way on every send', () => {
    expect(jobRequestOf(row)).toEqual({ type: 'noop', input: { tag: 't' } });
    const full = { ...row, labels: ['a=b'], priority: 2, startAt: new Date('2026-12-05T10:00:00.123Z') };
    expect(jobRequestOf(full)).toEqual({ type: 'noop', input: { tag: 't' }, labels: ['a=b'], priority: 2, startAt: '2026-12-05T10:00:00.123Z' });
    expect(JSON.stringify(jobRequestOf({ ...full, attempts: 5 }))).toBe(JSON.stringify(jobRequestOf(full)));
  });
});
