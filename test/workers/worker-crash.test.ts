/**
 * kill -9 of the worker process while a delivery is in flight: the job still
 * succeeds on a new worker, exactly one attempt is recorded as the success,
 * and every request the receiver saw carried the same idempotency key.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { eq } from 'drizzle-orm';
import { webhookAttempts } from '../../db/schema/index.ts';
import { startReceiver, type Receiver } from '../helpers/receiver.ts';
import { startTestStack, waitForJob, type TestStack } from '../helpers/stack.ts';

let stack: TestStack;
let receiver: Receiver;

beforeAll(async () => {
  stack = await startTestStack('crash');
  // The first request hangs (the worker dies while waiting); later ones succeed at once.
  receiver = await startReceiver((n) => (n === 1 ? { status: 200, delayMs: 60_000 } : { status: 200 }));
});
afterAll(async () => {
  await receiver?.close();
  await stack?.close();
});

it('a job in flight survives kill -9 of its worker and is recorded as delivered once', async () => {
  const first = await stack.spawnWorkerProcess();
  const res = await stack.api('/v1/jobs', {
    method: 'POST',
    role: 'submitter',
    body: JSON.stringify({ type: 'webhook.deliver', input: { url: receiver.url, payload: { invoice: 7 } } }),
  });
  expect(res.status).toBe(201);
  const job = (await res.json()) as { id: string };

  await receiver.waitForRequests(1);
  first.kill('SIGKILL');
  await new Promise((r) => first.once('exit', r));

  await stack.spawnWorkerProcess();
  const done = await waitForJob(stack, job.id, undefined, 60_000);
  expect(done).toMatchObject({ status: 'succeeded', result: { statusCode: 200, attempts: 2 } });

  expect(receiver.requests.length).toBeGreaterThanOrEqual(2);
  expect(new Set(receiver.requests.map((r) => r.headers['idempotency-key']))).toEqual(new Set([job.id]));

  const rows = await stack.db.select().from(webhookAttempts).where(eq(webhookAttempts.jobId, job.id)).orderBy(webhookAttempts.attempt);
  expect(rows.filter((r) => r.status === 'succeeded')).toHaveLength(1);
  // The attempt the dead worker left behind is marked lost, not silently in flight forever.
  expect(rows.map((r) => [r.attempt, r.status])).toEqual([
    [1, 'lost'],
    [2, 'succeeded'],
  ]);
});
