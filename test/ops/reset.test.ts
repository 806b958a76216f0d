/**
 * A bad deploy, found and repaired the way on-call would, on a real dev server
 * and real Postgres. A buggy `webhookDeliverWorkflow` delivers (the real
 * activity) and then throws a plain Error, so its workflow task fails forever.
 * `GET /v1/ops/stuck` lists those jobs as `workflow-task-failing` with the
 * decoded failure and the commands that fix them. Then the buggy worker stops
 * and the runs are reset — with the real temporal CLI exactly as the API
 * printed it, with `POST /v1/jobs/{id}/reset`, with `POST /v1/ops/reset-batch`
 * (and with tctl when one is installed) — and the fixed workers finish every
 * job. Each job's webhook arrives exactly once and has one `succeeded` row.
 *
 * The resets happen before the fixed workers start: once a correct worker
 * polls, the old runs would heal by themselves on their next workflow-task
 * retry (this bug recorded nothing incompatible), and the test could not tell
 * a reset from that. Each original run must end TERMINATED by its reset.
 */
// Before anything that loads test/helpers/stack.ts: the failures here are deliberate.
import '../fixtures/quiet-runtime.ts';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { and, eq, inArray } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, inject, it, vi } from 'vitest';
import { createApiKey, createTenant } from '../../api/tenants/service.ts';
import { auditEvents, webhookAttempts } from '../../db/schema/index.ts';
import { ensureTool } from '../../scripts/lib/cli-tools.ts';
import { deliberateBugMessage } from '../fixtures/buggy-workflows.ts';
import { startBuggyWorker, type BuggyWorker } from '../fixtures/buggy-worker.ts';
import { shellSplit } from '../fixtures/shell.ts';
import { startReceiver, type Receiver } from '../helpers/receiver.ts';
import { startTestStack, waitForJob, type TestStack } from '../helpers/stack.ts';
import type { JobDiagnosis, StuckList } from '../../client/jobplane-client.ts';
import { createJob } from '../helpers/http.ts';

const run = promisify(execFile);

/** tctl is optional on this machine (the Go proxy refuses it): the tctl test runs only when one is found. */
const tctl = await ensureTool('tctl', { quiet: true }).then(
  (path) => ({ path, reason: '' }),
  (err: Error) => ({ path: undefined, reason: err.message.split('\n')[0]! }),
);

let stack: TestStack;
let receiver: Receiver;
let buggy: BuggyWorker;
/** A second tenant whose jobs the batch reset targets; tenant A's stuck jobs must stay untouched by it. */
const tenantB = { id: '', operator: '', submitter: '' };
const jobs = { cli: '', api: '', tctl: '', batch: [] as string[] };
const firstRuns = new Map<string, string>();
let stuckA: JobDiagnosis[] = [];
let buggyBuildId = '';

type Json = Record<string, unknown>;

function asB(init: RequestInit & { as: 'operator' | 'submitter' }): RequestInit & { role: null } {
  const { as, ...rest } = init;
  return { ...rest, role: null, headers: { authorization: `Bearer ${tenantB[as]}`, 'content-type': 'application/json' } };
}

async function submit(n: string, tenant: 'A' | 'B' = 'A'): Promise<string> {
  const body = { type: 'webhook.deliver', input: { url: receiver.url, payload: { n } } };
  const job = await createJob(stack, body, tenant === 'A' ? {} : { key: tenantB.submitter });
  firstRuns.set(job.id, job.runId);
  return job.id;
}

async function stuck(tenant: 'A' | 'B'): Promise<StuckList> {
  const res =
    tenant === 'A' ? await stack.api('/v1/ops/stuck?minAttempts=3', { role: 'operator' }) : await stack.api('/v1/ops/stuck?minAttempts=3', asB({ as: 'operator' }));
  expect(res.status).toBe(200);
  return (await res.json()) as StuckList;
}

/** Polls until every id is listed as stuck with a failing workflow task. */
async function waitUntilStuck(tenant: 'A' | 'B', ids: string[]): Promise<JobDiagnosis[]> {
  return await vi.waitFor(
    async () => {
      const last = await stuck(tenant);
      // Attempt 2 is the first retry of the failed task (the first failure alone is already listed).
      const hits = last.items.filter((d) => d.jobId && ids.includes(d.jobId) && d.reason === 'workflow-task-failing' && d.attempts >= 2);
      if (hits.length !== ids.length) throw new Error(`not all stuck: ${JSON.stringify(last)}`);
      return hits;
    },
    { timeout: 30_000, interval: 300 },
  );
}

async function currentRunId(jobId: string, tenant: 'A' | 'B' = 'A'): Promise<string> {
  const workflowId = `${tenant === 'A' ? stack.tenantId : tenantB.id}:${jobId}`;
  return (await stack.client.workflow.getHandle(workflowId).describe()).runId;
}

const allJobs = () => [jobs.cli, jobs.api, ...(jobs.tctl ? [jobs.tctl] : []), ...jobs.batch];

beforeAll(async () => {
  stack = await startTestStack('ops-reset');
  receiver = await startReceiver(() => ({ status: 200 }));
  const t = await createTenant(stack.db, 'ops-reset tenant B');
  tenantB.id = t.id;
  tenantB.operator = (await createApiKey(stack.db, t.id, { name: 'b operator', role: 'operator' })).key;
  tenantB.submitter = (await createApiKey(stack.db, t.id, { name: 'b submitter', role: 'submitter' })).key;
  buggy = await startBuggyWorker(stack);
});
afterAll(async () => {
  await buggy?.stop();
  await receiver?.close();
  await stack?.close();
});

describe('a bad deploy, found and reset', () => {
  it('jobs deliver once, then fail their workflow task forever; /v1/ops/stuck lists them per tenant with the fix', async () => {
    jobs.cli = await submit('cli');
    jobs.api = await submit('api');
    if (tctl.path) jobs.tctl = await submit('tctl');
    jobs.batch = [await submit('b1', 'B'), await submit('b2', 'B'), await submit('b3', 'B')];
    await receiver.waitForRequests(allJobs().length);

    stuckA = await waitUntilStuck('A', [jobs.cli, jobs.api, ...(jobs.tctl ? [jobs.tctl] : [])]);
    const stuckB = await waitUntilStuck('B', jobs.batch);
    for (const d of [...stuckA, ...stuckB]) {
      expect(d.type).toBe('webhook.deliver');
      expect(d.status).toBe('running');
      expect(d.attempts).toBeGreaterThanOrEqual(2);
      // Decrypted with the codec: the server only stores "Encoded failure".
      expect(d.lastFailure).toEqual({ type: 'WorkflowWorkerUnhandledFailure', message: deliberateBugMessage });
      expect(d.workflowTask?.lastFailure?.message).toBe(deliberateBugMessage);
      expect(d.pendingActivities).toEqual([]);
      expect(d.links.ui).toContain(encodeURIComponent(d.workflowId));
      expect(d.commands.describe).toBe(`temporal workflow describe -w '${d.workflowId}' --address ${stack.temporal.address} --namespace default`);
      expect(d.commands.reset).toContain(`temporal workflow reset -w '${d.workflowId}' --type LastWorkflowTask --reason '`);
      expect(d.commands.tctlReset).toContain(`tctl --address ${stack.temporal.address} --ns default workflow reset --workflow_id '${d.workflowId}' --reset_type LastWorkflowTask`);
      expect(d.commands.opsReset).toMatch(new RegExp(`^npm run ops -- reset ${d.jobId} --to last --reason '`));
      expect(d.buildIds).toHaveLength(1);
    }
    buggyBuildId = stuckB[0]!.buildIds[0]!;
    expect(buggyBuildId).toMatch(/^@temporalio\/worker@/);
    // Each tenant sees only its own jobs.
    expect((await stuck('A')).items.map((d) => d.jobId)).not.toContain(jobs.batch[0]);
    expect((await stuck('B')).items.map((d) => d.jobId)).not.toContain(jobs.cli);
    // Delivered once each, before the bug struck.
    expect(receiver.requests).toHaveLength(allJobs().length);

    await buggy.stop();
  });

  it('POST /v1/ops/reset-batch resets only the caller tenant’s runs of that type and build', async () => {
    // A build id no run has: the batch finds nothing.
    const none = await stack.api('/v1/ops/reset-batch', asB({ method: 'POST', as: 'operator', body: JSON.stringify({ jobType: 'webhook.deliver', buildId: 'no-such-build', reason: 'nothing matches' }) }));
    const noneStarted = (await none.json()) as Json;
    expect(none.status, JSON.stringify(noneStarted)).toBe(202);
    const noneBatch = await waitForBatch(noneStarted.batchJobId as string);
    expect(noneBatch).toMatchObject({ state: 'completed', totalOperations: 0 });

    const res = await stack.api(
      '/v1/ops/reset-batch',
      asB({ method: 'POST', as: 'operator', body: JSON.stringify({ jobType: 'webhook.deliver', buildId: buggyBuildId, to: 'last-workflow-task', reason: 'bad deploy rolled back' }) }),
    );
    const started = (await res.json()) as Json;
    expect(res.status, JSON.stringify(started)).toBe(202);
    expect(started.batchJobId).toMatch(new RegExp(`^${tenantB.id}:batch_`));
    expect(started.visibilityQuery).toMatch(new RegExp(`^TenantId = "${tenantB.id}" AND ExecutionStatus = "Running" AND JobType = "webhook.deliver" AND BuildIds IN`));
    expect(started.approximateCount).toBe(3);
    expect(res.headers.get('location')).toBe(started.links && (started.links as Json).self);

    const done = await waitForBatch(started.batchJobId as string);
    expect(done).toMatchObject({ state: 'completed', totalOperations: 3, completedOperations: 3, failedOperations: 0 });
    for (const id of jobs.batch) expect(await currentRunId(id, 'B')).not.toBe(firstRuns.get(id));
    // Tenant A's stuck jobs were not part of it, and A cannot read B's batch.
    for (const id of [jobs.cli, jobs.api]) expect(await currentRunId(id)).toBe(firstRuns.get(id));
    const foreign = await stack.api(`/v1/ops/batches/${encodeURIComponent(started.batchJobId as string)}`, { role: 'operator' });
    expect(foreign.status).toBe(404);

    const [row] = await stack.db.select().from(auditEvents).where(and(eq(auditEvents.action, 'ops.reset-batch'), eq(auditEvents.target, started.batchJobId as string)));
    expect(row).toMatchObject({ tenantId: tenantB.id, outcome: 'succeeded', detail: expect.objectContaining({ jobType: 'webhook.deliver', buildId: buggyBuildId, approximateCount: 3 }) });
  });

  it('(a) the temporal CLI reset, run exactly as /v1/ops/stuck printed it', async () => {
    const item = stuckA.find((d) => d.jobId === jobs.cli)!;
    const [bin, ...args] = shellSplit(item.commands.reset);
    expect(bin).toBe('temporal');
    expect(args.slice(args.indexOf('--address'), args.indexOf('--address') + 2)).toEqual(['--address', stack.temporal.address]);
    const { stdout } = await run(inject('temporalCli'), args, { timeout: 30_000 });
    expect(stdout).toMatch(/Resetting workflow .* to event ID 4/);
    expect(await currentRunId(jobs.cli)).not.toBe(firstRuns.get(jobs.cli));
  });

  it('(b) POST /v1/jobs/{id}/reset goes to the last completed workflow task and answers the new run', async () => {
    const res = await stack.api(`/v1/jobs/${jobs.api}/reset`, { method: 'POST', role: 'operator', body: JSON.stringify({ to: 'last-workflow-task', reason: 'fixed the deploy' }) });
    expect(res.status).toBe(202);
    const body = (await res.json()) as Json;
    // 1 started, 2-3 task scheduled/started, 4 task completed (scheduled the delivery): the last task that worked.
    expect(body).toMatchObject({ jobId: jobs.api, previousRunId: firstRuns.get(jobs.api), resetEventId: 4 });
    expect(body.runId).not.toBe(firstRuns.get(jobs.api));
    expect(await currentRunId(jobs.api)).toBe(body.runId);
    const [row] = await stack.db.select().from(auditEvents).where(and(eq(auditEvents.action, 'job.reset'), eq(auditEvents.target, jobs.api)));
    expect(row).toMatchObject({ tenantId: stack.tenantId, outcome: 'succeeded', detail: expect.objectContaining({ reason: 'fixed the deploy', resetEventId: 4, runId: body.runId }) });
  });

  (tctl.path ? it : it.skip)(`tctl reset, run exactly as printed${tctl.path ? '' : ` — skipped: ${tctl.reason} (set TCTL_CLI to a tctl binary)`}`, async () => {
    const item = stuckA.find((d) => d.jobId === jobs.tctl)!;
    const [bin, ...args] = shellSplit(item.commands.tctlReset);
    expect(bin).toBe('tctl');
    await run(tctl.path!, args, { timeout: 30_000 });
    expect(await currentRunId(jobs.tctl)).not.toBe(firstRuns.get(jobs.tctl));
  });

  it('with the fixed workers every job succeeds, each webhook delivered exactly once', async () => {
    await stack.startWorkers();
    for (const id of jobs.batch) {
      const res = await stack.api(`/v1/jobs/${id}`, asB({ as: 'operator' }));
      expect(res.status).toBe(200);
    }
    await Promise.all([
      ...[jobs.cli, jobs.api, ...(jobs.tctl ? [jobs.tctl] : [])].map(async (id) => expect((await waitForJob(stack, id)).status).toBe('succeeded')),
      ...jobs.batch.map((id) => waitForJobB(id)),
    ]);

    for (const id of allJobs()) {
      // The reset ended the broken run; the job finished in the run the reset started.
      const tenant = jobs.batch.includes(id) ? tenantB.id : stack.tenantId;
      const original = await stack.client.workflow.getHandle(`${tenant}:${id}`, firstRuns.get(id)).describe();
      expect(original.status.name).toBe('TERMINATED');
      expect(receiver.requests.filter((r) => r.headers['jobplane-job-id'] === id)).toHaveLength(1);
    }
    expect(receiver.requests).toHaveLength(allJobs().length);
    const succeeded = await stack.db
      .select({ jobId: webhookAttempts.jobId })
      .from(webhookAttempts)
      .where(and(inArray(webhookAttempts.jobId, allJobs()), eq(webhookAttempts.status, 'succeeded')));
    expect(succeeded.map((r) => r.jobId).sort()).toEqual([...allJobs()].sort());
    expect((await stuck('A')).items).toEqual([]);
  });
});

async function waitForBatch(batchJobId: string): Promise<Json> {
  let status = 200;
  const batch = await vi.waitFor(
    async () => {
      const res = await stack.api(`/v1/ops/batches/${encodeURIComponent(batchJobId)}`, asB({ as: 'operator' }));
      status = res.status;
      if (status !== 200) return undefined;
      const batch = (await res.json()) as Json;
      if (batch.state === 'running') throw new Error(`batch still running: ${JSON.stringify(batch)}`);
      return batch;
    },
    { timeout: 60_000, interval: 300 },
  );
  expect(status).toBe(200);
  return batch!;
}

async function waitForJobB(jobId: string): Promise<void> {
  await vi.waitFor(
    async () => {
      const last = (await (await stack.api(`/v1/jobs/${jobId}`, asB({ as: 'operator' }))).json()) as Json;
      if (last.status !== 'succeeded') throw new Error(`job ${jobId} did not succeed: ${JSON.stringify(last)}`);
    },
    { timeout: 45_000, interval: 200 },
  );
}
