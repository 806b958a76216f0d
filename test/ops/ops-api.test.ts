/**
 * The operations API on a real stack: a poison job (its receiver always
 * answers 503) is listed as `activity-retrying` with the decrypted failure,
 * a job waiting for a person as `overdue`; terminate, retry (same input read
 * back from Temporal, `retryOf` set) and reset with their errors; every new
 * route refuses viewer/submitter keys and answers another tenant with 404
 * while changing nothing; every change is in the audit log; the ops CLI
 * prints, exits 0, and exits non-zero with the problem detail.
 */
// Before anything that loads test/helpers/stack.ts: the failures here are deliberate.
import '../fixtures/quiet-runtime.ts';
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { and, eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { parseApiKey } from '../../api/http/api-keys.ts';
import { startInputOf } from '../../api/ops/history.ts';
import { auditEvents, jobs } from '../../db/schema/index.ts';
import { createJob, createOtherTenant, expectProblem, problemType, type Caller, type OtherTenant } from '../helpers/http.ts';
import { startReceiver, type Receiver } from '../helpers/receiver.ts';
import { repoRoot, startTestStack, waitForJob, type TestStack } from '../helpers/stack.ts';
import type { JobDiagnosis, StuckList } from '../../client/jobplane-client.ts';

type Json = Record<string, unknown>;
type Role = 'admin' | 'operator' | 'submitter' | 'viewer';

let stack: TestStack;
let receiver: Receiver;
/** While true the receiver refuses the poison payload with 503. */
let poisonFails = true;
let other: OtherTenant;
const ids = { poison: '', approval: '', done: '' };
const poisonInput = () => ({ url: receiver.url, payload: { kind: 'poison', order: 42 } });

async function create(input: Json, type = 'webhook.deliver'): Promise<string> {
  return (await createJob(stack, { type, input })).id;
}

const asOther: Caller = (pathname, init) => other.asOther(pathname, init);

async function stuck(query: string): Promise<StuckList> {
  const res = await stack.api(`/v1/ops/stuck?${query}`, { role: 'operator' });
  expect(res.status).toBe(200);
  return (await res.json()) as StuckList;
}

async function until<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 20_000): Promise<T> {
  return await vi.waitFor(
    async () => {
      const value = await fn();
      if (value === undefined) throw new Error(`timed out waiting for ${what}`);
      return value;
    },
    { timeout: timeoutMs, interval: 250 },
  );
}

async function waitForBatch(batchJobId: string): Promise<Json> {
  return await until('the batch', async () => {
    const b = (await (await stack.api(`/v1/ops/batches/${encodeURIComponent(batchJobId)}`, { role: 'operator' })).json()) as Json;
    return b.state === 'running' ? undefined : b;
  });
}

beforeAll(async () => {
  stack = await startTestStack('ops-api');
  receiver = await startReceiver((_n, req) => (poisonFails && req.body.includes('"poison"') ? { status: 503 } : { status: 200 }));
  other = await createOtherTenant(stack, { role: 'operator', name: 'ops-api other tenant' });
  await stack.startWorkers();
  ids.done = await create({ url: receiver.url, payload: { kind: 'fine' } });
  ids.poison = await create(poisonInput());
  ids.approval = await create({ subject: 'ops probe' }, 'approval.request');
  await waitForJob(stack, ids.done);
});
afterAll(async () => {
  await receiver?.close();
  await stack?.close();
});

describe('finding stuck jobs', () => {
  it('a poison job is activity-retrying with the decrypted receiver error; a job waiting too long is overdue', async () => {
    const poison = await until('the poison job to be listed', async () =>
      (await stuck('minAttempts=2')).items.find((d) => d.jobId === ids.poison && d.reason === 'activity-retrying'),
    );
    expect(poison.attempts).toBeGreaterThanOrEqual(2);
    expect(poison.lastFailure).toEqual({ type: 'WebhookUnavailable', message: 'receiver answered 503' });
    expect(poison.pendingActivities[0]).toMatchObject({ activityType: 'deliverWebhook', maximumAttempts: 12, lastFailure: poison.lastFailure });
    expect(poison.workflowTask).toBeNull();
    expect(poison.advice).toMatch(/^A dependency keeps failing/);

    // Default thresholds (3 attempts, 1 h): nothing is overdue yet.
    expect((await stuck('')).items.map((d) => d.jobId)).not.toContain(ids.approval);
    await new Promise((r) => setTimeout(r, 1100));
    const overdue = await stuck('olderThan=1s');
    const approval = overdue.items.find((d) => d.jobId === ids.approval);
    expect(approval).toMatchObject({ type: 'approval.request', reason: 'overdue', reasons: ['overdue'], lastFailure: null });
    expect(approval!.runningSeconds).toBeGreaterThanOrEqual(1);
    // Most severe first: the retrying activity before the merely slow job.
    expect(overdue.items.findIndex((d) => d.jobId === ids.poison)).toBeLessThan(overdue.items.findIndex((d) => d.jobId === ids.approval));
    expect(overdue.items.find((d) => d.jobId === ids.poison)!.reasons).toEqual(['activity-retrying', 'overdue']);

    const onlyApprovals = await stuck('olderThan=1s&type=approval.request');
    expect(onlyApprovals.items.map((d) => d.jobId)).toEqual([ids.approval]);
    expect((await stuck('olderThan=1s&limit=1')).truncated).toBe(true);
    await expectProblem(await stack.api('/v1/ops/stuck?type=nope', { role: 'operator' }), 400, 'validation-error');
    const bad = await expectProblem(await stack.api('/v1/ops/stuck?olderThan=soon', { role: 'operator' }), 400, 'validation-error');
    expect(bad.errors).toEqual([expect.objectContaining({ path: 'query.olderThan' })]);
  });

  it('GET /v1/jobs/{id}/diagnosis explains one job, stuck or not', async () => {
    const res = await stack.api(`/v1/jobs/${ids.poison}/diagnosis?minAttempts=2`, { role: 'operator' });
    expect(res.status).toBe(200);
    const d = (await res.json()) as JobDiagnosis;
    expect(d).toMatchObject({ jobId: ids.poison, reason: 'activity-retrying', status: 'running' });
    expect(d.pendingActivities[0]!.nextAttemptAt === null || typeof d.pendingActivities[0]!.nextAttemptAt === 'string').toBe(true);
    const fine = (await (await stack.api(`/v1/jobs/${ids.done}/diagnosis`, { role: 'operator' })).json()) as JobDiagnosis;
    expect(fine).toMatchObject({ jobId: ids.done, status: 'succeeded', reason: null, reasons: [], pendingActivities: [], workflowTask: null });
  });
});

describe('terminate, retry, reset', () => {
  it('terminate: 202 terminated and audited; a second terminate is 409', async () => {
    const res = await stack.api(`/v1/jobs/${ids.poison}/terminate`, { method: 'POST', role: 'operator', body: JSON.stringify({ reason: 'poison payload' }) });
    expect(res.status).toBe(202);
    expect(await res.json()).toMatchObject({ id: ids.poison, status: 'terminated', error: { type: 'Terminated' } });
    expect((await waitForJob(stack, ids.poison)).status).toBe('terminated');
    await expectProblem(
      await stack.api(`/v1/jobs/${ids.poison}/terminate`, { method: 'POST', role: 'operator', body: JSON.stringify({ reason: 'again' }) }),
      409,
      'job-already-finished',
    );
    const operatorKeyId = parseApiKey(stack.keys.operator)!.id;
    const [row] = await stack.db.select().from(auditEvents).where(and(eq(auditEvents.action, 'job.terminate'), eq(auditEvents.target, ids.poison)));
    expect(row).toMatchObject({ tenantId: stack.tenantId, actorKeyId: operatorKeyId, outcome: 'succeeded', detail: { reason: 'poison payload' } });
  });

  it('retry: a new job with the same type and input, linked by retryOf, that succeeds; 409 while the original runs', async () => {
    await expectProblem(await stack.api(`/v1/jobs/${ids.approval}/retry`, { method: 'POST', role: 'operator' }), 409, 'job-still-running');

    poisonFails = false; // the receiver was fixed
    const res = await stack.api(`/v1/jobs/${ids.poison}/retry`, { method: 'POST', role: 'operator' });
    expect(res.status).toBe(201);
    const job = (await res.json()) as { id: string; workflowId: string; runId: string; retryOf: string; type: string };
    expect(job).toMatchObject({ type: 'webhook.deliver', retryOf: ids.poison });
    expect(job.id).not.toBe(ids.poison);
    expect(res.headers.get('location')).toBe(`${stack.apiUrl}/v1/jobs/${job.id}`);
    expect((await waitForJob(stack, job.id)).status).toBe('succeeded');

    // The same input, read back from the new run's start event.
    const envelope = (await startInputOf(stack.client, job.workflowId, job.runId)) as { jobId: string; input: unknown };
    expect(envelope).toMatchObject({ jobId: job.id, input: poisonInput() });
    const delivered = receiver.requests.filter((r) => r.headers['jobplane-job-id'] === job.id);
    expect(delivered.map((r) => JSON.parse(r.body))).toEqual([poisonInput().payload]);

    const [row] = await stack.db.select().from(jobs).where(eq(jobs.id, job.id));
    expect(row).toMatchObject({ retryOf: ids.poison, type: 'webhook.deliver', tenantId: stack.tenantId });
    const [audit] = await stack.db.select().from(auditEvents).where(and(eq(auditEvents.action, 'job.retry'), eq(auditEvents.target, job.id)));
    expect(audit).toMatchObject({ outcome: 'succeeded', detail: expect.objectContaining({ retryOf: ids.poison }) });

    // An Idempotency-Key makes the retry itself safe to repeat.
    const first = await stack.api(`/v1/jobs/${ids.poison}/retry`, { method: 'POST', role: 'operator', headers: { 'idempotency-key': 'retry-once' } });
    const again = await stack.api(`/v1/jobs/${ids.poison}/retry`, { method: 'POST', role: 'operator', headers: { 'idempotency-key': 'retry-once' } });
    expect([first.status, again.status]).toEqual([201, 200]);
    expect(((await again.json()) as Json).id).toBe(((await first.json()) as Json).id);
  });

  it('reset: event ids must be workflow task events; a finished job can be reset and its delivery is not repeated', async () => {
    const bad = await expectProblem(
      await stack.api(`/v1/jobs/${ids.done}/reset`, { method: 'POST', role: 'operator', body: JSON.stringify({ to: { eventId: 2 }, reason: 'x' }) }),
      400,
      'validation-error',
    );
    expect(bad.errors).toEqual([expect.objectContaining({ path: 'to.eventId' })]);
    const noReason = await expectProblem(await stack.api(`/v1/jobs/${ids.done}/reset`, { method: 'POST', role: 'operator', body: '{}' }), 400, 'validation-error');
    expect(noReason.errors).toEqual([expect.objectContaining({ path: 'reason' })]);

    const before = receiver.requests.filter((r) => r.headers['jobplane-job-id'] === ids.done).length;
    const res = await stack.api(`/v1/jobs/${ids.done}/reset`, { method: 'POST', role: 'operator', body: JSON.stringify({ to: 'first-workflow-task', reason: 're-run' }) });
    expect(res.status).toBe(202);
    const reset = (await res.json()) as { runId: string; resetEventId: number };
    expect(reset.resetEventId).toBe(4);
    const done = await waitForJob(stack, ids.done);
    expect(done).toMatchObject({ status: 'succeeded', runId: reset.runId, result: { statusCode: 200, attempts: 1 } });
    expect(receiver.requests.filter((r) => r.headers['jobplane-job-id'] === ids.done)).toHaveLength(before);
  });
});

describe('roles and tenants', () => {
  /** One allowed call per new route; each returns the status the role must not turn into 403. */
  const routes: { name: string; call: (role: Role) => Promise<Response>; expected: number }[] = [
    { name: 'GET /v1/ops/stuck', call: (role) => stack.api('/v1/ops/stuck', { role }), expected: 200 },
    { name: 'GET /v1/jobs/{id}/diagnosis', call: (role) => stack.api(`/v1/jobs/${ids.done}/diagnosis`, { role }), expected: 200 },
    {
      name: 'POST /v1/jobs/{id}/reset',
      call: (role) => stack.api(`/v1/jobs/${ids.done}/reset`, { method: 'POST', role, body: JSON.stringify({ reason: `role ${role}` }) }),
      expected: 202,
    },
    {
      name: 'POST /v1/jobs/{id}/terminate',
      call: (role) => stack.api(`/v1/jobs/${ids.poison}/terminate`, { method: 'POST', role, body: JSON.stringify({ reason: 'x' }) }),
      expected: 409, // allowed, but the job has finished
    },
    { name: 'POST /v1/jobs/{id}/retry', call: (role) => stack.api(`/v1/jobs/${ids.poison}/retry`, { method: 'POST', role }), expected: 201 },
    {
      name: 'POST /v1/ops/reset-batch',
      call: async (role) => {
        const res = await stack.api('/v1/ops/reset-batch', { method: 'POST', role, body: JSON.stringify({ buildId: 'no-such-build', reason: `role ${role}` }) });
        // One batch at a time per namespace: let it finish before the next role's.
        if (res.status === 202) await waitForBatch(((await res.clone().json()) as Json).batchJobId as string);
        return res;
      },
      expected: 202,
    },
  ];

  it('viewer and submitter keys get 403 (audited as denied); operator and admin keys are allowed', async () => {
    for (const route of routes) {
      for (const role of ['viewer', 'submitter'] as const) await expectProblem(await route.call(role), 403, 'forbidden');
      for (const role of ['operator', 'admin'] as const) expect((await route.call(role)).status, `${route.name} as ${role}`).toBe(route.expected);
    }
    const denied = await stack.db.select().from(auditEvents).where(and(eq(auditEvents.tenantId, stack.tenantId), eq(auditEvents.outcome, 'denied')));
    const actions = new Set(denied.map((d) => d.action));
    for (const a of ['POST /v1/jobs/:id/reset', 'POST /v1/jobs/:id/terminate', 'POST /v1/jobs/:id/retry', 'POST /v1/ops/reset-batch']) expect(actions).toContain(a);
    const batches = await stack.db.select().from(auditEvents).where(and(eq(auditEvents.tenantId, stack.tenantId), eq(auditEvents.action, 'ops.reset-batch')));
    expect(batches.map((b) => b.outcome)).toEqual(['succeeded', 'succeeded']);
    const resets = await stack.db.select().from(auditEvents).where(and(eq(auditEvents.action, 'job.reset'), eq(auditEvents.target, ids.done)));
    expect(resets.length).toBeGreaterThanOrEqual(3);
  });

  it('another tenant’s operator gets 404 on every job route and batch, and nothing changes', async () => {
    await waitForJob(stack, ids.done);
    const snapshot = async () =>
      Promise.all([ids.done, ids.poison, ids.approval].map(async (id) => {
        const d = await stack.client.workflow.getHandle(`${stack.tenantId}:${id}`).describe();
        return `${id} ${d.runId} ${d.status.name}`;
      }));
    const before = await snapshot();
    const auditBefore = (await stack.db.select().from(auditEvents).where(eq(auditEvents.tenantId, stack.tenantId))).length;

    for (const id of [ids.done, ids.poison, ids.approval]) {
      await expectProblem(await asOther(`/v1/jobs/${id}/diagnosis`), 404, 'not-found');
      await expectProblem(await asOther(`/v1/jobs/${id}/reset`, { method: 'POST', body: JSON.stringify({ reason: 'probe' }) }), 404, 'not-found');
      await expectProblem(await asOther(`/v1/jobs/${id}/terminate`, { method: 'POST', body: JSON.stringify({ reason: 'probe' }) }), 404, 'not-found');
      await expectProblem(await asOther(`/v1/jobs/${id}/retry`, { method: 'POST' }), 404, 'not-found');
    }
    const ours = (await stack.api('/v1/ops/reset-batch', { method: 'POST', role: 'operator', body: JSON.stringify({ buildId: 'no-such-build', reason: 'mine' }) })) as Response;
    const batchJobId = ((await ours.json()) as Json).batchJobId as string;
    await waitForBatch(batchJobId);
    await expectProblem(await asOther(`/v1/ops/batches/${encodeURIComponent(batchJobId)}`), 404, 'not-found');
    await expectProblem(await asOther(`/v1/ops/batches/${encodeURIComponent(`${other.tenantId}:batch_${'0'.repeat(26)}`)}`), 404, 'not-found');
    await expectProblem(await asOther('/v1/ops/batches/not-a-batch'), 404, 'not-found');
    const theirs = (await (await asOther('/v1/ops/stuck?olderThan=1s')).json()) as StuckList;
    expect(theirs.items).toEqual([]);

    expect(await snapshot()).toEqual(before);
    // Only our own batch was recorded for our tenant; the refusals were recorded for theirs.
    expect((await stack.db.select().from(auditEvents).where(eq(auditEvents.tenantId, stack.tenantId))).length).toBe(auditBefore + 1);
  });
});

describe('ops CLI', () => {
  const exec = promisify(execFile);
  async function ops(args: string[], env: Record<string, string> = {}) {
    return await exec(process.execPath, ['--import', 'tsx', path.join(repoRoot, 'scripts/ops.ts'), ...args], {
      cwd: repoRoot,
      env: { ...process.env, JOBPLANE_API_URL: stack.apiUrl, JOBPLANE_API_KEY: stack.keys.operator, ...env },
      timeout: 30_000,
    }).then(
      ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
      (err: { code: number; stdout: string; stderr: string }) => ({ code: err.code, stdout: err.stdout, stderr: err.stderr }),
    );
  }

  it('prints text or JSON, and exits 1 with the problem detail (2 on bad usage)', async () => {
    const keyDir = mkdtempSync(path.join(tmpdir(), 'ops-cli-'));
    writeFileSync(path.join(keyDir, 'viewer-key'), `${stack.keys.viewer}\n`);
    const [json, describeOut, finished, unknown, usage, viewer] = await Promise.all([
      ops(['stuck', '--older-than', '1s', '--json']),
      ops(['describe', ids.approval]),
      ops(['terminate', ids.poison, '--reason', 'again']),
      ops(['retry', `job_${'0'.repeat(26)}`]),
      ops(['reset', ids.approval]),
      ops(['stuck', '--key-file', path.join(keyDir, 'viewer-key')], { JOBPLANE_API_KEY: '' }),
    ]);
    expect(json.code, json.stderr).toBe(0);
    expect((JSON.parse(json.stdout) as StuckList).items.map((d) => d.jobId)).toContain(ids.approval);
    expect(describeOut.code, describeOut.stderr).toBe(0);
    expect(describeOut.stdout).toContain(`job        ${ids.approval} (approval.request)`);
    expect(describeOut.stdout).toMatch(/status {5}running/);
    expect(describeOut.stdout).toContain(`reset:     temporal workflow reset -w '${stack.tenantId}:${ids.approval}'`);
    expect(finished.code).toBe(1);
    expect(finished.stderr).toContain('error: 409 The job has already finished');
    expect(finished.stderr).toContain(`type: ${problemType('job-already-finished')}`);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('error: 404');
    expect(usage.code).toBe(2);
    expect(usage.stderr).toContain('reset needs --reason');
    expect(viewer.code).toBe(1);
    expect(viewer.stderr).toContain('error: 403');
  });
});
