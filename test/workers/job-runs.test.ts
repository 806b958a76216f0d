/**
 * Every run is a job: runs a schedule (a backfill) or a parent workflow (a
 * batch's items) started get a `jobs` row from visibility, registered by the
 * real job-end watcher, with `scheduleId` / `parentJobId` links; they are
 * listed and filterable in `GET /v1/jobs`, a parent's children are paged at
 * `GET /v1/jobs/{id}/children`, and `root=true` leaves them out. The rows hold
 * identity only: a terminated run keeps its row and shows `terminated`; a
 * cursor set back registers nothing twice; a scheduled run that fails is a
 * dead letter like any job.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { and, eq, isNotNull } from 'drizzle-orm';
import { jobEventCursors, jobs } from '../../db/schema/index.ts';
import { fastWatcherEnv, startTestWatcher } from '../helpers/job-events.ts';
import { startTestStack, waitForJob, type TestStack } from '../helpers/stack.ts';

let stack: TestStack;
let watcher: { stop(): Promise<void> };
const hour = 3600_000;

beforeAll(async () => {
  stack = await startTestStack('job-runs', { env: fastWatcherEnv });
  await stack.startWorkers();
  watcher = await startTestWatcher(stack, 'job-runs-test');
});
afterAll(async () => {
  if (stack) {
    for await (const s of stack.client.schedule.list({ query: `TenantId = "${stack.tenantId}"` })) await stack.client.schedule.getHandle(s.scheduleId).delete().catch(() => {});
  }
  await watcher?.stop();
  await stack?.close();
});

interface JobItem {
  id: string;
  type: string;
  status: string;
  workflowId: string;
  scheduleId?: string | null;
  parentJobId?: string | null;
}

async function list(query: string): Promise<JobItem[]> {
  const res = await stack.api(`/v1/jobs${query}`, { role: 'viewer' });
  expect(res.status, await res.clone().text()).toBe(200);
  return ((await res.json()) as { items: JobItem[] }).items;
}

async function schedule(input: Record<string, unknown>): Promise<string> {
  const res = await stack.api('/v1/schedules', { method: 'POST', role: 'submitter', body: JSON.stringify({ type: 'noop', input, interval: '1h', paused: true }) });
  expect(res.status, await res.clone().text()).toBe(201);
  return ((await res.json()) as { id: string }).id;
}

async function backfill(scheduleId: string, hours: number): Promise<string[]> {
  const to = Date.now();
  const res = await stack.api(`/v1/schedules/${scheduleId}/backfill`, { method: 'POST', role: 'operator', body: JSON.stringify({ from: new Date(to - hours * hour).toISOString(), to: new Date(to).toISOString(), overlap: 'allow_all' }) });
  expect(res.status, await res.clone().text()).toBe(202);
  return ((await res.json()) as { runTimes: string[] }).runTimes;
}

/** The rows registered for a schedule's runs, once there are `n`. */
const runsOf = (scheduleId: string, n: number) =>
  vi.waitFor(
    async () => {
      const items = await list(`?scheduleId=${scheduleId}`);
      expect(items).toHaveLength(n);
      return items;
    },
    { timeout: 30_000, interval: 250 },
  );

describe('every run is a job', () => {
  it('a schedule’s runs (a backfill) become jobs with their scheduleId, listed and readable like any job', async () => {
    const id = await schedule({ tag: 'scheduled' });
    const times = await backfill(id, 3);
    expect(times).toHaveLength(3);
    const items = await runsOf(id, 3);
    for (const item of items) {
      expect(item).toMatchObject({ type: 'noop', scheduleId: id, parentJobId: null });
      expect(item.workflowId.startsWith(`${stack.tenantId}:${id}-`)).toBe(true);
      await waitForJob(stack, item.id, ['succeeded']);
    }
    const one = (await (await stack.api(`/v1/jobs/${items[0]!.id}`, { role: 'viewer' })).json()) as JobItem & { result: unknown };
    expect(one).toMatchObject({ status: 'succeeded', scheduleId: id, result: { ok: true, tag: 'scheduled' } });
  });

  it('a batch’s items become its children: paged under /children, left out with root=true', async () => {
    const res = await stack.api('/v1/jobs', { method: 'POST', role: 'submitter', body: JSON.stringify({ type: 'batch.run', input: { jobType: 'noop', items: [{ tag: 'i0' }, { tag: 'i1' }, { tag: 'i2' }], concurrency: 3 } }) });
    expect(res.status, await res.clone().text()).toBe(201);
    const batchId = ((await res.json()) as { id: string }).id;
    await waitForJob(stack, batchId, ['succeeded']);
    const children = await vi.waitFor(
      async () => {
        const r = await stack.api(`/v1/jobs/${batchId}/children?limit=2`, { role: 'viewer' });
        const page = (await r.json()) as { items: JobItem[]; nextCursor: string | null };
        expect(page.items).toHaveLength(2);
        const rest = (await (await stack.api(`/v1/jobs/${batchId}/children?limit=2&cursor=${page.nextCursor}`, { role: 'viewer' })).json()) as { items: JobItem[] };
        expect(rest.items).toHaveLength(1);
        return [...page.items, ...rest.items];
      },
      { timeout: 30_000, interval: 250 },
    );
    for (const child of children) expect(child).toMatchObject({ type: 'noop', parentJobId: batchId, status: 'succeeded' });
    const roots = await list('?root=true&limit=200');
    expect(roots.map((j) => j.id)).toContain(batchId);
    expect(roots.map((j) => j.id)).not.toEqual(expect.arrayContaining([children[0]!.id]));
    expect((await list('?limit=200')).map((j) => j.id)).toEqual(expect.arrayContaining(children.map((c) => c.id)));
    await expect.poll(async () => (await stack.api(`/v1/jobs/job_00000000000000000000000000/children`, { role: 'viewer' })).status).toBe(404);
  });

  it('a batch that continued as new: the items of every run of the chain are children of the one batch job', async () => {
    // Enough items that one run's event budget cannot hold them all (about 3.5 events per item): a stored list.
    const n = 1500;
    const list = await stack.api('/v1/batch-inputs?jobType=noop', { method: 'POST', role: 'submitter', body: JSON.stringify(Array.from({ length: n }, (_, i) => ({ tag: `can${i}` }))) });
    expect(list.status, await list.clone().text()).toBe(201);
    const itemsRef = ((await list.json()) as { id: string }).id;
    const res = await stack.api('/v1/jobs', { method: 'POST', role: 'submitter', body: JSON.stringify({ type: 'batch.run', input: { jobType: 'noop', itemsRef, concurrency: 50 } }) });
    expect(res.status, await res.clone().text()).toBe(201);
    const { id: batchId, workflowId } = (await res.json()) as { id: string; workflowId: string };
    await waitForJob(stack, batchId, ['succeeded'], 240_000);
    const desc = await stack.client.workflow.getHandle(workflowId).describe();
    // More than one run: the chain continued as new at least once.
    expect(desc.runId).not.toBe(desc.raw.workflowExecutionInfo?.firstRunId);
    await vi.waitFor(
      async () => {
        const rows = await stack.db.select({ id: jobs.id }).from(jobs).where(and(eq(jobs.tenantId, stack.tenantId), eq(jobs.parentJobId, batchId)));
        expect(rows).toHaveLength(n);
      },
      { timeout: 60_000, interval: 500 },
    );
  }, 300_000);

  it('a terminated run keeps its row and reads terminated; a cursor set back registers nothing twice', async () => {
    const id = await schedule({ tag: 'long', sleepMs: 60_000 });
    await backfill(id, 1);
    const [run] = await runsOf(id, 1);
    const stop = await stack.api(`/v1/jobs/${run!.id}/terminate`, { method: 'POST', role: 'operator', body: JSON.stringify({ reason: 'drift check' }) });
    expect(stop.status, await stop.clone().text()).toBe(202);
    await waitForJob(stack, run!.id, ['terminated']);

    const before = await stack.db.select({ id: jobs.id }).from(jobs).where(and(eq(jobs.tenantId, stack.tenantId), isNotNull(jobs.firstRunId)));
    const [cursor] = await stack.db.select().from(jobEventCursors);
    await stack.db.update(jobEventCursors).set({ handledUntil: new Date(Date.now() - 10 * 60_000) });
    await vi.waitFor(
      async () => {
        const [c] = await stack.db.select().from(jobEventCursors);
        if (c!.handledUntil.getTime() < Date.now() - 1000) throw new Error('watcher not caught up');
      },
      { timeout: 30_000, interval: 200 },
    );
    expect(cursor).toBeDefined();
    const after = await stack.db.select({ id: jobs.id }).from(jobs).where(and(eq(jobs.tenantId, stack.tenantId), isNotNull(jobs.firstRunId)));
    expect(after.map((r) => r.id).sort()).toEqual(before.map((r) => r.id).sort());
  });

  it('a scheduled run that fails is a dead letter like any job', async () => {
    const id = await schedule({ tag: 'failing', fail: true });
    await backfill(id, 1);
    const [run] = await runsOf(id, 1);
    await waitForJob(stack, run!.id, ['failed']);
    await vi.waitFor(
      async () => {
        const f = (await (await stack.api('/v1/jobs/failures', { role: 'viewer' })).json()) as { items: { jobId: string; errorType: string }[] };
        expect(f.items).toEqual(expect.arrayContaining([expect.objectContaining({ jobId: run!.id, errorType: 'NoopFailed' })]));
      },
      { timeout: 30_000, interval: 250 },
    );
  });
});
