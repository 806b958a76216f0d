/**
 * Limits hold across several API processes: two real `api/main.ts`
 * processes share one tenant's token bucket and running-jobs cap through
 * Postgres and Temporal, not through either process's memory.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { afterAll, beforeAll, expect, it, vi } from 'vitest';
import { eq, sql } from 'drizzle-orm';
import { tenants } from '../../db/schema/index.ts';
import { freePort } from '../../runtime/host-port.ts';
import { repoRoot, startTestStack, type TestStack } from '../helpers/stack.ts';
import { problemType } from '../helpers/http.ts';
import { waitAtMost } from '../helpers/poll.ts';

let stack: TestStack;
const apis: { url: string; process: ChildProcess }[] = [];

async function startApiProcess(): Promise<{ url: string; process: ChildProcess }> {
  const port = await freePort();
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(repoRoot, 'api/main.ts')], {
    cwd: repoRoot,
    env: { ...process.env, ...stack.env, PORT: String(port), JOBPLANE_LOG_LEVEL: 'warn' },
    stdio: 'ignore',
  });
  const url = `http://127.0.0.1:${port}`;
  await vi.waitFor(
    async () => {
      if (!(await fetch(`${url}/healthz`).then((r) => r.ok, () => false))) throw new Error('API process did not start');
    },
    { timeout: 30_000, interval: 200 },
  );
  return { url, process: child };
}

beforeAll(async () => {
  stack = await startTestStack('instances');
  await stack.startWorkers();
  apis.push(await startApiProcess(), await startApiProcess());
});
afterAll(async () => {
  for (const a of apis) a.process.kill('SIGTERM');
  await stack?.close();
});

function create(i: number, subject: string) {
  return fetch(`${apis[i % 2]!.url}/v1/jobs`, {
    method: 'POST',
    headers: { authorization: `Bearer ${stack.keys.submitter}`, 'content-type': 'application/json' },
    body: JSON.stringify({ type: 'approval.request', input: { subject } }),
  });
}

it('the create rate limit is one token bucket for both processes', async () => {
  await stack.db.update(tenants).set({ createBurst: 5, createRatePerSecond: 0.001 }).where(eq(tenants.id, stack.tenantId));
  const responses = await Promise.all(Array.from({ length: 20 }, (_, i) => create(i, `burst ${i}`)));
  const statuses = responses.map((r) => r.status);
  expect(statuses.filter((s) => s === 201)).toHaveLength(5);
  expect(statuses.filter((s) => s === 429)).toHaveLength(15);
  const refused = responses.find((r) => r.status === 429)!;
  expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
  expect(((await refused.json()) as { type: string }).type).toBe(problemType('rate-limited'));
  // Each process served 10 requests; with per-process buckets 10 creates would have passed, not 5.
});

it('the running-jobs cap counts the tenant’s running workflows, whichever process started them', async () => {
  await stack.db.update(tenants).set({ createBurst: 1000, createRatePerSecond: 1000, maxRunningJobs: 7 }).where(eq(tenants.id, stack.tenantId));
  await stack.db.execute(sql`delete from rate_limit_buckets where tenant_id = ${stack.tenantId}`);
  // 5 approval jobs from the first test are still running (waiting for a person); add 2 more to reach the cap.
  const running = async () => (await stack.client.workflow.count(`TenantId = "${stack.tenantId}" AND ExecutionStatus = "Running"`)).count;
  for (let i = 0; i < 2; i++) expect((await create(i, `cap ${i}`)).status).toBe(201);
  await waitAtMost(async () => (await running()) >= 7, { timeout: 5_000, interval: 100 });
  for (const i of [0, 1]) {
    const refused = await create(i, 'over the cap');
    expect(refused.status).toBe(429);
    expect(((await refused.json()) as { type: string }).type).toBe(problemType('running-jobs-cap'));
  }
  // Finishing one job frees a slot.
  for await (const wf of stack.client.workflow.list({ query: `TenantId = "${stack.tenantId}" AND ExecutionStatus = "Running"` })) {
    await stack.client.workflow.getHandle(wf.workflowId).terminate('free a slot');
    break;
  }
  await waitAtMost(async () => (await running()) < 7, { timeout: 5_000, interval: 100 });
  expect((await create(1, 'after a slot freed')).status).toBe(201);
});
