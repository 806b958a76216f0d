/**
 * What a tenant's jobs cost, against real Temporal and Postgres: known jobs
 * (a plain noop, a noop with a durable timer, a webhook whose receiver
 * refuses twice, a batch of three children) run on the real workers with
 * activity metering, the real job-end watcher records each closed run, and:
 * every run's actions equal those its Temporal history shows, its history
 * bytes and events equal what Temporal describes, `GET /v1/usage` sums equal
 * the per-job figures, handling the same runs again counts nothing twice, an
 * ingested document counts its file, text and chunks, and a stored batch list
 * adds its bytes to the tenant's storage.
 */
import proto from '@temporalio/proto';
import type { temporal } from '@temporalio/proto';
import { eq, sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { activityAttemptUsage, documentChunks, documents, documentTexts, jobEventCursors, jobRunUsage, jobs, usageDaily } from '../../db/schema/index.ts';
import { uploadNew, waitForDocument } from '../helpers/documents.ts';
import { createBatch } from '../helpers/batch.ts';
import { fastWatcherEnv, startTestWatcher, watcherCaughtUp } from '../helpers/job-events.ts';
import { startReceiver, type Receiver } from '../helpers/receiver.ts';
import { startTestStack, waitForJob, type TestStack } from '../helpers/stack.ts';
import { attemptRowsKeptMs, sweepAttemptRows } from '../../workers/job-events/usage.ts';

let stack: TestStack;
let watcher: { stop(): Promise<void> };
let flaky: Receiver;

beforeAll(async () => {
  stack = await startTestStack('usage', { env: fastWatcherEnv });
  await stack.startWorkers();
  watcher = await startTestWatcher(stack, 'usage-test');
  // Refuses twice, then accepts: three attempts of one activity.
  flaky = await startReceiver((n) => ({ status: n <= 2 ? 503 : 200 }));
});
afterAll(async () => {
  await watcher?.stop();
  await flaky?.close();
  await stack?.close();
});

interface Figures {
  actions: number;
  historyBytes: number;
  historyEvents: number;
  activityAttempts: number;
  activityWallMs: number;
  activityCpuMs: number;
  storageBytes: number;
}
interface JobUsage {
  jobId: string;
  jobType: string;
  runs: (Figures & { runId: string; status: string; day: string; actionsByKind: Record<string, number> })[];
  total: Figures;
}
interface Usage {
  items: (Figures & { runs: number; jobType?: string; day?: string })[];
  total: Figures & { runs: number };
}

async function create(body: Record<string, unknown>): Promise<string> {
  const res = await stack.api('/v1/jobs', { method: 'POST', role: 'submitter', body: JSON.stringify(body) });
  expect(res.status, await res.clone().text()).toBe(201);
  return ((await res.json()) as { id: string }).id;
}

async function jobUsage(id: string): Promise<JobUsage> {
  const res = await stack.api(`/v1/jobs/${id}/usage`, { role: 'viewer' });
  expect(res.status, await res.clone().text()).toBe(200);
  return (await res.json()) as JobUsage;
}

async function usage(query: string): Promise<Usage> {
  const res = await stack.api(`/v1/usage${query}`, { role: 'admin' });
  expect(res.status, await res.clone().text()).toBe(200);
  return (await res.json()) as Usage;
}

const E = proto.temporal.api.enums.v1.EventType;

/**
 * The test's own reading of a history, event by event: a start, a timer, a
 * signal, an accepted update and an upsert are one action each; an activity
 * is as many as the attempt its started event records.
 */
function actionsInHistory(events: temporal.api.history.v1.IHistoryEvent[]): number {
  let n = 0;
  for (const e of events) {
    if (e.eventType === E.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED) n += 1;
    if (e.eventType === E.EVENT_TYPE_TIMER_STARTED) n += 1;
    if (e.eventType === E.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED) n += 1;
    if (e.eventType === E.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED) n += 1;
    if (e.eventType === E.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES) n += 1;
    if (e.eventType === E.EVENT_TYPE_ACTIVITY_TASK_STARTED) n += e.activityTaskStartedEventAttributes?.attempt ?? 1;
  }
  return n;
}

const figureNames = ['actions', 'historyBytes', 'historyEvents', 'activityAttempts', 'activityWallMs', 'storageBytes'] as const;

const ids: Record<string, string> = {};
const day = new Date().toISOString().slice(0, 10);

describe('usage: what each job cost', () => {
  it('every closed run of a known job is recorded with the actions its history shows, and the history size Temporal reports', async () => {
    ids.plain = await create({ type: 'noop', input: { tag: 'plain' } });
    ids.timer = await create({ type: 'noop', input: { tag: 'timer', sleepMs: 50 } });
    ids.webhook = await create({ type: 'webhook.deliver', input: { url: flaky.url, payload: { n: 1 }, eventType: 'order.paid' } });
    ids.batch = (await createBatch(stack, { jobType: 'noop', items: [{ tag: 'c0' }, { tag: 'c1' }, { tag: 'c2' }] })).id;
    for (const id of Object.values(ids)) await waitForJob(stack, id, ['succeeded'], 60_000);
    await watcherCaughtUp(stack, 30_000);

    const plain = await jobUsage(ids.plain!);
    expect(plain.runs).toHaveLength(1);
    expect(plain.runs[0]!.actionsByKind).toEqual({ workflow: 1 });
    const timer = await jobUsage(ids.timer!);
    expect(timer.runs[0]!.actionsByKind).toEqual({ workflow: 1, timer: 1 });
    const webhook = await jobUsage(ids.webhook!);
    expect(webhook.runs[0]).toMatchObject({ activityAttempts: 3, actionsByKind: { workflow: 1, activity: 3 }, status: 'COMPLETED', day });
    expect(flaky.requests).toHaveLength(3);

    // Each run against Temporal's own account of it.
    const all = await stack.db.select().from(jobs).where(eq(jobs.tenantId, stack.tenantId));
    const children = all.filter((j) => j.parentJobId === ids.batch);
    expect(children).toHaveLength(3);
    for (const job of [...Object.values(ids).map((id) => all.find((j) => j.id === id)!), ...children]) {
      const u = await jobUsage(job.id);
      expect(u.runs.length, job.type).toBeGreaterThan(0);
      for (const run of u.runs) {
        const handle = stack.client.workflow.getHandle(job.workflowId, run.runId);
        const history = (await handle.fetchHistory()).events ?? [];
        expect(run.actions, `${job.type} ${job.id}`).toBe(actionsInHistory(history));
        const described = await handle.describe();
        expect(run.historyEvents).toBe(described.historyLength);
        expect(run.historyBytes).toBe(described.historySize);
        // A share of the attempt's busy time is never more than the attempt's wall time.
        expect(run.activityCpuMs).toBeLessThanOrEqual(run.activityWallMs + 1);
      }
    }
    // The webhook's three attempts ran on this process's worker: they took time and some CPU.
    expect(webhook.total.activityCpuMs).toBeGreaterThan(0);
    // Summed into the run's row, the attempt rows are gone.
    expect(await stack.db.select().from(activityAttemptUsage).where(sql`${activityAttemptUsage.workflowId} like ${`${stack.tenantId}:%`}`)).toEqual([]);
  });

  it('GET /v1/usage sums equal the per-job figures, by type and by day', async () => {
    const rows = await stack.db.select().from(jobRunUsage).where(eq(jobRunUsage.tenantId, stack.tenantId));
    const byType = await usage(`?from=${day}&to=${day}&groupBy=type`);
    const byDay = await usage(`?from=${day}&to=${day}&groupBy=day`);
    expect(byType.total.runs).toBe(rows.length);
    expect(byDay.total).toEqual(byType.total);
    expect(byDay.items.map((i) => i.day)).toEqual([day]);
    // Per type: the usage of each job of that type, summed through the job route.
    const perJob = new Map<string, Figures>();
    for (const jobId of new Set(rows.map((r) => r.jobId))) {
      const u = await jobUsage(jobId);
      const sum = perJob.get(u.jobType) ?? { actions: 0, historyBytes: 0, historyEvents: 0, activityAttempts: 0, activityWallMs: 0, activityCpuMs: 0, storageBytes: 0 };
      for (const f of figureNames) sum[f] += u.total[f];
      sum.activityCpuMs += u.total.activityCpuMs;
      perJob.set(u.jobType, sum);
    }
    expect(byType.items.map((i) => i.jobType).sort()).toEqual([...perJob.keys()].sort());
    for (const item of byType.items) {
      const sum = perJob.get(item.jobType!)!;
      for (const f of figureNames.filter((f) => f !== 'historyEvents')) expect(item[f], `${item.jobType} ${f}`).toBe(sum[f]);
      expect(item.activityCpuMs).toBeCloseTo(sum.activityCpuMs, 2);
    }
    // The batch's children count as noop runs, next to the two noop jobs.
    expect(byType.items.find((i) => i.jobType === 'noop')!.runs).toBe(5);
  });

  it('handling the same closed runs again (cursor set back) counts nothing twice', async () => {
    const before = await stack.db.select().from(usageDaily).where(eq(usageDaily.tenantId, stack.tenantId));
    await stack.db.update(jobEventCursors).set({ handledUntil: new Date(Date.now() - 10 * 60_000) }).where(eq(jobEventCursors.namespace, stack.config.temporalNamespace));
    await watcherCaughtUp(stack, 30_000);
    const after = await stack.db.select().from(usageDaily).where(eq(usageDaily.tenantId, stack.tenantId));
    expect(after).toEqual(before);
  });

  it('attempt rows no job run took (no job, or a run open for over 30 days) are swept; recent ones stay', async () => {
    const row = (runId: string, endedAt: Date) => ({ workflowId: 'not-a-job', runId, activityId: '1', attempt: 1, activityType: 'x', wallMs: 1, cpuUs: 1, endedAt });
    await stack.db.insert(activityAttemptUsage).values([row('old-run', new Date(Date.now() - attemptRowsKeptMs - 60_000)), row('recent-run', new Date())]);
    expect(await sweepAttemptRows(stack.db)).toBeGreaterThanOrEqual(1);
    const left = await stack.db.select({ runId: activityAttemptUsage.runId }).from(activityAttemptUsage).where(eq(activityAttemptUsage.workflowId, 'not-a-job'));
    expect(left.map((r) => r.runId)).toEqual(['recent-run']);
  });

  it("a document.ingest job's storage is the file it ingested plus the text and chunks derived from it, counted once", async () => {
    const text = `Invoice INV-77 for northwind. ${'Line item with a price and a quantity. '.repeat(60)}`;
    const doc = await uploadNew(stack, text, { filename: 'inv-77.txt', type: 'text/plain' });
    await waitForDocument(stack, doc.id, ['ingested']);
    await waitForJob(stack, doc.jobId, ['succeeded']);
    await watcherCaughtUp(stack, 30_000);
    const [size] = await stack.db.select({ bytes: documents.sizeBytes }).from(documents).where(eq(documents.id, doc.id));
    const [derivedText] = await stack.db.select({ bytes: sql<number>`octet_length(${documentTexts.text})`.mapWith(Number) }).from(documentTexts).where(eq(documentTexts.documentId, doc.id));
    const [chunks] = await stack.db.select({ bytes: sql<number>`coalesce(sum(octet_length(${documentChunks.content})), 0)`.mapWith(Number) }).from(documentChunks).where(eq(documentChunks.documentId, doc.id));
    expect(size!.bytes).toBe(Buffer.byteLength(text));
    expect(chunks!.bytes).toBeGreaterThan(0);
    const u = await jobUsage(doc.jobId);
    expect(u.jobType).toBe('document.ingest');
    expect(u.total.storageBytes).toBe(size!.bytes + derivedText!.bytes + chunks!.bytes);
  });

  it('a stored batch list adds its JSON bytes to the storage of batch.run on the upload day', async () => {
    const before = (await usage(`?from=${day}&to=${day}`)).items.find((i) => i.jobType === 'batch.run')?.storageBytes ?? 0;
    const lines = [{ tag: 'stored-0' }, { tag: 'stored-1' }].map((i) => JSON.stringify(i));
    const res = await stack.api('/v1/batch-inputs?jobType=noop', { method: 'POST', role: 'submitter', headers: { 'content-type': 'application/x-ndjson' }, body: lines.join('\n') });
    expect(res.status, await res.clone().text()).toBe(201);
    await vi.waitFor(async () => {
      const after = (await usage(`?from=${day}&to=${day}`)).items.find((i) => i.jobType === 'batch.run')!.storageBytes;
      expect(after - before).toBe(lines.reduce((n, l) => n + Buffer.byteLength(l), 0));
    });
  });
});
