/**
 * `dedupe: { key, window }` on `POST /v1/jobs`, on the real dev server and
 * Postgres: a burst with one key is one job whatever the bodies, the window
 * ends, keys are per tenant, a refused create gives its key back, bad
 * dedupe options are 400 and change nothing.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { and, eq } from 'drizzle-orm';
import { jobDedupeKeys, jobs, tenants } from '../../db/schema/index.ts';
import { createOtherTenant, expectProblem, type OtherTenant } from '../helpers/http.ts';
import { startTestStack, waitForJob, type TestStack } from '../helpers/stack.ts';

let stack: TestStack;
let other: OtherTenant;

beforeAll(async () => {
  stack = await startTestStack('dedupe');
  await stack.startWorkers();
  other = await createOtherTenant(stack, { role: 'submitter' });
});
afterAll(async () => {
  await stack?.close();
});

const noop = (tag: string, dedupe?: unknown) => JSON.stringify({ type: 'noop', input: { tag }, ...(dedupe ? { dedupe } : {}) });
const create = (body: string, headers?: Record<string, string>) => stack.api('/v1/jobs', { method: 'POST', role: 'submitter', body, ...(headers ? { headers } : {}) });
const jobRows = async (tenantId = stack.tenantId) => (await stack.db.select().from(jobs).where(eq(jobs.tenantId, tenantId))).length;

describe('dedupe on create', () => {
  it('50 concurrent creates with one key and different bodies make one job: one 201, 49 × 200 with its id', async () => {
    const before = await jobRows();
    const responses = await Promise.all(Array.from({ length: 50 }, (_, i) => create(noop(`burst-${i}`, { key: 'sync:account-42', window: '1m' }))));
    const bodies = (await Promise.all(responses.map((r) => r.json()))) as { id: string; status: string }[];
    expect(responses.filter((r) => r.status === 201)).toHaveLength(1);
    expect(responses.filter((r) => r.status === 200)).toHaveLength(49);
    expect(new Set(bodies.map((b) => b.id)).size).toBe(1);
    expect(await jobRows()).toBe(before + 1);
    expect(await waitForJob(stack, bodies[0]!.id)).toMatchObject({ status: 'succeeded' });
    // Still inside the window after the job finished: the same job again.
    const later = await create(noop('later', { key: 'sync:account-42', window: '1m' }));
    expect(later.status).toBe(200);
    expect(((await later.json()) as { id: string }).id).toBe(bodies[0]!.id);
  });

  it('after the window a create with the key makes a new job; other keys and other tenants never share one', async () => {
    const first = await create(noop('w1', { key: 'short', window: 1 }));
    expect(first.status).toBe(201);
    const firstId = ((await first.json()) as { id: string }).id;
    const otherKey = await create(noop('w2', { key: 'short-2', window: 1 }));
    expect(otherKey.status).toBe(201);
    const otherTenant = await other.asOther('/v1/jobs', { method: 'POST', body: noop('w3', { key: 'short', window: 1 }) });
    expect(otherTenant.status).toBe(201);
    await new Promise((resolve) => setTimeout(resolve, 1200));
    const again = await create(noop('w4', { key: 'short', window: 1 }));
    expect(again.status).toBe(201);
    expect(((await again.json()) as { id: string }).id).not.toBe(firstId);
  });

  it('a create refused by the rate limit gives its key back, so the next create in the window makes the job', async () => {
    await stack.db.update(tenants).set({ createRatePerSecond: 0.001, createBurst: 1 }).where(eq(tenants.id, stack.tenantId));
    try {
      // Spend the one token, then be refused while holding the key.
      expect((await create(noop('spend'))).status).toBe(201);
      await expectProblem(await create(noop('refused', { key: 'after-429', window: '1h' })), 429, 'rate-limited');
      const [held] = await stack.db.select().from(jobDedupeKeys).where(and(eq(jobDedupeKeys.tenantId, stack.tenantId), eq(jobDedupeKeys.key, 'after-429')));
      expect(held).toBeUndefined();
    } finally {
      await stack.db.update(tenants).set({ createRatePerSecond: null, createBurst: null }).where(eq(tenants.id, stack.tenantId));
    }
    // Back on the default quota (50/s), a second later the bucket holds tokens again: the key is free to take.
    await new Promise((resolve) => setTimeout(resolve, 1100));
    const made = await create(noop('made', { key: 'after-429', window: '1h' }));
    expect(made.status).toBe(201);
  });

  it('with an Idempotency-Key: a replay answers the key’s job and the dedupe key points there; a reused key (409) gives the dedupe key back', async () => {
    const heldBy = async (key: string) =>
      (await stack.db.select().from(jobDedupeKeys).where(and(eq(jobDedupeKeys.tenantId, stack.tenantId), eq(jobDedupeKeys.key, key))))[0]?.jobId;
    const body = noop('keyed', { key: 'keyed-dedupe', window: '1h' });
    const first = await create(body, { 'idempotency-key': 'dedupe-and-key' });
    expect(first.status).toBe(201);
    const id = ((await first.json()) as { id: string }).id;
    expect(await heldBy('keyed-dedupe')).toBe(id);

    // A job made under an Idempotency-Key alone, then replayed with a dedupe key added: another body, so 409,
    // and the dedupe key it took for a moment is free again.
    const plain = await create(noop('plain'), { 'idempotency-key': 'plain-key' });
    expect(plain.status).toBe(201);
    await expectProblem(await create(noop('plain', { key: 'after-409', window: '1h' }), { 'idempotency-key': 'plain-key' }), 409, 'idempotency-key-reused');
    expect(await heldBy('after-409')).toBeUndefined();
    const fresh = await create(noop('fresh', { key: 'after-409', window: '1h' }));
    expect(fresh.status).toBe(201);
  });

  it('bad dedupe options are 400 naming the field, and write nothing', async () => {
    const before = await jobRows();
    const keysBefore = (await stack.db.select().from(jobDedupeKeys).where(eq(jobDedupeKeys.tenantId, stack.tenantId))).length;
    const cases: [unknown, string][] = [
      [{ window: '1m' }, 'dedupe.key'],
      [{ key: 'k' }, 'dedupe.window'],
      [{ key: 'k', window: 0 }, 'dedupe.window'],
      [{ key: 'k', window: '8d' }, 'dedupe.window'],
      [{ key: 'has spaces', window: '1m' }, 'dedupe.key'],
      [{ key: 'k', window: '1m', extra: true }, 'dedupe'],
    ];
    for (const [dedupe, path] of cases) {
      const problem = await expectProblem(await create(noop('bad', dedupe)), 400, 'validation-error');
      expect((problem.errors as { path: string }[]).map((e) => e.path), JSON.stringify(dedupe)).toContain(path);
    }
    expect(await jobRows()).toBe(before);
    expect((await stack.db.select().from(jobDedupeKeys).where(eq(jobDedupeKeys.tenantId, stack.tenantId))).length).toBe(keysBefore);
  });
});
