/**
 * Partial outages of a production-shaped cluster (one of this file's own, so
 * breaking it disturbs no other suite): with history or matching down or
 * hanging, creates answer 503 with Retry-After within 5 s and create
 * nothing, readiness names the part, and once it is back the same
 * Idempotency-Key creates exactly one job. Also: the launcher restarts a
 * killed service; Temporal throttling a list answers 503 at once.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { and, eq } from 'drizzle-orm';
import { createApp } from '../../api/app.ts';
import { connectVisibilityClient } from '../../api/limits/visibility.ts';
import { auditEvents, jobs } from '../../db/schema/index.ts';
import { createLogger } from '../../runtime/logger.ts';
import { freePort } from '../../runtime/host-port.ts';
import { startOwnCluster, type OwnCluster } from '../helpers/cluster.ts';
import { startTestStack, waitForJob, type TestStack } from '../helpers/stack.ts';
import { problemType } from '../helpers/http.ts';
import { waitAtMost } from '../helpers/poll.ts';

let own: OwnCluster;
let stack: TestStack;
let workerHealth: string;

beforeAll(async () => {
  own = await startOwnCluster('outage');
  const healthPort = await freePort();
  workerHealth = `http://127.0.0.1:${healthPort}/readyz`;
  stack = await startTestStack('outage', {
    temporal: { address: own.cluster.address, port: own.cluster.ports.services.frontend.grpc, stop: async () => {} },
    env: { JOBPLANE_WORKER_HEALTH_ADDRESS: `127.0.0.1:${healthPort}` },
  });
  await stack.spawnWorkerProcess();
}, 180_000);
afterAll(async () => {
  await stack?.close();
  await own?.close();
});

const noop = JSON.stringify({ type: 'noop', input: {} });

/**
 * What a client does after a 503: send the same request again after Retry-After, until it is accepted.
 * A history host that just restarted takes a few seconds to own every shard again.
 */
async function createUntilAccepted(key?: string, timeoutMs = 45_000): Promise<Response> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const res = await stack.api('/v1/jobs', { method: 'POST', role: 'submitter', body: noop, headers: key ? { 'idempotency-key': key } : {} });
    if (res.status !== 503 || Date.now() > deadline) return res;
    await new Promise((r) => setTimeout(r, Number(res.headers.get('retry-after') ?? 1) * 1000));
  }
}

async function timedCreate(key: string): Promise<{ res: Response; ms: number }> {
  const started = Date.now();
  const res = await stack.api('/v1/jobs', { method: 'POST', role: 'submitter', body: noop, headers: { 'idempotency-key': key } });
  return { res, ms: Date.now() - started };
}

async function readiness(url: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(url);
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

/** Polls until `check` passes (readiness caches each probe for 2 s). */
async function eventually<T>(fn: () => Promise<T>, check: (v: T) => boolean, timeoutMs = 20_000): Promise<T> {
  let last = await fn();
  if (check(last)) return last;
  await waitAtMost(async () => check((last = await fn())), { timeout: timeoutMs, interval: 250 });
  return last;
}

/** The claim of a refused create: its row, and whether Temporal has any workflow for it. */
async function claimOf(key: string) {
  const [row] = await stack.db.select().from(jobs).where(and(eq(jobs.tenantId, stack.tenantId), eq(jobs.idempotencyKey, key)));
  return row;
}

/** After a refused create, the same key once the part is back: exactly one job, run to the end, audited once. */
async function retryFinishesOnce(key: string) {
  const claim = await claimOf(key);
  expect(claim, 'the refused create leaves an unstarted claim (for its key)').toBeDefined();
  expect(claim!.firstRunId).toBeNull();
  expect((await stack.api(`/v1/jobs/${claim!.id}`, { role: 'viewer' })).status).toBe(404);
  const listed = (await (await stack.api('/v1/jobs?limit=100', { role: 'viewer' })).json()) as { items: { id: string }[] };
  expect(listed.items.map((j) => j.id)).not.toContain(claim!.id);

  const again = await createUntilAccepted(key);
  expect([200, 201]).toContain(again.status);
  const job = (await again.json()) as { id: string; workflowId: string };
  expect(job.id).toBe(claim!.id);
  expect((await waitForJob(stack, job.id)).status).toBe('succeeded');
  const runs = await stack.client.workflow.count(`WorkflowId = "${job.workflowId}"`);
  expect(runs.count).toBe(1);
  const audits = await stack.db.select().from(auditEvents).where(and(eq(auditEvents.target, job.id), eq(auditEvents.action, 'job.create')));
  expect(audits).toHaveLength(1);
}

describe('history down', () => {
  let refusedKey = '';

  it('kill -9 with no restart: creates answer 503 with Retry-After within 5 s, readiness names history, the key finishes once it is back', async () => {
    await own.cluster.processes.history.stop(0, 'SIGKILL');
    try {
      const key = `history-down-${randomBytes(4).toString('hex')}`;
      refusedKey = key;
      const { res, ms } = await timedCreate(key);
      expect(res.status).toBe(503);
      expect(ms).toBeLessThan(5000);
      expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
      expect(((await res.json()) as { type: string }).type).toBe(problemType('temporal-unavailable'));

      const api = await eventually(() => readiness(`${stack.apiUrl}/readyz`), (r) => r.body.status === 'degraded');
      expect(api.status).toBe(200);
      expect(api.body).toMatchObject({ status: 'degraded', checks: { temporal: { frontend: { ok: true }, history: { ok: false }, matching: { ok: true } } } });
      const workers = await eventually(() => readiness(workerHealth), (r) => r.status === 503);
      expect(workers.body).toMatchObject({ status: 'unavailable', temporal: { history: { ok: false } } });

      // Known down: the next create is refused at once, naming the part.
      const fast = await timedCreate(`${key}-2`);
      expect(fast.res.status).toBe(503);
      expect(fast.ms).toBeLessThan(1000);
      expect((await fast.res.json()) as object).toMatchObject({ unreachable: ['history'] });
    } finally {
      own.cluster.processes.history.start();
    }
    await own.cluster.waitUntilServing();
    expect((await eventually(() => readiness(`${stack.apiUrl}/readyz`), (r) => r.body.status === 'ready')).body.status).toBe('ready');
    expect((await eventually(() => readiness(workerHealth), (r) => r.status === 200)).status).toBe(200);
  });

  it('the refused create’s key, once history is back, makes exactly one job', async () => {
    expect(refusedKey).not.toBe('');
    await retryFinishesOnce(refusedKey);
  });

  it('hanging (SIGSTOP): a create and a job read answer 503 within 5 s instead of waiting on it', async () => {
    const done = await createUntilAccepted();
    expect(done.status).toBe(201);
    const existing = (await done.json()) as { id: string };
    await waitForJob(stack, existing.id);
    const pid = Number(readFileSync(own.cluster.pidFile('history'), 'utf8'));
    process.kill(pid, 'SIGSTOP');
    try {
      const key = `history-hung-${randomBytes(4).toString('hex')}`;
      const { res, ms } = await timedCreate(key);
      expect(res.status).toBe(503);
      expect(ms).toBeLessThan(5000);
      const started = Date.now();
      const read = await stack.api(`/v1/jobs/${existing.id}`, { role: 'viewer' });
      expect(read.status).toBe(503);
      expect(Date.now() - started).toBeLessThan(5000);
      expect(Number(read.headers.get('retry-after'))).toBeGreaterThan(0);
    } finally {
      process.kill(pid, 'SIGCONT');
    }
    await own.cluster.waitUntilServing();
  });
});

describe('matching down', () => {
  it('readiness names matching; creates then answer 503 within 5 s; the key finishes once matching is back', async () => {
    await own.cluster.processes.matching.stop(0, 'SIGKILL');
    const key = `matching-down-${randomBytes(4).toString('hex')}`;
    try {
      const api = await eventually(() => readiness(`${stack.apiUrl}/readyz`), (r) => r.body.status === 'degraded');
      expect(api.body).toMatchObject({ checks: { temporal: { matching: { ok: false }, history: { ok: true } } } });
      const { res, ms } = await timedCreate(key);
      expect(res.status).toBe(503);
      expect(ms).toBeLessThan(5000);
      expect((await res.json()) as object).toMatchObject({ unreachable: ['matching'] });
    } finally {
      own.cluster.processes.matching.start();
    }
    await own.cluster.waitUntilServing();
    await eventually(() => readiness(`${stack.apiUrl}/readyz`), (r) => r.body.status === 'ready');
    await retryFinishesOnce(key);
  });
});

describe('the launcher', () => {
  it('restarts a service killed with kill -9 through its pid file, logs it, and requests flow again', async () => {
    const restartsBefore = own.cluster.processes.frontend.restarts();
    const pidFile = own.cluster.pidFile('frontend');
    const pid = Number(readFileSync(pidFile, 'utf8'));
    process.kill(pid, 'SIGKILL');
    await eventually(
      async () => Number(readFileSync(pidFile, 'utf8')),
      (p) => p !== pid,
    );
    await own.cluster.waitUntilServing();
    expect(own.cluster.processes.frontend.restarts()).toBe(restartsBefore + 1);
    const created = await createUntilAccepted();
    expect(created.status).toBe(201);
    expect((await waitForJob(stack, ((await created.json()) as { id: string }).id)).status).toBe('succeeded');
    // Both runs wrote to the same log, each starting with its config load.
    const log = readFileSync(path.join(own.cluster.dir, 'logs', 'frontend.log'), 'utf8');
    expect(log.split('Loading config;').length - 1).toBeGreaterThanOrEqual(2);
  });
});

describe('visibility throttled by the server itself', () => {
  it('a listing Temporal refuses (RESOURCE_EXHAUSTED at its default 10/s) answers 503 temporal-throttled with Retry-After at once', async () => {
    // A budget far above the server's limit, so the server, not the API, refuses.
    const config = { ...stack.config, visibilityRatePerSecond: 1000 };
    const visibilityClient = await connectVisibilityClient(config);
    try {
      const app = createApp({ config, db: stack.db, client: stack.client, visibilityClient, log: createLogger('throttle', 'silent') });
      const auth = { authorization: `Bearer ${stack.keys.viewer}` };
      const responses = await Promise.all(
        Array.from({ length: 60 }, async () => {
          const started = Date.now();
          const res = await app.request('/v1/jobs?limit=5', { headers: auth });
          return { status: res.status, ms: Date.now() - started, retryAfter: res.headers.get('retry-after'), body: (await res.json()) as { type?: string } };
        }),
      );
      const throttled = responses.filter((r) => r.status === 503);
      expect(throttled.length, 'the server refuses past its limit').toBeGreaterThan(0);
      for (const r of throttled) {
        expect(r.body.type).toBe(problemType('temporal-throttled'));
        expect(Number(r.retryAfter)).toBeGreaterThan(0);
        expect(r.ms, 'answered without retrying until a deadline').toBeLessThan(2500);
      }
      expect(responses.filter((r) => r.status === 200).length).toBeGreaterThan(0);
    } finally {
      await visibilityClient.connection.close();
    }
  });
});
