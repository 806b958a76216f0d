/**
 * Dead letters and bulk retry against real Temporal and Postgres: jobs that
 * fail are projected into `job_failures` by the real job-end watcher, grouped
 * by job type and error type at `GET /v1/jobs/failures`, and retried in bulk
 * by `POST /v1/jobs/retry` (dry run, cap, filters, one audit record per call
 * and per job, new jobs linked by `retryOf`, the same call again retries
 * nothing twice). Terminated jobs are not dead letters; roles and tenants hold.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { and, eq, inArray, isNotNull } from 'drizzle-orm';
import { JobplaneClient } from '../../client/jobplane-client.ts';
import { auditEvents, jobFailures, jobs, tenants } from '../../db/schema/index.ts';
import { fastWatcherEnv, startTestWatcher, watcherCaughtUp as caughtUp } from '../helpers/job-events.ts';
import { createOtherTenant, expectProblem, type OtherTenant } from '../helpers/http.ts';
import { startReceiver, type Receiver } from '../helpers/receiver.ts';
import { startTestStack, waitForJob, type TestStack } from '../helpers/stack.ts';

let stack: TestStack;
let watcher: { stop(): Promise<void> };
let other: OtherTenant;
let refusing: Receiver;

beforeAll(async () => {
  stack = await startTestStack('failures', { env: fastWatcherEnv });
  await stack.startWorkers();
  watcher = await startTestWatcher(stack, 'failures-test');
  other = await createOtherTenant(stack, { role: 'admin' });
  refusing = await startReceiver(() => ({ status: 400 }));
});
afterAll(async () => {
  await watcher?.stop();
  await refusing?.close();
  await stack?.close();
});

async function create(body: Record<string, unknown>): Promise<string> {
  const res = await stack.api('/v1/jobs', { method: 'POST', role: 'submitter', body: JSON.stringify(body) });
  expect(res.status, await res.clone().text()).toBe(201);
  return ((await res.json()) as { id: string }).id;
}

const watcherCaughtUp = () => caughtUp(stack);

interface FailureList {
  total: number;
  groups: { jobType: string; errorType: string; count: number; sample: { jobId: string; message: string } }[];
  items: { jobId: string; errorType: string; message: string }[];
}
interface BulkResult {
  matched: number;
  retried: number;
  alreadyRetried: number;
  refused: number;
  results: { jobId: string; outcome: string; retryJobId?: string }[];
}

const failures = async (query = '', role: 'viewer' | 'operator' = 'viewer') => {
  const res = await stack.api(`/v1/jobs/failures${query}`, { role });
  expect(res.status, await res.clone().text()).toBe(200);
  return (await res.json()) as FailureList;
};
const bulk = (body: unknown, key?: string, role: 'operator' | 'submitter' = 'operator') =>
  stack.api('/v1/jobs/retry', { method: 'POST', role, body: JSON.stringify(body), ...(key ? { headers: { 'idempotency-key': key } } : {}) });

const teamA: string[] = [];
const teamB: string[] = [];
let terminated = '';

describe('dead letters and bulk retry', () => {
  it('failed jobs are grouped by job type and error type; succeeded and terminated ones are not there', async () => {
    for (let i = 0; i < 3; i++) teamA.push(await create({ type: 'noop', input: { fail: true, tag: `a${i}` }, labels: ['team=a'] }));
    for (let i = 0; i < 2; i++) teamB.push(await create({ type: 'noop', input: { fail: true, tag: `b${i}` }, labels: ['team=b'] }));
    const rejected = await create({ type: 'webhook.deliver', input: { url: refusing.url, payload: { n: 1 }, eventType: 'order.paid' }, labels: ['team=c'] });
    const fine = await create({ type: 'noop', input: { tag: 'fine' }, labels: ['team=a'] });
    terminated = await create({ type: 'noop', input: { sleepMs: 60_000, tag: 'to-terminate' }, labels: ['team=a'] });
    const stop = await stack.api(`/v1/jobs/${terminated}/terminate`, { method: 'POST', role: 'operator', body: JSON.stringify({ reason: 'not a failure' }) });
    expect(stop.status).toBe(202);
    for (const id of [...teamA, ...teamB, rejected]) await waitForJob(stack, id, ['failed']);
    await waitForJob(stack, fine, ['succeeded']);
    await watcherCaughtUp();

    const all = await failures();
    expect(all.total).toBe(6);
    // The activity's failure type, unwrapped as GET /v1/jobs/{id} shows it: not the workflow's ActivityFailure.
    expect(all.groups).toEqual([
      expect.objectContaining({ jobType: 'noop', errorType: 'NoopFailed', count: 5 }),
      expect.objectContaining({ jobType: 'webhook.deliver', errorType: 'WebhookRejected', count: 1, sample: expect.objectContaining({ jobId: rejected }) }),
    ]);
    // The sample is the group's newest failure (jobs failing within the same millisecond may close in either order).
    const newestNoop = all.items.find((i) => i.errorType === 'NoopFailed')!;
    expect(all.groups[0]!.sample).toEqual({ jobId: newestNoop.jobId, message: newestNoop.message });
    expect(newestNoop.message).toMatch(/^noop [ab]\d failed as asked$/);
    expect(all.items.map((i) => i.jobId).sort()).toEqual([...teamA, ...teamB, rejected].sort());
    expect((await failures('?label=team%3Db')).total).toBe(2);
    expect((await failures('?errorType=Other')).total).toBe(0);
    const rows = await stack.db.select().from(jobFailures).where(inArray(jobFailures.jobId, [fine, terminated]));
    expect(rows).toEqual([]);
    // Another tenant sees none of them.
    const theirs = (await (await other.asOther('/v1/jobs/failures')).json()) as FailureList;
    expect(theirs.total).toBe(0);
  });

  it('a dry run counts and lists, and changes nothing (through the typed client)', async () => {
    const client = new JobplaneClient({ baseUrl: stack.apiUrl, apiKey: stack.keys.operator });
    expect((await client.jobFailures({ type: 'noop' })).total).toBe(5);
    const body = await client.retryFailedJobs({ filter: { label: 'team=a' }, dryRun: true });
    expect(body).toMatchObject({ matched: 3, retried: 0 });
    expect(body.results.map((r) => r.outcome)).toEqual(['would-retry', 'would-retry', 'would-retry']);
    expect(await stack.db.select().from(jobs).where(isNotNull(jobs.retryOf))).toEqual([]);
    expect(await stack.db.select().from(auditEvents).where(eq(auditEvents.action, 'job.retry-bulk'))).toEqual([]);
  });

  it('retries up to the limit as new jobs linked by retryOf, audited per call and per job; the same call again retries nothing twice', async () => {
    const res = await bulk({ filter: { label: 'team=a' }, limit: 2 }, 'bulk-a-1');
    expect(res.status, await res.clone().text()).toBe(200);
    const first = (await res.json()) as BulkResult;
    expect(first).toMatchObject({ matched: 3, retried: 2, alreadyRetried: 0, refused: 0 });
    const retriedIds = first.results.map((r) => r.jobId);
    expect(teamA).toEqual(expect.arrayContaining(retriedIds));
    const retryRows = await stack.db.select().from(jobs).where(isNotNull(jobs.retryOf));
    expect(retryRows.map((r) => r.retryOf).sort()).toEqual([...retriedIds].sort());
    expect(retryRows.map((r) => r.id).sort()).toEqual(first.results.map((r) => r.retryJobId).sort());

    const again = (await (await bulk({ filter: { label: 'team=a' }, limit: 2 }, 'bulk-a-1')).json()) as BulkResult;
    expect(again).toMatchObject({ retried: 0, alreadyRetried: 2 });
    expect(again.results.map((r) => r.retryJobId).sort()).toEqual(first.results.map((r) => r.retryJobId).sort());
    expect(await stack.db.select().from(jobs).where(isNotNull(jobs.retryOf))).toHaveLength(2);

    const calls = await stack.db.select().from(auditEvents).where(and(eq(auditEvents.tenantId, stack.tenantId), eq(auditEvents.action, 'job.retry-bulk')));
    expect(calls).toHaveLength(2);
    expect(calls.map((c) => c.outcome)).toEqual(['succeeded', 'succeeded']);
    const perJob = await stack.db.select().from(auditEvents).where(and(eq(auditEvents.tenantId, stack.tenantId), eq(auditEvents.action, 'job.retry')));
    expect(perJob.map((a) => a.target).sort()).toEqual(first.results.map((r) => r.retryJobId).sort());

    // Retried failures are handled: the view no longer counts them (the retries may fail again on their own).
    const left = await failures('?label=team%3Da');
    expect(left.items.map((i) => i.jobId)).not.toEqual(expect.arrayContaining(retriedIds));
    // Another call (another key) takes the one left, not the retried ones.
    const rest = (await (await bulk({ filter: { label: 'team=a', type: 'noop', errorType: 'NoopFailed' } }, 'bulk-a-2')).json()) as BulkResult;
    const remaining = teamA.filter((id) => !retriedIds.includes(id));
    expect(rest.results.filter((r) => teamA.includes(r.jobId)).map((r) => r.jobId)).toEqual(remaining);
  });

  it('needs the operator role to retry; bad filters are 400 naming the field', async () => {
    await expectProblem(await bulk({ filter: {} }, undefined, 'submitter'), 403, 'forbidden');
    const tooMany = await expectProblem(await bulk({ filter: {}, limit: 101 }), 400, 'validation-error');
    expect(tooMany.errors!.map((e) => e.path)).toContain('limit');
    const unknown = await expectProblem(await bulk({ filter: { status: 'failed' } }), 400, 'validation-error');
    expect(unknown.errors!.map((e) => e.path).join(' ')).toContain('filter');
    const backwards = await expectProblem(await bulk({ filter: { failedAfter: '2026-12-02T00:00:00Z', failedBefore: '2026-12-01T00:00:00Z' } }), 400, 'validation-error');
    expect(backwards.errors!.map((e) => e.path)).toEqual(['failedBefore']);
    await expectProblem(await stack.api('/v1/jobs/failures?failedAfter=yesterday', { role: 'viewer' }), 400, 'validation-error');
  });

  it("a call the tenant's create rate cuts short (429 midway) says so, and the same call again continues where it stopped", async () => {
    const teamR: string[] = [];
    for (let i = 0; i < 4; i++) teamR.push(await create({ type: 'noop', input: { fail: true, tag: `r${i}` }, labels: ['team=r'] }));
    for (const id of teamR) await waitForJob(stack, id, ['failed']);
    await watcherCaughtUp();
    // Two creates' worth of tokens, refilled at one per 4 s (slow enough that a loaded machine's two retries cannot
    // outlast a refill): the third retry of a call is refused.
    const [quota] = await stack.db.select({ createRatePerSecond: tenants.createRatePerSecond, createBurst: tenants.createBurst }).from(tenants).where(eq(tenants.id, stack.tenantId));
    await stack.db.update(tenants).set({ createRatePerSecond: 0.25, createBurst: 2 }).where(eq(tenants.id, stack.tenantId));
    try {
      await new Promise((r) => setTimeout(r, 8100)); // the bucket full again, at the new burst
      // The retries fail too (same input) and carry the label: the filter's time range keeps them out.
      const filter = { label: 'team=r', failedBefore: new Date().toISOString() };
      const first = (await (await bulk({ filter }, 'bulk-r')).json()) as BulkResult & { stoppedBy: string | null };
      expect(first).toMatchObject({ matched: 4, retried: 2, refused: 1, stoppedBy: 'rate-limited' });
      expect(first.results.map((r) => r.outcome)).toEqual(['retried', 'retried', 'refused']);
      await new Promise((r) => setTimeout(r, 8100));
      const second = (await (await bulk({ filter }, 'bulk-r')).json()) as BulkResult & { stoppedBy: string | null };
      expect(second).toMatchObject({ alreadyRetried: 2, retried: 2, refused: 0, stoppedBy: null });
      // Each failed job retried exactly once over both calls, each retry audited once.
      const retries = await stack.db.select().from(jobs).where(inArray(jobs.retryOf, teamR));
      expect(retries.map((r) => r.retryOf).sort()).toEqual([...teamR].sort());
      const perJob = await stack.db.select().from(auditEvents).where(and(eq(auditEvents.action, 'job.retry'), inArray(auditEvents.target, retries.map((r) => r.id))));
      expect(perJob).toHaveLength(4);
    } finally {
      await stack.db.update(tenants).set(quota!).where(eq(tenants.id, stack.tenantId));
    }
  });
});
