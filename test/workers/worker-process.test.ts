/**
 * The worker process as deployed: SIGTERM drains an in-flight delivery within
 * the grace time (the attempt completes instead of being lost, and the next
 * worker finishes the workflow without sending again), and the
 * Prometheus endpoint serves the SDK's worker metrics.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { eq } from 'drizzle-orm';
import { webhookAttempts } from '../../db/schema/index.ts';
import { freePort } from '../../runtime/host-port.ts';
import { startReceiver, type Receiver } from '../helpers/receiver.ts';
import { startTestStack, waitForJob, type TestStack } from '../helpers/stack.ts';

let stack: TestStack;
let receiver: Receiver;
let metricsPort: number;

beforeAll(async () => {
  metricsPort = await freePort();
  stack = await startTestStack('wproc', {
    env: { JOBPLANE_WORKER_SHUTDOWN_GRACE_MS: '10000', JOBPLANE_WORKER_METRICS_ADDRESS: `127.0.0.1:${metricsPort}` },
  });
  receiver = await startReceiver(() => ({ status: 200, delayMs: 2000 }));
});
afterAll(async () => {
  await receiver?.close();
  await stack?.close();
});

it('serves Prometheus metrics, and SIGTERM lets the in-flight delivery finish', async () => {
  const worker = await stack.spawnWorkerProcess();
  const metrics = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
  expect(metrics).toContain('temporal_');
  expect(metrics).toContain(`task_queue="${stack.env.JOBPLANE_TASK_QUEUE_PREFIX}webhooks"`);

  const res = await stack.api('/v1/jobs', {
    method: 'POST',
    role: 'submitter',
    body: JSON.stringify({ type: 'webhook.deliver', input: { url: receiver.url, payload: {} } }),
  });
  const job = (await res.json()) as { id: string };
  await receiver.waitForRequests(1);

  const exited = new Promise<number | null>((resolve) => worker.once('exit', (code) => resolve(code)));
  worker.kill('SIGTERM');
  expect(await exited).toBe(0);

  // The activity finished during the drain: its attempt is recorded as the success, not lost.
  const rows = await stack.db.select().from(webhookAttempts).where(eq(webhookAttempts.jobId, job.id));
  expect(rows.map((r) => [r.attempt, r.status])).toEqual([[1, 'succeeded']]);

  // The workflow completes on the next worker without a second delivery.
  await stack.startWorkers();
  const done = await waitForJob(stack, job.id);
  expect(done).toMatchObject({ status: 'succeeded', result: { attempts: 1 } });
  expect(receiver.requests).toHaveLength(1);
});
