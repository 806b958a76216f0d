/**
 * Per-tenant create limits against real Postgres and a real Temporal dev
 * server: the shared token bucket (burst, refill, Retry-After, exactness
 * under 200 concurrent callers from two pools standing in for two API
 * processes), tenant quota overrides, and the running-jobs cap read from
 * Temporal visibility.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { and, eq, sql } from 'drizzle-orm';
import {
  assertUnderRunningCap,
  countRunningJobs,
  createJobsBucket,
  enforceCreateLimits,
  takeToken,
  tenantLimits,
  type LimitDefaults,
} from '../../api/limits/tenant-limits.ts';
import { ProblemError } from '../../api/http/problems.ts';
import { createTenant } from '../../api/tenants/service.ts';
import { createDb } from '../../db/client.ts';
import { rateLimitBuckets, tenants } from '../../db/schema/index.ts';
import { searchAttributes } from '../../contracts/search-attributes.ts';
import { startTestStack, type TestStack } from '../helpers/stack.ts';

let stack: TestStack;

beforeAll(async () => {
  stack = await startTestStack('limits');
});
afterAll(async () => {
  await stack?.close();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** Each test draws from its own bucket so tests never share tokens. */
const freshBucket = () => `test.${randomBytes(4).toString('hex')}`;

async function takeMany(n: number, opts: Parameters<typeof takeToken>[1]) {
  const results = [];
  for (let i = 0; i < n; i++) results.push(await takeToken(stack.db, opts));
  return results;
}

/** Awaits `promise` and returns the ProblemError it rejects with. */
async function problemFrom(promise: Promise<unknown>): Promise<ProblemError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ProblemError);
  return err as ProblemError;
}

describe('takeToken', () => {
  it('allows exactly `burst` at once, then refuses with a Retry-After that matches the rate', async () => {
    const opts = { tenantId: stack.tenantId, bucket: freshBucket(), ratePerSecond: 0.5, burst: 5 };
    const results = await takeMany(6, opts);
    expect(results.slice(0, 5)).toEqual(Array(5).fill({ allowed: true }));
    // One token at 0.5/s is two seconds away.
    expect(results[5]).toEqual({ allowed: false, retryAfterSeconds: 2 });
  });

  it('refills with elapsed time, but never above the burst', async () => {
    // 20/s: one token per 50 ms, so the few milliseconds between calls refill nothing meaningful.
    const opts = { tenantId: stack.tenantId, bucket: freshBucket(), ratePerSecond: 20, burst: 3 };
    expect((await takeMany(4, opts)).map((r) => r.allowed)).toEqual([true, true, true, false]);
    // 300 ms would refill 6 tokens; the bucket holds 3.
    await sleep(300);
    expect((await takeMany(4, opts)).map((r) => r.allowed)).toEqual([true, true, true, false]);
  });

  it('charges `cost` tokens and refuses a call the bucket cannot afford yet', async () => {
    const opts = { tenantId: stack.tenantId, bucket: freshBucket(), ratePerSecond: 1, burst: 10 };
    expect(await takeToken(stack.db, { ...opts, cost: 7 })).toEqual({ allowed: true });
    const refused = await takeToken(stack.db, { ...opts, cost: 7 });
    expect(refused.allowed).toBe(false);
    // About 3 tokens left, 4 missing at 1/s.
    expect(refused).toMatchObject({ retryAfterSeconds: 4 });
    expect(await takeToken(stack.db, { ...opts, cost: 3 })).toEqual({ allowed: true });
    await expect(takeToken(stack.db, { ...opts, cost: 11 })).rejects.toThrow(RangeError);
  });

  it('a take commits without waiting for its WAL flush, a setting that does not leak to the connection’s next statement', async () => {
    // One connection, so the next statement runs on the session the take used.
    const single = createDb(stack.env.DATABASE_URL!, { max: 1, applicationName: 'jobplane-one-connection' });
    try {
      const opts = { tenantId: stack.tenantId, bucket: freshBucket(), ratePerSecond: 1, burst: 10 };
      expect(await takeToken(single.db, opts)).toEqual({ allowed: true });
      const [after] = await single.db.execute<{ synchronous_commit: string }>(sql`show synchronous_commit`);
      expect(after!.synchronous_commit).toBe('on');
      const [row] = await single.db
        .select()
        .from(rateLimitBuckets)
        .where(and(eq(rateLimitBuckets.tenantId, stack.tenantId), eq(rateLimitBuckets.bucket, opts.bucket)));
      expect(row!.tokens).toBe(9);
    } finally {
      await single.close();
    }
  });

  it('skipIf: when it holds nothing is taken, also from a bucket this process knows is empty', async () => {
    const opts = { tenantId: stack.tenantId, bucket: freshBucket(), ratePerSecond: 0.01, burst: 2 };
    expect(await takeToken(stack.db, { ...opts, skipIf: sql`true` })).toEqual({ allowed: true, skipped: true });
    expect((await takeMany(3, { ...opts, skipIf: sql`false` })).map((r) => r.allowed)).toEqual([true, true, false]);
    // Empty now, and known so locally: a skip is still answered, anything else refused without a write.
    expect(await takeToken(stack.db, { ...opts, skipIf: sql`exists (select 1)` })).toEqual({ allowed: true, skipped: true });
    expect((await takeToken(stack.db, opts)).allowed).toBe(false);
  });

  it('200 concurrent callers in two separate pools (two API processes) get exactly `burst` tokens', async () => {
    const second = createDb(stack.env.DATABASE_URL!, { max: 10, applicationName: 'jobplane-second-api' });
    try {
      const bucket = freshBucket();
      // 0.001/s refills 0.01 of a token in 10 s: the count must be exactly the burst.
      const opts = { tenantId: stack.tenantId, bucket, ratePerSecond: 0.001, burst: 50 };
      const pools = [stack.db, second.db];
      const results = await Promise.all(Array.from({ length: 200 }, (_, i) => takeToken(pools[i % 2]!, opts)));
      expect(results.filter((r) => r.allowed)).toHaveLength(50);
      // Refusals tell the client to wait for a whole token at 0.001/s, i.e. about 1000 s.
      const waits = results.flatMap((r) => (r.allowed ? [] : [r.retryAfterSeconds]));
      expect(Math.min(...waits)).toBeGreaterThan(900);
      const [row] = await stack.db
        .select()
        .from(rateLimitBuckets)
        .where(and(eq(rateLimitBuckets.tenantId, stack.tenantId), eq(rateLimitBuckets.bucket, bucket)));
      expect(row!.tokens).toBeGreaterThanOrEqual(0);
      expect(row!.tokens).toBeLessThan(1);
    } finally {
      await second.close();
    }
  });
});

describe('tenantLimits', () => {
  const defaults: LimitDefaults = { createRatePerSecond: 50, createBurst: 100, maxRunningJobs: 1000 };

  it('uses config defaults when the quota columns are null, and each column overrides on its own', async () => {
    const tenant = await createTenant(stack.db, `quota-${randomBytes(4).toString('hex')}`);
    expect(await tenantLimits(stack.db, defaults, tenant.id)).toEqual({ ratePerSecond: 50, burst: 100, maxRunningJobs: 1000 });

    await stack.db.update(tenants).set({ createBurst: 2 }).where(eq(tenants.id, tenant.id));
    expect(await tenantLimits(stack.db, defaults, tenant.id)).toEqual({ ratePerSecond: 50, burst: 2, maxRunningJobs: 1000 });

    await stack.db.update(tenants).set({ createRatePerSecond: 0.25, maxRunningJobs: 7 }).where(eq(tenants.id, tenant.id));
    expect(await tenantLimits(stack.db, defaults, tenant.id)).toEqual({ ratePerSecond: 0.25, burst: 2, maxRunningJobs: 7 });
  });

  it('enforceCreateLimits applies the tenant’s own rate: 429 rate-limited with retryAfterSeconds', async () => {
    const tenant = await createTenant(stack.db, `rated-${randomBytes(4).toString('hex')}`);
    await stack.db.update(tenants).set({ createRatePerSecond: 0.1, createBurst: 2 }).where(eq(tenants.id, tenant.id));
    const deps = { db: stack.db, client: stack.client, config: stack.config };
    const caller = { tenantId: tenant.id };

    await enforceCreateLimits(deps, caller);
    await enforceCreateLimits(deps, caller);
    const err = await problemFrom(enforceCreateLimits(deps, caller));
    expect(err.slug).toBe('rate-limited');
    expect(err.status).toBe(429);
    expect(err.extra.retryAfterSeconds).toBe(10);

    // The bucket is the shared create bucket, so every API process sees it drained.
    const [row] = await stack.db
      .select()
      .from(rateLimitBuckets)
      .where(and(eq(rateLimitBuckets.tenantId, tenant.id), eq(rateLimitBuckets.bucket, createJobsBucket)));
    expect(row!.tokens).toBeLessThan(1);
  });
});

describe('running-jobs cap', () => {
  /** Starts a job workflow for `tenantId` on a queue no worker polls, so it stays Running. */
  async function startIdleJob(tenantId: string, taskQueue: string) {
    const jobId = `job_${randomBytes(6).toString('hex')}`;
    return await stack.client.workflow.start('webhookDeliverWorkflow', {
      taskQueue,
      workflowId: `${tenantId}:${jobId}`,
      args: [{ tenantId, jobId, input: { url: 'http://127.0.0.1:9/never', payload: {} } }],
      typedSearchAttributes: [{ key: searchAttributes.tenantId, value: tenantId }],
    });
  }

  /** Visibility is eventually consistent: the count, polled until it settles on what the caller expects. */
  const runningCount = (tenantId: string, timeoutMs = 15_000) => expect.poll(() => countRunningJobs(stack.client, tenantId), { timeout: timeoutMs, interval: 100 });

  it('counts the tenant’s running workflows and refuses at the cap, not below it', async () => {
    const taskQueue = `nobody-polls-${randomBytes(4).toString('hex')}`;
    const handles = [];
    for (let i = 0; i < 3; i++) handles.push(await startIdleJob(stack.tenantId, taskQueue));
    try {
      await runningCount(stack.tenantId).toBe(3);

      await expect(assertUnderRunningCap(stack.client, stack.tenantId, 4)).resolves.toBeUndefined();
      const err = await problemFrom(assertUnderRunningCap(stack.client, stack.tenantId, 3));
      expect(err.slug).toBe('running-jobs-cap');
      expect(err.status).toBe(429);
      expect(err.extra).toMatchObject({ runningJobs: 3, maxRunningJobs: 3 });

      // Through enforceCreateLimits, with the cap from the tenant row (and a rate that is not in the way).
      await stack.db.update(tenants).set({ maxRunningJobs: 3, createBurst: 100 }).where(eq(tenants.id, stack.tenantId));
      const deps = { db: stack.db, client: stack.client, config: stack.config };
      expect((await problemFrom(enforceCreateLimits(deps, { tenantId: stack.tenantId }))).slug).toBe('running-jobs-cap');

      // A job that stops running frees its slot (once visibility catches up).
      await handles.pop()!.terminate('test: free a slot');
      await runningCount(stack.tenantId).toBe(2);
      await expect(enforceCreateLimits(deps, { tenantId: stack.tenantId })).resolves.toBe('checked');
    } finally {
      await stack.db.update(tenants).set({ maxRunningJobs: null, createBurst: null }).where(eq(tenants.id, stack.tenantId));
      await Promise.all(handles.map((h) => h.terminate('test cleanup').catch(() => {})));
    }
  });

  it('does not count other tenants’ jobs, and refuses tenant ids that could break the query', async () => {
    const other = await createTenant(stack.db, `other-${randomBytes(4).toString('hex')}`);
    expect(await countRunningJobs(stack.client, other.id)).toBe(0);
    await expect(countRunningJobs(stack.client, 'x" OR TenantId != "')).rejects.toThrow(/refusing/);
  });
});
