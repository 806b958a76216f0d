/**
 * batch.run through the API on the real dev server and Postgres: item
 * validation at create time, webhook items with failures and retry-failed,
 * pause/resume with progress and Web UI details, cancel propagating to the
 * children, batches of approval.request items, and noop jobs.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eq } from 'drizzle-orm';
import { WorkflowNotFoundError } from '@temporalio/client';
import { batchRunOutput } from '../../contracts/index.ts';
import { batchInputItems, batchInputs, jobs } from '../../db/schema/index.ts';
import { createBatch, message, progressOf, waitForProgress } from '../helpers/batch.ts';
import { createOtherTenant, expectProblem } from '../helpers/http.ts';
import { startReceiver, type Receiver } from '../helpers/receiver.ts';
import { recordHistory } from '../helpers/record-history.ts';
import { startTestStack, waitForJob, type TestStack } from '../helpers/stack.ts';
import { executeUpdate } from '../helpers/update.ts';

let stack: TestStack;
let receiver: Receiver;
/** Item numbers the receiver refuses (400) the first time it sees them. */
const refuseOnce = new Set([2, 5, 7]);
const seen = new Map<number, number>();

beforeAll(async () => {
  stack = await startTestStack('batch', { env: { JOBPLANE_BATCH_INPUT_LIMIT_BYTES: '200000' } });
  await stack.startWorkers();
  receiver = await startReceiver((_n, req) => {
    const { n } = JSON.parse(req.body) as { n: number };
    const times = (seen.get(n) ?? 0) + 1;
    seen.set(n, times);
    return { status: refuseOnce.has(n) && times === 1 ? 400 : 200 };
  });
});
afterAll(async () => {
  await receiver?.close();
  await stack?.close();
});

const noopItems = (n: number, extra: Record<string, unknown> = {}) => Array.from({ length: n }, (_, i) => ({ tag: `i${i}`, ...extra }));

describe('batch.run', () => {
  it('validates every item against the item type at create time: 400 with the item index in the path, nothing started', async () => {
    const items = Array.from({ length: 20 }, (_, i) => ({ url: `${receiver.url}?i=${i}`, payload: { n: i } }));
    items[17] = { url: 'not a url', payload: { n: 17 } };
    const before = await stack.db.select().from(jobs).where(eq(jobs.tenantId, stack.tenantId));
    const res = await stack.api('/v1/jobs', { method: 'POST', role: 'submitter', body: JSON.stringify({ type: 'batch.run', input: { jobType: 'webhook.deliver', items } }) });
    const problem = await expectProblem(res, 400);
    expect(problem.errors!.map((e) => e.path)).toEqual(['input.items.17.url']);

    const unknownType = await stack.api('/v1/jobs', { method: 'POST', role: 'submitter', body: JSON.stringify({ type: 'batch.run', input: { jobType: 'batch.run', items: [{}] } }) });
    expect(((await unknownType.json()) as { errors: { path: string }[] }).errors.map((e) => e.path)).toContain('input.jobType');
    const both = await stack.api('/v1/jobs', { method: 'POST', role: 'submitter', body: JSON.stringify({ type: 'batch.run', input: { jobType: 'noop' } }) });
    expect(both.status).toBe(400);
    const tooConcurrent = await stack.api('/v1/jobs', { method: 'POST', role: 'submitter', body: JSON.stringify({ type: 'batch.run', input: { jobType: 'noop', items: [{}], concurrency: 501 } }) });
    expect(((await tooConcurrent.json()) as { errors: { path: string }[] }).errors.map((e) => e.path)).toEqual(['input.concurrency']);
    const after = await stack.db.select().from(jobs).where(eq(jobs.tenantId, stack.tenantId));
    expect(after).toHaveLength(before.length);
  });

  it('webhook items: failures are reported with their type, retry-failed re-runs only them under new child ids', async () => {
    const items = Array.from({ length: 10 }, (_, n) => ({ url: receiver.url, payload: { n }, eventType: 'batch.test' }));
    const { id, workflowId } = await createBatch(stack, { jobType: 'webhook.deliver', items, concurrency: 4, retryWindowSeconds: 120 });

    const ended = await waitForProgress(stack, id, (p) => p.state === 'awaiting-retry');
    expect(ended).toMatchObject({ total: 10, done: 7, failed: 3, running: 0, pending: 0, round: 0 });
    const failedPage = (await (await stack.api(`/v1/jobs/${id}/failed-items?limit=2`, { role: 'viewer' })).json()) as {
      items: { index: number; type: string; round: number }[];
      nextCursor: string;
    };
    expect(failedPage.items).toEqual([expect.objectContaining({ index: 2, type: 'WebhookRejected', round: 0 }), expect.objectContaining({ index: 5 })]);
    const rest = (await (await stack.api(`/v1/jobs/${id}/failed-items?cursor=${failedPage.nextCursor}`, { role: 'viewer' })).json()) as { items: { index: number }[]; nextCursor: null };
    expect(rest).toMatchObject({ items: [{ index: 7 }], nextCursor: null });

    const retry = await message(stack, id, 'updates', 'retry-failed');
    expect(retry.status).toBe(200);
    expect(await retry.json()).toEqual({ result: { round: 1, retrying: 3 } });
    // A second retry while the first round runs is refused.
    // A second retry while the first round runs (or after the batch ended) is refused.
    expect((await message(stack, id, 'updates', 'retry-failed')).status).toBe(409);

    const job = await waitForJob(stack, id);
    expect(job.status).toBe('succeeded');
    expect(batchRunOutput.parse(job.result)).toEqual({ total: 10, succeeded: 10, failed: 0, rounds: 2, failures: [], failuresTruncated: false });
    // Every item delivered once; only the three refused ones were sent twice.
    for (let n = 0; n < 10; n++) expect(seen.get(n), `item ${n}`).toBe(refuseOnce.has(n) ? 2 : 1);
    // The retry ran under its own child id; the failed run keeps its own.
    const retried = await stack.client.workflow.getHandle(`${workflowId}/2/r1`).describe();
    expect(retried.status.name).toBe('COMPLETED');
    expect((await stack.client.workflow.getHandle(`${workflowId}/2`).describe()).status.name).toBe('FAILED');
    expect((await (await stack.api(`/v1/jobs/${id}/failed-items`, { role: 'viewer' })).json()) as unknown).toEqual({ items: [], nextCursor: null });
    await recordHistory(stack.temporal.address, workflowId, 'batch-run', 'webhooks-retry-failed');
  });

  it('pause stops starting items, resume goes on; progress, Web UI details and item search attributes', async () => {
    const { id, workflowId } = await createBatch(stack, { jobType: 'noop', items: noopItems(24, { sleepMs: 500 }), concurrency: 4 });
    expect((await message(stack, id, 'signals', 'pause')).status).toBe(202);
    const paused = await waitForProgress(stack, id, (p) => p.paused && p.running === 0);
    expect(paused.state).toBe('paused');
    await new Promise((r) => setTimeout(r, 1500));
    const still = await progressOf(stack, id);
    expect(still).toMatchObject({ done: paused.done, pending: paused.pending, running: 0 });
    expect(still.pending).toBeGreaterThan(0);

    // Nothing failed and items still wait: retry-failed is refused with 409.
    const refused = await message(stack, id, 'updates', 'retry-failed');
    expect(refused.status).toBe(409);
    expect(((await refused.json()) as { detail: string }).detail).toMatch(/still running or waiting/);
    const viewer = await message(stack, id, 'signals', 'resume', {}, 'viewer');
    expect(viewer.status).toBe(403);
    const bad = await message(stack, id, 'signals', 'resume', { now: true });
    expect(bad.status).toBe(400);

    const meta = (await stack.client.workflow.getHandle(workflowId).query('__temporal_workflow_metadata')) as { currentDetails: string };
    expect(meta.currentDetails).toContain('paused');
    expect(meta.currentDetails).toMatch(/\| 24 \| \d+ \| 0 \| 0 \| \d+ \| 0 \|/);

    expect((await message(stack, id, 'signals', 'resume')).status).toBe(202);
    const job = await waitForJob(stack, id);
    expect(job.result).toMatchObject({ total: 24, succeeded: 24, failed: 0, rounds: 1 });

    // The items are jobs of the tenant in the Web UI: filter by tenant, type and batch label.
    const query = `TenantId = "${stack.tenantId}" AND JobType = "noop" AND JobLabels = "batch=${id}"`;
    await expect.poll(async () => (await stack.client.workflow.count(query)).count, { timeout: 20_000 }).toBe(24);
    const child = await stack.client.workflow.getHandle(`${workflowId}/3`).describe();
    expect(child.searchAttributes).toMatchObject({ TenantId: [stack.tenantId], JobType: ['noop'], JobId: [`${id}/3`] });
    await recordHistory(stack.temporal.address, workflowId, 'batch-run', 'pause-resume');
  });

  it('cancel propagates to the running children; items not started never start', async () => {
    const { id, workflowId } = await createBatch(stack, { jobType: 'noop', items: noopItems(12, { sleepMs: 60_000 }), concurrency: 3 });
    await waitForProgress(stack, id, (p) => p.running === 3);
    expect((await stack.api(`/v1/jobs/${id}/cancel`, { method: 'POST', role: 'submitter' })).status).toBe(202);
    const job = await waitForJob(stack, id);
    expect(job.status).toBe('cancelled');
    for (const i of [0, 1, 2]) expect((await stack.client.workflow.getHandle(`${workflowId}/${i}`).describe()).status.name).toBe('CANCELLED');
    await expect(stack.client.workflow.getHandle(`${workflowId}/3`).describe()).rejects.toThrow(WorkflowNotFoundError);
    // The closed run still answers its progress: cancelled, with the three children counted.
    const p = await progressOf(stack, id);
    expect(p).toMatchObject({ state: 'cancelled', cancelled: 3, running: 0, done: 0, pending: 9 });
    await recordHistory(stack.temporal.address, workflowId, 'batch-run', 'cancelled');
  });

  it('a batch of noop items with business failures reports them in the result; `finish` ends the retry window', async () => {
    const items = noopItems(6).map((it, i) => (i % 3 === 1 ? { ...it, fail: true } : it));
    const { id, workflowId } = await createBatch(stack, { jobType: 'noop', items, retryWindowSeconds: 3600 });
    const waiting = await waitForProgress(stack, id, (p) => p.state === 'awaiting-retry');
    expect(Date.parse(waiting.retryWindowEndsAt!) - Date.now()).toBeGreaterThan(3000_000);
    expect((await message(stack, id, 'signals', 'finish')).status).toBe(202);
    const job = await waitForJob(stack, id);
    expect(job.status).toBe('succeeded');
    const result = batchRunOutput.parse(job.result);
    expect(result).toMatchObject({ total: 6, succeeded: 4, failed: 2, rounds: 1, failuresTruncated: false });
    expect(result.failures).toEqual([
      { index: 1, type: 'NoopFailed', message: expect.stringContaining('i1'), round: 0 },
      { index: 4, type: 'NoopFailed', message: expect.stringContaining('i4'), round: 0 },
    ]);
    await recordHistory(stack.temporal.address, workflowId, 'batch-run', 'noop-failures');
  });

  it('approval.request items: each item waits for its own decision', async () => {
    const { id, workflowId } = await createBatch(stack, { jobType: 'approval.request', items: [{ subject: 'Item A' }, { subject: 'Item B' }] });
    await waitForProgress(stack, id, (p) => p.running === 2);
    // `running` counts an item from the moment its child start is requested; the update needs the child to exist.
    const [first, second] = [0, 1].map((i) => stack.client.workflow.getHandle(`${workflowId}/${i}`));
    for (const child of [first!, second!]) await expect.poll(() => child.describe().then(() => true, () => false), { timeout: 30_000 }).toBe(true);
    await executeUpdate(first!, 'approve', { by: 'ann' });
    await executeUpdate(second!, 'reject', { by: 'ben' });
    const job = await waitForJob(stack, id);
    // A rejection is a decision, not a failure: both items succeeded.
    expect(job.result).toMatchObject({ total: 2, succeeded: 2, failed: 0 });
  });

  it('noop jobs run on their own through the API', async () => {
    const ok = await stack.api('/v1/jobs', { method: 'POST', role: 'submitter', body: JSON.stringify({ type: 'noop', input: { tag: 'solo', sleepMs: 10 } }) });
    const okJob = (await ok.json()) as { id: string; workflowId: string };
    expect(await waitForJob(stack, okJob.id)).toMatchObject({ status: 'succeeded', result: { ok: true, tag: 'solo' } });
    await recordHistory(stack.temporal.address, okJob.workflowId, 'noop', 'succeeded');
    const bad = await stack.api('/v1/jobs', { method: 'POST', role: 'submitter', body: JSON.stringify({ type: 'noop', input: { fail: true } }) });
    const badJob = (await bad.json()) as { id: string; workflowId: string };
    expect(await waitForJob(stack, badJob.id)).toMatchObject({ status: 'failed', error: { type: 'NoopFailed' } });
    await recordHistory(stack.temporal.address, badJob.workflowId, 'noop', 'failed');
  });
});

describe('stored item lists', () => {
  const ndjson = (items: unknown[]) => items.map((i) => JSON.stringify(i)).join('\n') + '\n';
  const upload = (jobType: string, body: string, contentType = 'application/x-ndjson', role: 'submitter' | 'viewer' = 'submitter') =>
    stack.api(`/v1/batch-inputs?jobType=${jobType}`, { method: 'POST', role, headers: { 'content-type': contentType }, body });

  it('stores a validated NDJSON list, runs a batch over it in pages, and isolates it by tenant', async () => {
    const items = noopItems(450).map((it, i) => (i === 321 ? { ...it, fail: true } : it));
    const res = await upload('noop', ndjson(items));
    const list = (await res.json()) as { id: string; count: number; jobType: string };
    expect(res.status, JSON.stringify(list)).toBe(201);
    expect(list).toMatchObject({ count: 450, jobType: 'noop' });
    expect(list.id).toMatch(/^bin_/);
    expect(await (await stack.api(`/v1/batch-inputs/${list.id}`, { role: 'viewer' })).json()).toMatchObject({ id: list.id, count: 450 });

    // Another tenant's key: the list answers 404 like an unknown one, and cannot be referenced.
    const { asOther } = await createOtherTenant(stack, { name: 'other-batch' });
    const foreign = await asOther(`/v1/batch-inputs/${list.id}`);
    const unknown = await asOther('/v1/batch-inputs/bin_00000000000000000000000000');
    expect([foreign.status, unknown.status]).toEqual([404, 404]);
    const stolen = await asOther('/v1/jobs', { method: 'POST', body: JSON.stringify({ type: 'batch.run', input: { jobType: 'noop', itemsRef: list.id } }) });
    expect(stolen.status).toBe(400);
    expect(((await stolen.json()) as { errors: { path: string }[] }).errors.map((e) => e.path)).toEqual(['input.itemsRef']);
    const wrongType = await stack.api('/v1/jobs', { method: 'POST', role: 'submitter', body: JSON.stringify({ type: 'batch.run', input: { jobType: 'webhook.deliver', itemsRef: list.id } }) });
    expect(((await wrongType.json()) as { detail: string }).detail).toContain('holds noop items');

    const { id, workflowId } = await createBatch(stack, { jobType: 'noop', itemsRef: list.id, concurrency: 50 });
    const job = await waitForJob(stack, id, undefined, 120_000);
    expect(job.status).toBe('succeeded');
    expect(batchRunOutput.parse(job.result)).toEqual({
      total: 450,
      succeeded: 449,
      failed: 1,
      rounds: 1,
      failures: [{ index: 321, type: 'NoopFailed', message: expect.stringContaining('i321'), round: 0 }],
      failuresTruncated: false,
    });
    // Items came through the page-loading activity, a bounded page at a time.
    const history = await stack.client.workflow.getHandle(workflowId).fetchHistory();
    const loads = (history.events ?? []).filter((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'loadBatchItems');
    expect(loads.length).toBeGreaterThanOrEqual(3);
    await recordHistory(stack.temporal.address, workflowId, 'batch-run', 'stored-list');
    // 450 child workflows: on the cluster tier (two cores shared by four services) this has taken over a minute.
  }, 180_000);

  it('refuses bad lists with field paths, and stores nothing', async () => {
    const count = async () => (await stack.db.select().from(batchInputs).where(eq(batchInputs.tenantId, stack.tenantId))).length;
    const before = await count();
    const items: unknown[] = noopItems(10);
    items[5] = { sleepMs: -1 };
    const bad = await upload('noop', ndjson(items));
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { errors: { path: string }[] }).errors.map((e) => e.path)).toEqual(['items.5.sleepMs']);
    const badJson = await upload('webhook.deliver', JSON.stringify([{ url: 'http://127.0.0.1/x', payload: 1 }, { url: 'nope', payload: 1 }]), 'application/json');
    expect(((await badJson.json()) as { errors: { path: string }[] }).errors.map((e) => e.path)).toEqual(['items.1.url']);
    const brokenLine = await upload('noop', '{}\n{"tag":\n');
    expect(((await brokenLine.json()) as { errors: { path: string }[] }).errors.map((e) => e.path)).toEqual(['items.1']);
    expect((await upload('noop', 'tag=1', 'text/plain')).status).toBe(415);
    expect((await upload('nope', ndjson([{}]))).status).toBe(400);
    expect((await upload('noop', ndjson([{}]), 'application/x-ndjson', 'viewer')).status).toBe(403);
    // Over JOBPLANE_BATCH_INPUT_LIMIT_BYTES (200,000 in this stack), though far under no limit of the JSON API.
    const big = await upload('noop', ndjson(noopItems(20_000)));
    expect(big.status).toBe(413);
    expect(await count()).toBe(before);
    const orphanItems = await stack.db.select({ id: batchInputItems.inputId }).from(batchInputItems);
    const ids = new Set((await stack.db.select({ id: batchInputs.id }).from(batchInputs)).map((r) => r.id));
    expect(orphanItems.every((r) => ids.has(r.id))).toBe(true);
  });
});

describe('reset', () => {
  it('a batch reset to its first workflow task finds the children it started instead of starting them again', async () => {
    const { id, workflowId } = await createBatch(stack, { jobType: 'noop', items: noopItems(5).map((it, i) => (i === 2 ? { ...it, fail: true } : it)) });
    const first = await waitForJob(stack, id);
    const reset = await stack.api(`/v1/jobs/${id}/reset`, { method: 'POST', role: 'operator', body: JSON.stringify({ to: 'first-workflow-task', reason: 'batch reset test' }) });
    expect(reset.status, await reset.clone().text()).toBe(202);
    const { runId } = (await reset.json()) as { runId: string };
    const result = await stack.client.workflow.getHandle(workflowId, runId).result();
    expect(result).toEqual(first.result);
    // Each item still ran exactly once.
    for (let i = 0; i < 5; i++) expect((await stack.client.workflow.count(`WorkflowId = "${workflowId}/${i}"`)).count).toBe(1);
    const history = await stack.client.workflow.getHandle(workflowId, runId).fetchHistory();
    const waits = (history.events ?? []).filter((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'awaitBatchItem');
    expect(waits).toHaveLength(5);
    await recordHistory(stack.temporal.address, workflowId, 'batch-run', 'reset-found-children');
  });
});
