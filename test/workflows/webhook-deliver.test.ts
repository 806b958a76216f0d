/**
 * webhook.deliver on the real dev server, real Postgres and a real local
 * receiver: success, retry-then-success, non-retryable 4xx, Retry-After,
 * cancel, and the private-range block.
 */
import { createHmac } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eq } from 'drizzle-orm';
import { webhookAttempts } from '../../db/schema/index.ts';
import { recordHistory } from '../helpers/record-history.ts';
import { startReceiver, type Receiver } from '../helpers/receiver.ts';
import { startTestStack, testSigningSecret, waitForJob, type TestStack } from '../helpers/stack.ts';
import { createJob } from '../helpers/http.ts';
import { waitAtMost } from '../helpers/poll.ts';

let stack: TestStack;
const receivers: Receiver[] = [];

beforeAll(async () => {
  stack = await startTestStack('webhook');
  await stack.startWorkers();
});
afterAll(async () => {
  for (const r of receivers) await r.close();
  await stack?.close();
});

async function receiver(answer: Parameters<typeof startReceiver>[0]): Promise<Receiver> {
  const r = await startReceiver(answer);
  receivers.push(r);
  return r;
}

const createWebhookJob = (input: Record<string, unknown>) => createJob(stack, { type: 'webhook.deliver', input });

async function attemptsOf(jobId: string) {
  return await stack.db.select().from(webhookAttempts).where(eq(webhookAttempts.jobId, jobId)).orderBy(webhookAttempts.id);
}

describe('webhook.deliver', () => {
  it('delivers a signed payload once and records the attempt', async () => {
    const r = await receiver(() => ({ status: 204 }));
    const job = await createWebhookJob({ url: r.url, payload: { order: 42, items: ['a'] }, eventType: 'order.paid' });
    const done = await waitForJob(stack, job.id);
    expect(done).toMatchObject({ status: 'succeeded', result: { statusCode: 204, attempts: 1 } });

    expect(r.requests).toHaveLength(1);
    const req = r.requests[0]!;
    expect(JSON.parse(req.body)).toEqual({ order: 42, items: ['a'] });
    expect(req.headers['idempotency-key']).toBe(job.id);
    expect(req.headers['jobplane-event-type']).toBe('order.paid');
    const [, t, v1] = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(String(req.headers['jobplane-signature']))!;
    expect(v1).toBe(createHmac('sha256', testSigningSecret).update(`${t}.${req.body}`).digest('hex'));

    const rows = await attemptsOf(job.id);
    expect(rows.map((a) => [a.attempt, a.status, a.statusCode])).toEqual([[1, 'succeeded', 204]]);
    await recordHistory(stack.temporal.address, job.workflowId, 'webhook-deliver', 'succeeded-first-attempt');
  });

  it('retries 5xx with exponential backoff, then succeeds with the same idempotency key', async () => {
    const r = await receiver((n) => (n < 3 ? { status: 503 } : { status: 200 }));
    const job = await createWebhookJob({ url: r.url, payload: { n: 1 } });
    const done = await waitForJob(stack, job.id);
    expect(done).toMatchObject({ status: 'succeeded', result: { statusCode: 200, attempts: 3 } });
    expect(new Set(r.requests.map((q) => q.headers['idempotency-key']))).toEqual(new Set([job.id]));
    // Exponential backoff: 1 s then 2 s between attempts.
    expect(r.requests[1]!.at - r.requests[0]!.at).toBeGreaterThanOrEqual(900);
    expect(r.requests[2]!.at - r.requests[1]!.at).toBeGreaterThanOrEqual(1800);
    const rows = await attemptsOf(job.id);
    expect(rows.map((a) => [a.attempt, a.status, a.statusCode])).toEqual([
      [1, 'retrying', 503],
      [2, 'retrying', 503],
      [3, 'succeeded', 200],
    ]);
    await recordHistory(stack.temporal.address, job.workflowId, 'webhook-deliver', 'succeeded-after-retries');
  });

  it('fails at once, without retrying, on a 4xx other than 408/429', async () => {
    const r = await receiver(() => ({ status: 422, body: 'bad event' }));
    const job = await createWebhookJob({ url: r.url, payload: {} });
    const done = await waitForJob(stack, job.id);
    expect(done.status).toBe('failed');
    expect(done.error).toMatchObject({ type: 'WebhookRejected' });
    expect(String((done.error as { message: string }).message)).toContain('422');
    expect(r.requests).toHaveLength(1);
    expect((await attemptsOf(job.id)).map((a) => a.status)).toEqual(['failed']);
    await recordHistory(stack.temporal.address, job.workflowId, 'webhook-deliver', 'failed-rejected');
  });

  it('honours Retry-After on 429 instead of the backoff', async () => {
    const r = await receiver((n) => (n === 1 ? { status: 429, headers: { 'retry-after': '3' } } : { status: 200 }));
    const job = await createWebhookJob({ url: r.url, payload: {} });
    const done = await waitForJob(stack, job.id);
    expect(done).toMatchObject({ status: 'succeeded', result: { attempts: 2 } });
    const gap = r.requests[1]!.at - r.requests[0]!.at;
    // The retry policy alone would wait 1 s; Retry-After asked for 3 s.
    expect(gap).toBeGreaterThanOrEqual(2900);
  });

  it('cancels an in-flight delivery', async () => {
    const r = await receiver(() => ({ status: 200, delayMs: 20_000 }));
    const job = await createWebhookJob({ url: r.url, payload: {} });
    await r.waitForRequests(1);
    const res = await stack.api(`/v1/jobs/${job.id}/cancel`, { method: 'POST', role: 'submitter' });
    expect(res.status).toBe(202);
    const done = await waitForJob(stack, job.id);
    expect(done.status).toBe('cancelled');
    const again = await stack.api(`/v1/jobs/${job.id}/cancel`, { method: 'POST', role: 'submitter' });
    expect(again.status).toBe(409);
    await recordHistory(stack.temporal.address, job.workflowId, 'webhook-deliver', 'cancelled-in-flight');
  });

  it('treats a refused connection as retryable', async () => {
    const closed = await receiver(() => ({ status: 200 }));
    const url = closed.url;
    await closed.close(); // nothing listens on this port any more
    const job = await createWebhookJob({ url, payload: {} });
    let rows = await attemptsOf(job.id);
    // Wait for the second attempt to have finished too (it is `in_flight` while it runs).
    await waitAtMost(async () => {
      rows = await attemptsOf(job.id);
      return rows.length >= 2 && rows[1]!.status !== 'in_flight';
    }, { timeout: 15_000, interval: 200 });
    expect(rows.slice(0, 2).map((a) => [a.attempt, a.status])).toEqual([
      [1, 'retrying'],
      [2, 'retrying'],
    ]);
    expect(rows[0]!.error).toContain('could not reach receiver');
    expect((await waitForJob(stack, job.id, ['running'])).status).toBe('running');
    await stack.api(`/v1/jobs/${job.id}/cancel`, { method: 'POST', role: 'submitter' });
  });

  it('refuses private destinations that are not allowlisted', async () => {
    // 127.0.0.2 is loopback but not on this stack's allowlist (127.0.0.1 only).
    const job = await createWebhookJob({ url: 'http://127.0.0.2:9/hook', payload: {} });
    const done = await waitForJob(stack, job.id);
    expect(done.status).toBe('failed');
    expect(done.error).toMatchObject({ type: 'WebhookDestinationBlocked' });
    expect((await attemptsOf(job.id)).map((a) => a.status)).toEqual(['failed']);
  });
});
