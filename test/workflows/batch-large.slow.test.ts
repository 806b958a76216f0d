/**
 * A 10,000-item batch of noop items through the API (stored list + batch.run)
 * on the real dev server, with the workers in a child process so their memory
 * is measured apart from the test's: all items done, peak worker RSS
 * reported and bounded, and every run of the continue-as-new chain below
 * Temporal's continue-as-new suggestion (4,096 events, 4 MB).
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { and, eq } from 'drizzle-orm';
import type { WorkflowHandle } from '@temporalio/client';
import type { temporal } from '@temporalio/proto';
import { batchRunOutput } from '../../contracts/index.ts';
import { jobs } from '../../db/schema/index.ts';
import { createBatch, progressOf } from '../helpers/batch.ts';
import { startTestStack, waitForJob, type TestStack } from '../helpers/stack.ts';

const items = Number(process.env.JOBPLANE_TEST_BATCH_ITEMS ?? 10_000);
const concurrency = 200;
/** A run's history must stay below the server's continue-as-new suggestion. */
const suggestedEvents = 4096;
const suggestedBytes = 4 * 1024 * 1024;
/** Peak RSS of the worker process we accept for this batch: bounded, whatever the item count. */
const workerRssLimitBytes = 1024 * 1024 * 1024;

let stack: TestStack;
let workerPid: number;

/** Peak resident set size of a process (VmHWM), in bytes. */
function peakRss(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find((l) => l.startsWith('VmHWM:'))!;
  return Number(/(\d+)/.exec(line)![1]) * 1024;
}

beforeAll(async () => {
  stack = await startTestStack('batch-large');
  workerPid = (await stack.spawnWorkerProcess()).pid!;
});
afterAll(async () => {
  await stack?.close();
});

describe(`batch.run of ${items} noop items`, () => {
  it('finishes with every item done, bounded worker memory, and every run below the continue-as-new threshold', { timeout: 27 * 60_000 }, async () => {
    const t0 = Date.now();
    const body = Array.from({ length: items }, (_, i) => JSON.stringify({ tag: `n${i}` })).join('\n');
    const upload = await stack.api('/v1/batch-inputs?jobType=noop', { method: 'POST', role: 'submitter', headers: { 'content-type': 'application/x-ndjson' }, body });
    const list = (await upload.json()) as { id: string; count: number };
    expect(upload.status).toBe(201);
    expect(list.count).toBe(items);

    const { id, workflowId } = await createBatch(stack, { jobType: 'noop', itemsRef: list.id, concurrency });
    // 10–26 items/s measured on a 2-core machine (the dev server, the worker and this test share it, with whatever
    // else runs): 6.5–16 minutes for 10,000. The bound is the worker's CPU per child workflow start (see bench/README.md, W4).
    const job = await waitForJob(stack, id, undefined, 25 * 60_000);
    const seconds = (Date.now() - t0) / 1000;
    expect(job.status).toBe('succeeded');
    expect(batchRunOutput.parse(job.result)).toEqual({ total: items, succeeded: items, failed: 0, rounds: 1, failures: [], failuresTruncated: false });
    expect(await progressOf(stack, id)).toMatchObject({ state: 'completed', done: items, running: 0, pending: 0 });

    // Walk the continue-as-new chain from the first run.
    const [row] = await stack.db.select().from(jobs).where(and(eq(jobs.id, id), eq(jobs.tenantId, stack.tenantId)));
    const runs: { runId: string; events: number; bytes: number }[] = [];
    for (let runId: string | undefined = row!.firstRunId!; runId; ) {
      const handle: WorkflowHandle = stack.client.workflow.getHandle(workflowId, runId);
      const events: temporal.api.history.v1.IHistoryEvent[] = (await handle.fetchHistory()).events ?? [];
      const bytes = Number((await handle.describe()).raw.workflowExecutionInfo?.historySizeBytes ?? 0);
      runs.push({ runId, events: events.length, bytes });
      runId = events.at(-1)?.workflowExecutionContinuedAsNewEventAttributes?.newExecutionRunId ?? undefined;
    }
    const rss = peakRss(workerPid);
    const maxEvents = Math.max(...runs.map((r) => r.events));
    const maxBytes = Math.max(...runs.map((r) => r.bytes));
    console.log(
      `[batch-large] ${items} items in ${seconds.toFixed(1)} s (${(items / seconds).toFixed(1)} items/s, concurrency ${concurrency}); ` +
        `${runs.length} runs, largest ${maxEvents} events / ${(maxBytes / 1024).toFixed(0)} KiB; worker peak RSS ${(rss / 1024 / 1024).toFixed(0)} MiB`,
    );
    expect(runs.length).toBeGreaterThan(1);
    for (const r of runs) {
      expect(r.events, `run ${r.runId}`).toBeLessThan(suggestedEvents);
      expect(r.bytes, `run ${r.runId}`).toBeLessThan(suggestedBytes);
    }
    expect(rss).toBeLessThan(workerRssLimitBytes);
  });
});
