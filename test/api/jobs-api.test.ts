/**
 * The first API slice over a real socket, for every status code it promises:
 * 201/200/409 idempotency, 400 with field paths and nothing started, 401, 403,
 * 404 (also for another tenant's job), 413, 415, 202/409 cancel, health.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eq } from 'drizzle-orm';
import { createApiKey } from '../../api/tenants/service.ts';
import { apiKeys, auditEvents, jobs } from '../../db/schema/index.ts';
import { createApp } from '../../api/app.ts';
import { createDb } from '../../db/client.ts';
import { createLogger } from '../../runtime/logger.ts';
import { createOtherTenant, expectProblem } from '../helpers/http.ts';
import { startReceiver, type Receiver } from '../helpers/receiver.ts';
import { startTestStack, waitForJob, type TestStack } from '../helpers/stack.ts';

let stack: TestStack;
let receiver: Receiver;

beforeAll(async () => {
  stack = await startTestStack('api');
  await stack.startWorkers();
  receiver = await startReceiver(() => ({ status: 200 }));
});
afterAll(async () => {
  await receiver?.close();
  await stack?.close();
});

function createBody(payload: unknown = { hello: 'world' }) {
  return JSON.stringify({ type: 'webhook.deliver', input: { url: receiver.url, payload } });
}

/** Workflows of this stack's tenant known to Temporal (visibility of the dev server). */
async function workflowCount(): Promise<number> {
  const { count } = await stack.client.workflow.count(`TenantId = "${stack.tenantId}"`);
  return count;
}

describe('POST /v1/jobs', () => {
  it('201 creates a job that runs to success, with the documented shape', async () => {
    const res = await stack.api('/v1/jobs', { method: 'POST', role: 'submitter', body: createBody() });
    expect(res.status).toBe(201);
    const job = (await res.json()) as Record<string, unknown>;
    expect(job).toMatchObject({ type: 'webhook.deliver', workflowId: `${stack.tenantId}:${job.id}` });
    expect(['queued', 'running']).toContain(job.status);
    expect(res.headers.get('location')).toBe(`${stack.apiUrl}/v1/jobs/${job.id}`);
    const done = await waitForJob(stack, String(job.id));
    expect(done).toMatchObject({ status: 'succeeded', result: { statusCode: 200, attempts: 1 } });
    expect(typeof done.finishedAt).toBe('string');
    expect(typeof done.createdAt).toBe('string');
  });

  it('a create says where its time went (Server-Timing: auth, limits, claim, start, record, total); a replay spends none on start', async () => {
    const phasesOf = (res: Response) =>
      Object.fromEntries((res.headers.get('server-timing') ?? '').split(',').map((p) => p.trim().split(';')).map(([name, dur]) => [name, Number(dur?.replace('dur=', ''))]));
    const key = `timing-${Date.now()}`;
    const first = await stack.api('/v1/jobs', { method: 'POST', role: 'submitter', headers: { 'idempotency-key': key }, body: createBody() });
    expect(first.status).toBe(201);
    const phases = phasesOf(first);
    expect(Object.keys(phases).sort()).toEqual(['auth', 'claim', 'limits', 'record', 'start', 'total']);
    for (const ms of Object.values(phases)) expect(ms).toBeGreaterThanOrEqual(0);
    expect(phases.total!).toBeGreaterThanOrEqual(phases.start!);
    const replay = await stack.api('/v1/jobs', { method: 'POST', role: 'submitter', headers: { 'idempotency-key': key }, body: createBody() });
    expect(replay.status).toBe(200);
    expect(Object.keys(phasesOf(replay)).sort()).toEqual(['auth', 'claim', 'limits', 'total']);
  });

  it('same Idempotency-Key and body → 200 with the same job; other body → 409', async () => {
    const headers = { 'idempotency-key': 'order-1001' };
    const first = await stack.api('/v1/jobs', { method: 'POST', role: 'submitter', headers, body: createBody({ order: 1001 }) });
    expect(first.status).toBe(201);
    const job = (await first.json()) as { id: string; workflowId: string };

    // Same body with keys in another order is the same request.
    const reordered = JSON.stringify({ input: { payload: { order: 1001 }, url: receiver.url }, type: 'webhook.deliver' });
    const again = await stack.api('/v1/jobs', { method: 'POST', role: 'submitter', headers, body: reordered });
    expect(again.status).toBe(200);
    expect(((await again.json()) as { id: string }).id).toBe(job.id);

    const conflict = await stack.api('/v1/jobs', { method: 'POST', role: 'submitter', headers, body: createBody({ order: 9999 }) });
    const problem = await expectProblem(conflict, 409, 'idempotency-key-reused');
    expect(problem.jobId).toBe(job.id);

    // A replay after the job finished still answers the original job and starts nothing new.
    await waitForJob(stack, job.id);
    const late = await stack.api('/v1/jobs', { method: 'POST', role: 'submitter', headers, body: createBody({ order: 1001 }) });
    expect(late.status).toBe(200);
    const handle = stack.client.workflow.getHandle(job.workflowId);
    expect((await handle.describe()).runId).toBe((await late.json() as { runId: string }).runId);
  });

  it('50 concurrent creates with one Idempotency-Key start exactly one workflow', async () => {
    const headers = { 'idempotency-key': 'burst-key' };
    const before = await workflowCount();
    const responses = await Promise.all(
      Array.from({ length: 50 }, () => stack.api('/v1/jobs', { method: 'POST', role: 'submitter', headers, body: createBody({ burst: true }) })),
    );
    const bodies = (await Promise.all(responses.map((r) => r.json()))) as { id: string }[];
    expect(responses.filter((r) => r.status === 201)).toHaveLength(1);
    expect(responses.filter((r) => r.status === 200)).toHaveLength(49);
    expect(new Set(bodies.map((b) => b.id)).size).toBe(1);
    await waitForJob(stack, bodies[0]!.id);
    expect(await workflowCount()).toBe(before + 1);
  });

  it('400 names the bad fields and starts nothing', async () => {
    const before = await workflowCount();
    const rowsBefore = (await stack.db.select().from(jobs).where(eq(jobs.tenantId, stack.tenantId))).length;
    const res = await stack.api('/v1/jobs', {
      method: 'POST',
      role: 'submitter',
      body: JSON.stringify({ type: 'webhook.deliver', input: { url: 'ftp://example.com/x', eventType: 'has spaces' } }),
    });
    const problem = await expectProblem(res, 400, 'validation-error');
    const paths = (problem.errors as { path: string }[]).map((e) => e.path).sort();
    expect(paths).toEqual(['input.eventType', 'input.payload', 'input.url']);

    const unknown = await stack.api('/v1/jobs', { method: 'POST', role: 'submitter', body: JSON.stringify({ type: 'nope', input: {} }) });
    const p2 = await expectProblem(unknown, 400, 'validation-error');
    expect((p2.errors as { path: string }[])[0]!.path).toBe('type');

    await expectProblem(await stack.api('/v1/jobs', { method: 'POST', role: 'submitter', body: '{"type": ' }), 400, 'malformed-json');
    await expectProblem(
      await stack.api('/v1/jobs', { method: 'POST', role: 'submitter', body: JSON.stringify({ type: 'webhook.deliver' }) }),
      400,
      'validation-error',
    );
    await expectProblem(
      await stack.api('/v1/jobs', { method: 'POST', role: 'submitter', headers: { 'idempotency-key': 'has space' }, body: createBody() }),
      400,
      'validation-error',
    );

    expect(await workflowCount()).toBe(before);
    expect((await stack.db.select().from(jobs).where(eq(jobs.tenantId, stack.tenantId))).length).toBe(rowsBefore);
  });

  it('415 for a body that is not JSON and 413 above the body limit', async () => {
    await expectProblem(
      await stack.api('/v1/jobs', { method: 'POST', role: 'submitter', headers: { 'content-type': 'text/plain' }, body: createBody() }),
      415,
      'unsupported-media-type',
    );
    const huge = createBody({ blob: 'x'.repeat(stack.config.bodyLimitBytes + 10) });
    await expectProblem(await stack.api('/v1/jobs', { method: 'POST', role: 'submitter', body: huge }), 413, 'payload-too-large');
  });
});

describe('authentication and roles', () => {
  it('401 without a key, with a malformed, unknown, revoked or expired key', async () => {
    await expectProblem(await stack.api('/v1/jobs/job_x', { role: null }), 401, 'unauthenticated');
    await expectProblem(await stack.api('/v1/jobs/job_x', { role: null, headers: { authorization: 'Bearer nope' } }), 401, 'unauthenticated');
    const forged = stack.keys.viewer.slice(0, -4) + 'AAAA';
    await expectProblem(await stack.api('/v1/jobs/job_x', { role: null, headers: { authorization: `Bearer ${forged}` } }), 401, 'unauthenticated');

    const revoked = await createApiKey(stack.db, stack.tenantId, { name: 'to revoke', role: 'admin' });
    await stack.db.update(apiKeys).set({ revokedAt: new Date() }).where(eq(apiKeys.id, revoked.id));
    await expectProblem(await stack.api('/v1/jobs/job_x', { role: null, headers: { authorization: `Bearer ${revoked.key}` } }), 401, 'unauthenticated');

    const expired = await createApiKey(stack.db, stack.tenantId, { name: 'expired', role: 'admin', expiresAt: new Date(Date.now() - 1000) });
    await expectProblem(await stack.api('/v1/jobs/job_x', { role: null, headers: { authorization: `Bearer ${expired.key}` } }), 401, 'unauthenticated');
  });

  it('403 when the role is too weak, and nothing is created', async () => {
    const before = await workflowCount();
    await expectProblem(await stack.api('/v1/jobs', { method: 'POST', role: 'viewer', body: createBody() }), 403, 'forbidden');
    expect(await workflowCount()).toBe(before);
  });
});

describe('GET /v1/jobs/:id and cancel', () => {
  it('404 for unknown and malformed ids, and for another tenant’s job — the same answer', async () => {
    const res = await stack.api('/v1/jobs', { method: 'POST', role: 'submitter', body: createBody() });
    const job = (await res.json()) as { id: string };

    const { asOther } = await createOtherTenant(stack);

    const foreign = await expectProblem(await asOther(`/v1/jobs/${job.id}`), 404, 'not-found');
    const unknown = await expectProblem(await stack.api('/v1/jobs/job_00000000000000000000000000', { role: 'viewer' }), 404, 'not-found');
    await expectProblem(await stack.api('/v1/jobs/not-an-id', { role: 'viewer' }), 404, 'not-found');
    expect(Object.keys(foreign).sort()).toEqual(Object.keys(unknown).sort());

    await expectProblem(await asOther(`/v1/jobs/${job.id}/cancel`, { method: 'POST' }), 404, 'not-found');
    expect((await waitForJob(stack, job.id)).status).toBe('succeeded');
  });

  it('cancel writes an audit record; cancelling a finished job is 409', async () => {
    const res = await stack.api('/v1/jobs', { method: 'POST', role: 'submitter', body: createBody() });
    const job = (await res.json()) as { id: string };
    await waitForJob(stack, job.id);
    await expectProblem(await stack.api(`/v1/jobs/${job.id}/cancel`, { method: 'POST', role: 'submitter' }), 409, 'job-already-finished');
    const audit = await stack.db.select().from(auditEvents).where(eq(auditEvents.target, job.id));
    expect(audit.map((a) => a.action)).toEqual(['job.create']);
  });

  it('unknown routes answer 404 problem+json', async () => {
    await expectProblem(await stack.api('/v1/nothing-here', { role: 'viewer' }), 404, 'not-found');
  });
});

describe('health', () => {
  it('/healthz is 200 and /readyz is 200 when Postgres and Temporal answer', async () => {
    expect((await fetch(`${stack.apiUrl}/healthz`)).status).toBe(200);
    const ready = await fetch(`${stack.apiUrl}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({ status: 'ready', checks: { postgres: { ok: true }, temporal: { ok: true } } });
  });

  it('/readyz is 503 and names the dependency when Postgres is unreachable', async () => {
    const dead = createDb('postgres://nobody@127.0.0.1:1/none', { max: 1 });
    const app = createApp({ config: stack.config, db: dead.db, client: stack.client, log: createLogger('t', 'silent') });
    const res = await app.request('/readyz');
    expect(res.status).toBe(503);
    expect(await res.json()).toMatchObject({ status: 'unavailable', checks: { postgres: { ok: false }, temporal: { ok: true } } });
    await dead.close();
  });
});

describe('metrics', () => {
  it('/metrics exposes request, job and backlog series with route-pattern labels', async () => {
    const res = await stack.api('/v1/jobs', { method: 'POST', role: 'submitter', body: createBody() });
    const job = (await res.json()) as { id: string };
    await waitForJob(stack, job.id);
    const text = await (await fetch(stack.metricsUrl)).text();
    // Its own listener: the public port does not serve it.
    expect((await fetch(`${stack.apiUrl}/metrics`)).status).toBe(404);
    expect(text).toMatch(new RegExp(`jobplane_jobs_created_total\\{type="webhook.deliver",tenant="${stack.tenantId}"\\} [1-9]`));
    expect(text).toMatch(/jobplane_http_requests_total\{method="POST",route="\/v1\/jobs",status="201"\} [1-9]/);
    expect(text).toContain('jobplane_http_request_duration_seconds_bucket{le="0.005",method="GET",route="/v1/jobs/:id"}');
    expect(text).not.toContain(job.id); // ids never become labels
    expect(text).toContain(`jobplane_task_queue_backlog{task_queue="${stack.env.JOBPLANE_TASK_QUEUE_PREFIX}webhooks",type="activity"}`);
    expect(text).toContain(`jobplane_task_queue_recommended_replicas{task_queue="${stack.env.JOBPLANE_TASK_QUEUE_PREFIX}webhooks"} 1`);
  });
});
