/**
 * The TypeScript client against a real stack (API on a socket, Temporal dev
 * server, Postgres, workers): every method a product service uses, problem
 * errors, pagination, idempotent and retried creates, tenant administration.
 */
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { Client } from '@temporalio/client';
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../api/app.ts';
import { JobplaneClient, JobplaneProblemError, JobplaneWaitTimeoutError, type Job, type JobInputs } from '../../client/index.ts';
import { tenants } from '../../db/schema/index.ts';
import { createLogger } from '../../runtime/logger.ts';
import { startReceiver, type Receiver } from '../helpers/receiver.ts';
import { repoRoot, startTestStack, type TestStack } from '../helpers/stack.ts';
import { problemType } from '../helpers/http.ts';

const platformKey = randomBytes(30).toString('base64url'); // 40 characters
let stack: TestStack;
let receiver: Receiver;
let jobs: JobplaneClient;
let platform: JobplaneClient;

beforeAll(async () => {
  stack = await startTestStack('client', { env: { JOBPLANE_PLATFORM_KEY: platformKey } });
  await stack.startWorkers();
  receiver = await startReceiver(() => ({ status: 200 }));
  jobs = new JobplaneClient({ baseUrl: stack.apiUrl, apiKey: stack.keys.admin });
  platform = new JobplaneClient({ baseUrl: `${stack.apiUrl}/`, apiKey: platformKey });
});
afterAll(async () => {
  await receiver?.close();
  await stack?.close();
});

const deliver = (payload: JobInputs['webhook.deliver']['payload'] = { hello: 'world' }) => ({ type: 'webhook.deliver' as const, input: { url: receiver.url, payload } });

/** The JobplaneProblemError a promise rejects with (fails the test if it resolves or throws something else). */
async function problemOf(promise: Promise<unknown>): Promise<JobplaneProblemError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(JobplaneProblemError);
  return err as JobplaneProblemError;
}

/** A fetch that records each request's method, Idempotency-Key and answer status. */
function recordingFetch(route: (attempt: number) => (req: Request) => Promise<Response> = () => (req) => fetch(req)) {
  const seen: { method: string; key: string | null; status: number }[] = [];
  const f: typeof fetch = async (input, init) => {
    const req = new Request(input, init);
    const res = await route(seen.length + 1)(req);
    seen.push({ method: req.method, key: req.headers.get('idempotency-key'), status: res.status });
    return res;
  };
  return { fetch: f, seen };
}

describe('jobs', () => {
  it('creates a webhook.deliver job and waits for its typed result', async () => {
    const { job, created } = await jobs.createJob(deliver());
    expect(created).toBe(true);
    expect(job).toMatchObject({ type: 'webhook.deliver', workflowId: `${stack.tenantId}:${job.id}` });
    const done = await jobs.waitForResult(job, { waitSeconds: 5, timeoutMs: 45_000 });
    expect(done.status).toBe('succeeded');
    const statusCode: number | undefined = done.result?.statusCode; // typed from contracts/
    expect(statusCode).toBe(200);
    expect(done.result).toEqual({ statusCode: 200, attempts: 1 });
    expect((await jobs.getJob(job.id)).finishedAt).toBe(done.finishedAt);
  });

  it('lists pages of 2 and iterates across them: every job once, newest first', async () => {
    const label = `batch=${randomBytes(4).toString('hex')}`;
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push((await jobs.createJob({ ...deliver({ i }), labels: [label] })).job.id);

    const first = await jobs.listJobs({ label, limit: 2 });
    expect(first.items).toHaveLength(2);
    expect(first.nextCursor).toEqual(expect.any(String));

    const seen: Job[] = [];
    for await (const job of jobs.iterateJobs({ label, limit: 2 })) seen.push(job);
    expect(seen.map((j) => j.id)).toEqual([...ids].sort().reverse());
    expect(new Set(seen.map((j) => j.id)).size).toBe(5);
    const created = seen.map((j) => Date.parse(j.createdAt));
    expect(created).toEqual([...created].sort((a, b) => b - a));
    expect(seen.slice(0, 2).map((j) => j.id)).toEqual(first.items.map((j) => j.id));
  });

  it('the same Idempotency-Key returns the original job with created: false', async () => {
    const idempotencyKey = `order-${randomBytes(4).toString('hex')}`;
    const a = await jobs.createJob(deliver({ order: 1 }), { idempotencyKey });
    const b = await jobs.createJob(deliver({ order: 1 }), { idempotencyKey });
    expect([a.created, b.created]).toEqual([true, false]);
    expect(b.job.id).toBe(a.job.id);
    const reused = await problemOf(jobs.createJob(deliver({ order: 2 }), { idempotencyKey }));
    expect(reused).toMatchObject({ status: 409, type: problemType('idempotency-key-reused') });
  });

  it('bad input is a JobplaneProblemError with field errors; unknown ids are 404', async () => {
    const bad = await problemOf(jobs.createJob({ type: 'webhook.deliver', input: { url: 'ftp://example.com/x' } as never }));
    expect(bad).toMatchObject({ status: 400, type: problemType('validation-error'), slug: 'validation-error' });
    expect(bad.errors?.map((e) => e.path).sort()).toEqual(['input.payload', 'input.url']);
    expect(bad.requestId).toEqual(expect.any(String));

    const missing = await problemOf(jobs.getJob('job_00000000000000000000000000'));
    expect(missing).toMatchObject({ status: 404, type: problemType('not-found'), title: 'No such resource' });
    expect((await problemOf(jobs.cancelJob('job_00000000000000000000000000'))).status).toBe(404);
  });

  it('cancels a running job and refuses to cancel it twice', async () => {
    const slow = await startReceiver(() => ({ status: 200, delayMs: 20_000 }));
    try {
      const { job } = await jobs.createJob({ type: 'webhook.deliver', input: { url: slow.url, payload: {} } });
      await slow.waitForRequests(1);
      expect((await jobs.cancelJob(job.id)).id).toBe(job.id);
      expect((await jobs.waitForResult(job.id, { waitSeconds: 10, timeoutMs: 30_000 })).status).toBe('cancelled');
      expect((await problemOf(jobs.cancelJob(job.id))).slug).toBe('job-already-finished');
    } finally {
      await slow.close();
    }
  });

  it('signals, updates and queries a job through its contract’s messages', async () => {
    const { job } = await jobs.createJob({ type: 'approval.request', input: { subject: 'Buy a desk', approvers: ['ann@example.com'] } });
    expect(await jobs.query<{ state: string }>(job.id, 'status')).toMatchObject({ state: 'pending' });
    await jobs.signal(job.id, 'comment', { by: 'bob@example.com', text: 'looks fine' });
    const decided = await jobs.update<{ decision: string }>(job.id, 'approve', { by: 'ann@example.com' });
    expect(decided.decision).toBe('approved');
    const done = await jobs.waitForResult(job, { waitSeconds: 10, timeoutMs: 30_000 });
    expect(done.result).toMatchObject({ decision: 'approved', decidedBy: 'ann@example.com' });
    expect((await problemOf(jobs.signal(job.id, 'no-such-signal', {}))).status).toBe(404);
  });

  it('waitForResult gives up after its overall timeout with the job as last seen', async () => {
    const { job } = await jobs.createJob({ type: 'approval.request', input: { subject: 'Never decided' } });
    const started = Date.now();
    const err = await jobs.waitForResult(job.id, { waitSeconds: 1, timeoutMs: 2500 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(JobplaneWaitTimeoutError);
    expect((err as JobplaneWaitTimeoutError).job).toMatchObject({ id: job.id, status: 'running' });
    expect(Date.now() - started).toBeGreaterThanOrEqual(2000);
    await jobs.cancelJob(job.id);
  });

  it('network errors are rethrown as fetch raised them', async () => {
    const nowhere = new JobplaneClient({ baseUrl: 'http://127.0.0.1:1', apiKey: 'jp_x', createAttempts: 3 });
    const err = await nowhere.createJob(deliver()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TypeError);
    expect(err).not.toBeInstanceOf(JobplaneProblemError);
  });

  it('lists the job types with their input schemas', async () => {
    const types = await jobs.jobTypes();
    expect(types.map((t) => t.type)).toEqual(expect.arrayContaining(['webhook.deliver', 'approval.request']));
    expect(types.find((t) => t.type === 'webhook.deliver')!.input).toMatchObject({ type: 'object' });
  });
});

describe('createJob retries with the same Idempotency-Key', () => {
  it('429: waits Retry-After and retries', async () => {
    const tenant = await platform.createTenant(`client-rate-${randomBytes(3).toString('hex')}`);
    await stack.db.update(tenants).set({ createRatePerSecond: 1, createBurst: 1 }).where(eq(tenants.id, tenant.id));
    const { key } = await platform.createApiKey(tenant.id, { name: 'rate', role: 'submitter' });
    const rec = recordingFetch();
    const limited = new JobplaneClient({ baseUrl: stack.apiUrl, apiKey: key, fetch: rec.fetch });

    await limited.createJob(deliver({ n: 1 }));
    const started = Date.now();
    const second = await limited.createJob(deliver({ n: 2 }));
    expect(second.created).toBe(true);
    expect(rec.seen.map((s) => s.status)).toEqual([201, 429, 201]);
    expect(rec.seen[1]!.key).toBe(rec.seen[2]!.key);
    expect(rec.seen[0]!.key).not.toBe(rec.seen[1]!.key);
    expect(Date.now() - started).toBeGreaterThanOrEqual(900);

    const impatient = new JobplaneClient({ baseUrl: stack.apiUrl, apiKey: key, createAttempts: 1 });
    const refused = await problemOf(impatient.createJob(deliver({ n: 3 })));
    expect(refused).toMatchObject({ status: 429, type: problemType('rate-limited') });
    expect(refused.retryAfterSeconds).toBeGreaterThanOrEqual(1);
  });

  it('503 temporal-unavailable: the retry finishes the start of the same job', async () => {
    // A second API process on the same database whose Temporal client cannot start workflows.
    const broken = new Client({
      connection: stack.client.connection,
      namespace: stack.config.temporalNamespace,
      interceptors: { workflow: [{ start: () => Promise.reject(new Error('injected: frontend unavailable')) }] },
    });
    const downApp = createApp({ config: stack.config, db: stack.db, client: broken, log: createLogger('down', 'silent') });
    // The first attempt reaches the process with Temporal down; later attempts the healthy one.
    const rec = recordingFetch((n) => (n === 1 ? (req) => Promise.resolve(downApp.fetch(req)) : (req) => fetch(req)));
    const client = new JobplaneClient({ baseUrl: stack.apiUrl, apiKey: stack.keys.submitter, fetch: rec.fetch });

    const { job, created } = await client.createJob(deliver({ retried: true }));
    expect(rec.seen.map((s) => s.status)).toEqual([503, 200]);
    expect(rec.seen[0]!.key).toBe(rec.seen[1]!.key);
    expect(created).toBe(true); // the key was generated for this call, so the job is ours
    expect((await jobs.waitForResult(job, { waitSeconds: 10, timeoutMs: 45_000 })).status).toBe('succeeded');
    const { count } = await stack.client.workflow.count(`WorkflowId = "${job.workflowId}"`);
    expect(count).toBe(1);
  });
});

describe('schedules', () => {
  it('creates idempotently, lists, pauses, unpauses, triggers and deletes a schedule', async () => {
    const tag = randomBytes(4).toString('hex');
    const request = { ...deliver({ tag }), interval: '1h', paused: true, labels: [`sched=${tag}`] };
    const idempotencyKey = `sched-${tag}`;
    const { schedule, created } = await jobs.createSchedule(request, { idempotencyKey });
    try {
      expect(created).toBe(true);
      expect(schedule).toMatchObject({ type: 'webhook.deliver', paused: true, spec: { interval: 3600 } });
      expect(await jobs.createSchedule(request, { idempotencyKey })).toMatchObject({ created: false, schedule: { id: schedule.id } });
      expect((await jobs.listSchedules({ type: 'webhook.deliver' })).map((s) => s.id)).toContain(schedule.id);

      expect((await jobs.unpauseSchedule(schedule.id)).paused).toBe(false);
      expect(await jobs.pauseSchedule(schedule.id, 'client test')).toMatchObject({ paused: true, note: 'client test' });
      await jobs.triggerSchedule(schedule.id);
      await expect.poll(() => receiver.requests.filter((r) => r.body.includes(tag)).length, { timeout: 30_000 }).toBe(1);
      expect((await jobs.getSchedule(schedule.id)).recentRuns).toHaveLength(1);
    } finally {
      await jobs.deleteSchedule(schedule.id);
    }
    expect((await problemOf(jobs.getSchedule(schedule.id))).status).toBe(404);
  });
});

describe('documents', () => {
  it('uploads, waits for ingestion, searches, reads the bytes back, dedupes, holds, deletes; retention', async () => {
    const word = `zephyrine${randomBytes(3).toString('hex')}`;
    const text = `# Quarterly report\n\nRevenue grew in every region. The ${word} programme finished on time.\n`;
    const { document, created } = await jobs.uploadDocument(text, { filename: 'q3.md', metadata: { title: 'Q3 report', team: 'finance' } });
    expect(created).toBe(true);
    expect(document).toMatchObject({ status: 'processing', duplicate: false });

    const ingested = await jobs.waitForDocument(document.id, { timeoutMs: 60_000 });
    expect(ingested).toMatchObject({ id: document.id, status: 'ingested', title: 'Q3 report', contentType: 'text/markdown' });
    expect(ingested.classification?.label).toBe('report');
    expect(ingested.lineage.map((l) => l.artifact).sort()).toEqual(['chunks', 'classification', 'text']);

    const found = await jobs.searchDocuments({ q: word });
    expect(found.items.map((h) => h.documentId)).toEqual([document.id]);
    expect(found.items[0]!.snippet).toContain(`<mark>${word}</mark>`);
    expect((await jobs.listDocuments({ status: 'ingested' })).items.map((d) => d.id)).toContain(document.id);

    const content = await jobs.documentContent(document.id);
    expect(new TextDecoder().decode(content.bytes)).toBe(text);
    expect(content.contentType).toContain('text/markdown');

    const again = await jobs.uploadDocument(new Blob([text]), { filename: 'copy.md' });
    expect(again).toMatchObject({ created: false, document: { id: document.id, duplicate: true } });
    const refused = await problemOf(jobs.uploadDocument(new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0, 1]), { filename: 'x.png', contentType: 'image/png' }));
    expect(refused).toMatchObject({ status: 415, type: problemType('unsupported-document-type') });

    expect((await jobs.setLegalHold(document.id, true)).legalHold).toBe(true);
    expect(await problemOf(jobs.deleteDocument(document.id))).toMatchObject({ status: 409, type: problemType('document-on-legal-hold') });
    await jobs.setLegalHold(document.id, false);
    await jobs.deleteDocument(document.id);
    expect((await jobs.getDocument(document.id)).status).toBe('deleted');
    expect(await problemOf(jobs.documentContent(document.id))).toMatchObject({ status: 404 }); // the bytes are gone
    expect(await problemOf(jobs.getDocument('doc_unknown'))).toMatchObject({ status: 404 });

    expect(await jobs.setRetention(stack.tenantId, 30)).toEqual({ tenantId: stack.tenantId, days: 30 });
    expect(await jobs.getRetention(stack.tenantId)).toEqual({ tenantId: stack.tenantId, days: 30 });
    expect(await jobs.setRetention(stack.tenantId, null)).toEqual({ tenantId: stack.tenantId, days: null });
  });
});

describe('tenants and API keys (platform key)', () => {
  it('creates a tenant and keys, lists them, and a revoked key answers 401', async () => {
    const name = `client-admin-${randomBytes(3).toString('hex')}`;
    const tenant = await platform.createTenant(name);
    expect((await platform.listTenants()).map((t) => t.name)).toContain(name);
    expect((await problemOf(platform.createTenant(name))).slug).toBe('conflict');

    const admin = await platform.createApiKey(tenant.id, { name: 'admin', role: 'admin', expiresAt: new Date(Date.now() + 3_600_000) });
    const viewer = await platform.createApiKey(tenant.id, { name: 'viewer', role: 'viewer' });
    expect(viewer.key).toMatch(/^jp_/);
    const listed = await platform.listApiKeys(tenant.id);
    expect(listed.map((k) => k.id).sort()).toEqual([admin.id, viewer.id].sort());
    expect(listed.every((k) => !('key' in k) && k.revokedAt === null)).toBe(true);

    const asViewer = new JobplaneClient({ baseUrl: stack.apiUrl, apiKey: viewer.key });
    expect((await asViewer.listJobs()).items).toEqual([]);
    expect((await problemOf(asViewer.createJob(deliver()))).slug).toBe('forbidden');
    expect((await problemOf(jobs.createTenant('not-allowed'))).status).toBe(403);

    await platform.revokeApiKey(tenant.id, viewer.id);
    const revoked = await problemOf(asViewer.listJobs());
    expect(revoked).toMatchObject({ status: 401, type: problemType('unauthenticated') });
    expect((await problemOf(platform.revokeApiKey(tenant.id, viewer.id))).status).toBe(404);

    const asAdmin = new JobplaneClient({ baseUrl: stack.apiUrl, apiKey: admin.key });
    const events: unknown[] = [];
    for await (const e of asAdmin.iterateAudit({ limit: 2 })) events.push(e);
    expect(events).toContainEqual(expect.objectContaining({ action: 'api-key.revoke', target: viewer.id, outcome: 'succeeded' }));
    expect((await asAdmin.audit({ action: 'api-key.revoke' })).items).toHaveLength(1);
  });
});

describe('packaging', () => {
  it('client/ loads nothing of the server at run time (type-only imports outside client/)', () => {
    const dir = path.join(repoRoot, 'client');
    for (const file of readdirSync(dir).filter((f) => f.endsWith('.ts'))) {
      const source = readFileSync(path.join(dir, file), 'utf8');
      for (const m of source.matchAll(/^(import|export)\s+(type\s+)?[^'"]*?from\s+'([^']+)'/gms)) {
        if (!m[3]!.startsWith('./')) expect(m[2], `${file}: ${m[0].split('\n')[0]}`).toBe('type ');
      }
    }
  });

  it('package.json exports the client', async () => {
    const pkg = JSON.parse(readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as { exports: Record<string, string> };
    expect(pkg.exports).toMatchObject({ '.': './client/index.ts', './client': './client/index.ts' });
    const viaPackage: { JobplaneClient: unknown } = await import('jobplane/client');
    expect(viaPackage.JobplaneClient).toBe(JobplaneClient);
  });
});
