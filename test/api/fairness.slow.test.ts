/**
 * Fairness between tenants on one task queue, measured on a real dev server
 * (`matching.useNewMatcher` + `matching.enableFairness`, as every Jobplane
 * server runs).
 *
 * With no worker running, tenant A floods 500 `webhook.deliver` jobs, then
 * tenant B submits 10. Then ONE worker with 2 workflow-task and 2 activity
 * slots starts, so a backlog exists and dispatch order decides who waits. We
 * measure, from the worker's start, when each job's workflow closed
 * (visibility `closeTime`, the same value `GET /v1/jobs/{id}` shows as
 * `finishedAt`) and how many of A's jobs had finished when B's last did.
 *
 * - **With the fairness key** (jobs created through the API, which starts each
 *   workflow with `priority.fairnessKey = tenantId`; activities inherit it):
 *   B's 10 jobs interleave with A's instead of queueing behind them.
 * - **Control, without a fairness key** (same server and settings, same
 *   workflow and worker limits, workflows started directly with no `priority`
 *   on another task queue): the backlog is FIFO, so B's jobs finish only after
 *   nearly all of A's. That is what makes the first assertion meaningful.
 */
import { workerTracingOptions } from '../../runtime/tracing.ts';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { eq } from 'drizzle-orm';
import { Context } from '@temporalio/activity';
import { NativeConnection, Worker } from '@temporalio/worker';
import { createActivities } from '../../activities/index.ts';
import { createApiKey, createTenant } from '../../api/tenants/service.ts';
import { webhookDeliver } from '../../contracts/webhook-deliver.ts';
import { tenants } from '../../db/schema/index.ts';
import { taskQueueName } from '../../runtime/temporal.ts';
import { activityDepsFrom, workerDataConverter } from '../../workers/create-workers.ts';
import { startReceiver, type Receiver } from '../helpers/receiver.ts';
import { startTestStack, workflowBundlePath, type TestStack } from '../helpers/stack.ts';

const floodJobs = 500;
const smallJobs = 10;
const submitConcurrency = 16;
const receiverDelayMs = 20;
/** Small enough that the 510 jobs form a backlog and dispatch order matters. */
const workerSlots = { maxConcurrentWorkflowTaskExecutions: 2, maxConcurrentActivityTaskExecutions: 2 };
/** B's last job must finish before A has finished this share of its flood. */
const fairShareBound = 0.25;

let stack: TestStack;
let receiver: Receiver;
let tenantB: { id: string; key: string };
/** jobId → fairness key of the activity task that delivered it (as the worker received it). */
const activityFairnessKeys = new Map<string, string>();

beforeAll(async () => {
  stack = await startTestStack('fairness');
  receiver = await startReceiver(() => ({ status: 200, delayMs: receiverDelayMs }));
  // The flooding tenant may create its 500 jobs at once (the default is 50/s, bursts of 100).
  await stack.db.update(tenants).set({ createRatePerSecond: 1000, createBurst: 1000 }).where(eq(tenants.id, stack.tenantId));
  const b = await createTenant(stack.db, `tenant-fairness-b-${randomBytes(4).toString('hex')}`);
  tenantB = { id: b.id, key: (await createApiKey(stack.db, b.id, { name: 'submitter key', role: 'submitter' })).key };
});
afterAll(async () => {
  await receiver?.close();
  await stack?.close();
});

/** Runs `fn` over `items` with at most `limit` calls in flight; results in input order. */
async function mapLimit<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array<R>(items.length);
  let next = 0;
  const lane = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
  return results;
}

const range = (n: number) => Array.from({ length: n }, (_, i) => i);

interface SubmittedJob {
  jobId: string;
  workflowId: string;
}

/** `POST /v1/jobs` as the holder of `key`; the job's workflow carries the tenant as fairness key. */
async function createViaApi(key: string, tenant: string, n: number): Promise<SubmittedJob[]> {
  return await mapLimit(range(n), submitConcurrency, async (i) => {
    const res = await fetch(`${stack.apiUrl}/v1/jobs`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ type: 'webhook.deliver', input: { url: receiver.url, payload: { tenant, n: i } } }),
    });
    if (res.status !== 201) throw new Error(`create ${tenant}#${i} answered ${res.status}: ${await res.text()}`);
    const job = (await res.json()) as { id: string; workflowId: string };
    return { jobId: job.id, workflowId: job.workflowId };
  });
}

/** Starts the same workflow directly, with NO `priority`: the control. */
async function startWithoutFairnessKey(taskQueue: string, tenantId: string, n: number): Promise<SubmittedJob[]> {
  return await mapLimit(range(n), submitConcurrency, async (i) => {
    const jobId = `job_${tenantId}_${i}`;
    const workflowId = `${tenantId}:${jobId}`;
    await stack.client.workflow.start(webhookDeliver.workflowType, {
      taskQueue,
      workflowId,
      args: [{ tenantId, jobId, input: { url: receiver.url, payload: { tenant: tenantId, n: i } } }],
    });
    return { jobId, workflowId };
  });
}

/** One worker on `taskQueue` with few slots; `t0` is taken right before it starts polling. */
async function startSmallWorker(taskQueue: string): Promise<{ t0: number; stop(): Promise<void> }> {
  const platform = createActivities(activityDepsFrom(stack.config, stack.db, stack.client));
  // The platform's activity, plus a record of the priority its task arrived with.
  const activities: typeof platform = {
    ...platform,
    deliverWebhook: (args) => {
      activityFairnessKeys.set(args.jobId, Context.current().info.priority?.fairnessKey ?? '');
      return platform.deliverWebhook(args);
    },
  };
  const connection = await NativeConnection.connect({ address: stack.temporal.address });
  const worker = await Worker.create({
    connection,
    namespace: stack.config.temporalNamespace,
    taskQueue,
    workflowBundle: { codePath: await workflowBundlePath() },
    dataConverter: workerDataConverter(stack.config),
    // The bundle's tracing interceptors call this sink, as in real workers.
    sinks: workerTracingOptions().sinks,
    activities,
    ...workerSlots,
  });
  const t0 = Date.now();
  const running = worker.run();
  return {
    t0,
    async stop() {
      if (worker.getState() === 'RUNNING') worker.shutdown();
      await running;
      await connection.close();
    },
  };
}

interface Measurement {
  /** ms from worker start at which each of B's jobs closed, ascending. */
  bFinish: number[];
  /** Same for A. */
  aFinish: number[];
  /** How many of A's jobs had closed when B's last one did. */
  aDoneWhenBDone: number;
  /** 1-based positions of B's deliveries among all deliveries of the scenario (receiver arrival order). */
  bDeliveryRanks: number[];
  /** ms from worker start until the last job closed. */
  drainMs: number;
}

/** Waits until every job on `taskQueue` completed, then reads the close times from visibility. */
async function measure(taskQueue: string, t0: number, a: SubmittedJob[], b: SubmittedJob[]): Promise<Measurement> {
  const total = a.length + b.length;
  // Standalone the drain takes ~30 s; generous for a loaded machine (the suite runs two files at once).
  let failed = 0;
  await vi.waitFor(
    async () => {
      const { count: completed } = await stack.client.workflow.count(`TaskQueue = "${taskQueue}" AND ExecutionStatus = "Completed"`);
      if (completed >= total) return;
      failed = (await stack.client.workflow.count(`TaskQueue = "${taskQueue}" AND ExecutionStatus != "Running" AND ExecutionStatus != "Completed"`)).count;
      if (failed > 0) return;
      throw new Error(`only ${completed}/${total} workflows on ${taskQueue} completed`);
    },
    { timeout: 150_000, interval: 250 },
  );
  if (failed > 0) throw new Error(`${failed} workflows on ${taskQueue} did not complete`);
  const closed = new Map<string, number>();
  for await (const wf of stack.client.workflow.list({ query: `TaskQueue = "${taskQueue}"` })) {
    closed.set(wf.workflowId, wf.closeTime!.getTime() - t0);
  }
  const finishes = (jobs: SubmittedJob[]) => jobs.map((j) => closed.get(j.workflowId)!).sort((x, y) => x - y);
  const aFinish = finishes(a);
  const bFinish = finishes(b);
  expect(aFinish.every(Number.isFinite) && bFinish.every(Number.isFinite)).toBe(true);
  const bLast = bFinish.at(-1)!;

  const scenarioJobs = new Set([...a, ...b].map((j) => j.jobId));
  const bJobs = new Set(b.map((j) => j.jobId));
  const deliveries = receiver.requests
    .filter((r) => scenarioJobs.has(String(r.headers['jobplane-job-id'])))
    .sort((x, y) => x.at - y.at);
  const bDeliveryRanks = deliveries.flatMap((r, i) => (bJobs.has(String(r.headers['jobplane-job-id'])) ? [i + 1] : []));

  return {
    bFinish,
    aFinish,
    aDoneWhenBDone: aFinish.filter((t) => t <= bLast).length,
    bDeliveryRanks,
    drainMs: Math.max(bLast, aFinish.at(-1)!),
  };
}

const p50 = (sorted: number[]) => sorted[Math.ceil(sorted.length / 2) - 1]!;

function report(label: string, m: Measurement): string {
  return (
    `${label}: B p50 ${p50(m.bFinish)} ms, B max ${m.bFinish.at(-1)} ms; ` +
    `A finished when B done ${m.aDoneWhenBDone}/${m.aFinish.length}; ` +
    `A p50 ${p50(m.aFinish)} ms; drain ${m.drainMs} ms; ` +
    `B delivery ranks ${m.bDeliveryRanks.join(',')} of ${m.aFinish.length + m.bFinish.length}`
  );
}

describe(`a tenant flooding ${floodJobs} jobs and a tenant with ${smallJobs}`, () => {
  it('with the tenant as fairness key (the API), the small tenant finishes long before the flood drains', async () => {
    const taskQueue = taskQueueName(stack.config, webhookDeliver.taskQueue);
    const submitStart = Date.now();
    const a = await createViaApi(stack.keys.submitter, 'A', floodJobs);
    const b = await createViaApi(tenantB.key, 'B', smallJobs);
    const submitMs = Date.now() - submitStart;

    // The API put each tenant on its workflow as fairness key.
    const desc = await stack.client.workflow.getHandle(b[0]!.workflowId).describe();
    expect(desc.raw.workflowExecutionInfo?.priority?.fairnessKey).toBe(tenantB.id);

    const worker = await startSmallWorker(taskQueue);
    let m: Measurement;
    try {
      m = await measure(taskQueue, worker.t0, a, b);
    } finally {
      await worker.stop();
    }
    console.log(`submitted ${floodJobs + smallJobs} jobs via the API in ${submitMs} ms`);
    console.log(report('with fairness key', m));

    // Activities inherit the workflow's priority: each delivery's task carried its tenant as fairness key.
    expect(new Set(a.map((j) => activityFairnessKeys.get(j.jobId)))).toEqual(new Set([stack.tenantId]));
    expect(new Set(b.map((j) => activityFairnessKeys.get(j.jobId)))).toEqual(new Set([tenantB.id]));
    // B's last job closes before A has finished a quarter of its flood.
    expect(m.aDoneWhenBDone).toBeLessThan(floodJobs * fairShareBound);
    expect(m.bFinish.at(-1)!).toBeLessThan(m.drainMs * fairShareBound);
    // The API view agrees: B's jobs succeeded, with finishedAt = the close time measured above.
    const job = (await (
      await fetch(`${stack.apiUrl}/v1/jobs/${b[0]!.jobId}`, { headers: { authorization: `Bearer ${tenantB.key}` } })
    ).json()) as { status: string; finishedAt: string };
    expect(job.status).toBe('succeeded');
    expect(m.bFinish).toContain(Date.parse(job.finishedAt) - worker.t0);
  }, 180_000);

  it('control: without a fairness key the same backlog is FIFO and the small tenant waits behind the flood', async () => {
    const taskQueue = taskQueueName(stack.config, `control-${webhookDeliver.taskQueue}`);
    const suffix = randomBytes(3).toString('hex');
    const a = await startWithoutFairnessKey(taskQueue, `ten_ctl_flood_${suffix}`, floodJobs);
    const b = await startWithoutFairnessKey(taskQueue, `ten_ctl_small_${suffix}`, smallJobs);
    const desc = await stack.client.workflow.getHandle(b[0]!.workflowId).describe();
    expect(desc.raw.workflowExecutionInfo?.priority?.fairnessKey ?? '').toBe('');

    const worker = await startSmallWorker(taskQueue);
    let m: Measurement;
    try {
      m = await measure(taskQueue, worker.t0, a, b);
    } finally {
      await worker.stop();
    }
    console.log(report('without fairness key', m));
    expect(new Set([...a, ...b].map((j) => activityFairnessKeys.get(j.jobId)))).toEqual(new Set(['']));

    // Starvation: B's last job closes only after A has finished most of its flood.
    expect(m.aDoneWhenBDone).toBeGreaterThan(floodJobs * (1 - fairShareBound));
  }, 180_000);
});
