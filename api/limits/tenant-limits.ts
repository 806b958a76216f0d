/**
 * Per-tenant limits on job creation that hold across every API process:
 *
 * - a **token bucket** per (tenant, bucket) row in `rate_limit_buckets`,
 *   refilled by elapsed time and drawn from in one atomic SQL statement that
 *   reads the database clock, so any number of API processes (even with
 *   skewed clocks) enforce one shared rate;
 * - a **cap on running jobs**, counted by Temporal visibility, because Temporal
 *   owns execution state (DESIGN.md) and a projection of it could drift;
 *   creates read it through a per-process estimate (running-jobs.ts) that
 *   asks visibility only near the cap, never once per create.
 *
 * The bucket keeps no state in process memory; the cap's estimate does (a
 * cache of counts).
 *
 * A token take is the one write of a create that does not wait for its
 * commit to reach disk (`synchronous_commit = off` for that statement alone;
 * 3.4 ms against 0.3 ms per take on this machine's disk). Postgres still
 * writes it within `3 × wal_writer_delay` (600 ms by default), and any later
 * durable commit (the job's claim, which follows it) flushes it too. What a
 * Postgres crash can cost is therefore takes of the last 600 ms that no
 * durable commit followed: refused or failed creates, whose tokens a tenant
 * gets back. Never a job, an audit record or an idempotency claim, which all
 * commit durably.
 */
import { eq, sql, type SQL } from 'drizzle-orm';
import type { Client } from '@temporalio/client';
import type { Db } from '../../db/client.ts';
import { tenants } from '../../db/schema/index.ts';
import type { Config } from '../../runtime/config.ts';
import type { TenantQuota } from '../http/auth.ts';
import { ProblemError } from '../http/problems.ts';
import { runningJobsEstimatorFor } from './running-jobs.ts';
import { tallyVisibilityCall } from './visibility.ts';

/** The bucket that limits `POST /v1/jobs` (and anything else that starts a job). */
export const createJobsBucket = 'job.create';

/** Options of {@link takeToken}. */
export interface TakeTokenOptions {
  tenantId: string;
  /** What the bucket limits, e.g. {@link createJobsBucket}. */
  bucket: string;
  /** Tokens added per second of elapsed time; must be > 0. */
  ratePerSecond: number;
  /** Bucket size: the most tokens that can be taken at once after a quiet period; must be >= cost. */
  burst: number;
  /** Tokens this call takes. @default 1 */
  cost?: number;
  /**
   * A condition (`exists (…)`) under which the call takes nothing and answers
   * `{ allowed: true, skipped: true }`: checked in the same statement as the take, so a
   * create that replays an accepted Idempotency-Key costs no extra round trip.
   */
  skipIf?: SQL;
}

/** `skipped`: `skipIf` held, so nothing was taken (and nothing is owed). */
export type TakeTokenResult = { allowed: true; skipped?: true } | { allowed: false; retryAfterSeconds: number };

/**
 * Takes `cost` tokens from the tenant's bucket if it holds that many, creating
 * a full bucket on first use.
 *
 * The refill and the draw are one `INSERT … ON CONFLICT DO UPDATE … WHERE`:
 * Postgres locks the row and evaluates the `WHERE` against its latest
 * committed version, so concurrent callers in any number of processes are
 * serialised on the row and never take more than `burst + rate × elapsed`.
 * "Now" is `clock_timestamp()` of the database (not `now()`, which is frozen
 * for a whole transaction), taken once per call through `excluded.updated_at`.
 */
export async function takeToken(db: Db, opts: TakeTokenOptions): Promise<TakeTokenResult> {
  const { tenantId, bucket, ratePerSecond, burst, cost = 1 } = opts;
  assertBucketShape(ratePerSecond, burst, cost);
  // A bucket this process found empty cannot hold a token before it refills: refuse without asking (see emptyUntil).
  const emptyKey = `${tenantId}\0${bucket}\0${ratePerSecond}\0${burst}\0${cost}`;
  const waitMs = (emptyUntil.get(emptyKey) ?? 0) - Date.now();
  if (waitMs > 0) {
    // The skip still holds while the bucket is empty (a replay is answered, not refused): one read, no write.
    if (opts.skipIf && (await skipHolds(db, opts.skipIf))) return { allowed: true, skipped: true };
    return { allowed: false, retryAfterSeconds: Math.max(1, Math.ceil(waitMs / 1000)) };
  }
  const rate = sql`${ratePerSecond}::float8`;
  const size = sql`${burst}::float8`;
  const price = sql`${cost}::float8`;
  // A caller that waited on the row lock may carry a clock reading older than
  // the row's: greatest() keeps elapsed >= 0 and updated_at monotonic, so no
  // interval is ever credited twice.
  const refilled = sql`least(${size}, b.tokens + greatest(0, extract(epoch from excluded.updated_at - b.updated_at))::float8 * ${rate})`;
  // The take commits without waiting for its WAL flush (synchronous_commit off for this one statement's
  // transaction, see the module comment): no fsync wait in every create's path.
  const skip = opts.skipIf ?? sql`false`;
  const [outcome] = await db.execute<{ skipped: boolean; taken: boolean }>(sql`
    with no_flush_wait as (select set_config('synchronous_commit', 'off', true)),
    skip as (select ${skip} as yes),
    take as (
      insert into rate_limit_buckets as b (tenant_id, bucket, tokens, updated_at)
      select ${tenantId}, ${bucket}, ${size} - ${price}, clock_timestamp() from no_flush_wait, skip where not skip.yes
      on conflict (tenant_id, bucket) do update
        set tokens = ${refilled} - ${price},
            updated_at = greatest(b.updated_at, excluded.updated_at)
        where ${refilled} >= ${price}
      returning 1
    )
    select (select yes from skip) as skipped, exists (select 1 from take) as taken`);
  if (outcome?.skipped) return { allowed: true, skipped: true };
  if (outcome?.taken) return { allowed: true };
  const seconds = await secondsUntilAffordable(db, opts, cost);
  if (emptyUntil.size > 10_000) emptyUntil.clear(); // bounded: a cache, not state
  emptyUntil.set(emptyKey, Date.now() + seconds * 1000);
  return { allowed: false, retryAfterSeconds: Math.max(1, Math.ceil(seconds)) };
}

async function skipHolds(db: Db, skipIf: SQL): Promise<boolean> {
  const [row] = await db.execute<{ yes: boolean }>(sql`select ${skipIf} as yes`);
  return row?.yes === true;
}

/**
 * Buckets this process found too empty to pay, until when: other processes
 * only ever take tokens from a bucket, never add any, so a bucket short of
 * `cost` at time t cannot afford it before t + deficit / rate. Refusing
 * locally until then is exact (up to the duration of the query that read the
 * deficit), and it makes a flooding tenant's refusals cost no database round
 * trip and no wait on its bucket's row lock — waits that would otherwise hold
 * pooled connections every other tenant needs. Keyed by the limits too, so a
 * quota change takes effect at once.
 */
const emptyUntil = new Map<string, number>();

function assertBucketShape(ratePerSecond: number, burst: number, cost: number): void {
  if (!(Number.isFinite(ratePerSecond) && ratePerSecond > 0)) throw new RangeError(`ratePerSecond must be a positive number, got ${ratePerSecond}`);
  if (!(Number.isFinite(cost) && cost > 0)) throw new RangeError(`cost must be a positive number, got ${cost}`);
  // A bucket smaller than one call's cost could never allow it: a configuration bug, not a 429.
  if (!(Number.isFinite(burst) && burst >= cost)) throw new RangeError(`burst (${burst}) must be at least cost (${cost})`);
}

/**
 * How long until the bucket holds `cost` tokens, in seconds, for `Retry-After`
 * and the local refusal window. A separate read after the refusal: others may
 * drain the bucket meanwhile (so it may take longer), never fill it faster.
 */
async function secondsUntilAffordable(db: Db, opts: TakeTokenOptions, cost: number): Promise<number> {
  const [row] = await db.execute<{ available: number }>(sql`
    select least(${opts.burst}::float8,
                 tokens + greatest(0, extract(epoch from clock_timestamp() - updated_at))::float8 * ${opts.ratePerSecond}::float8) as available
    from rate_limit_buckets
    where tenant_id = ${opts.tenantId} and bucket = ${opts.bucket}`);
  const deficit = cost - (row?.available ?? 0);
  return Math.max(0, deficit / opts.ratePerSecond);
}

/** A tenant's effective quotas. */
export interface TenantLimits {
  ratePerSecond: number;
  burst: number;
  maxRunningJobs: number;
}

/** The config defaults {@link tenantLimits} falls back to. */
export type LimitDefaults = Pick<Config, 'createRatePerSecond' | 'createBurst' | 'maxRunningJobs'>;

/**
 * The tenant's quotas: each nullable column on `tenants` overrides its
 * platform default from config on its own. An unknown tenant gets the
 * defaults (callers are authenticated, so that only happens mid-deletion).
 */
export async function tenantLimits(db: Db, config: LimitDefaults, tenantId: string): Promise<TenantLimits> {
  const [row] = await db
    .select({ createRatePerSecond: tenants.createRatePerSecond, createBurst: tenants.createBurst, maxRunningJobs: tenants.maxRunningJobs })
    .from(tenants)
    .where(eq(tenants.id, tenantId));
  return limitsFrom(row ?? { createRatePerSecond: null, createBurst: null, maxRunningJobs: null }, config);
}

/** A tenant's overrides over the platform defaults. */
export function limitsFrom(quota: TenantQuota, config: LimitDefaults): TenantLimits {
  return {
    ratePerSecond: quota.createRatePerSecond ?? config.createRatePerSecond,
    burst: quota.createBurst ?? config.createBurst,
    maxRunningJobs: quota.maxRunningJobs ?? config.maxRunningJobs,
  };
}

// Visibility queries are strings; only ids that cannot break out of the quoted literal go in.
const safeTenantId = /^[A-Za-z0-9_-]+$/;

/**
 * Jobs of the tenant that Temporal currently counts as running (including
 * ones no worker has picked up yet).
 *
 * Visibility is eventually consistent: a workflow started or closed a moment
 * ago may not be counted yet (on the dev server typically for well under a
 * second; longer under load with Elasticsearch). The running-jobs cap built
 * on this is therefore approximate: a burst of concurrent creates can
 * overshoot it by a few jobs. That is acceptable for a fairness cap; the rate
 * limit above is the exact guard.
 */
export async function countRunningJobs(client: Client, tenantId: string): Promise<number> {
  if (!safeTenantId.test(tenantId)) throw new Error(`refusing to build a visibility query for tenant id ${JSON.stringify(tenantId)}`);
  const { count } = await client.workflow.count(`TenantId = "${tenantId}" AND ExecutionStatus = "Running"`);
  return count;
}

/**
 * Throws `running-jobs-cap` (429) when the tenant already runs
 * `maxRunningJobs` or more jobs, by an exact visibility count (ops and
 * tests; creates use {@link enforceCreateLimits}, which estimates).
 */
export async function assertUnderRunningCap(client: Client, tenantId: string, maxRunningJobs: number): Promise<void> {
  throwIfAtCap(await countRunningJobs(client, tenantId), maxRunningJobs);
}

function throwIfAtCap(running: number, maxRunningJobs: number): void {
  if (running >= maxRunningJobs) {
    throw new ProblemError('running-jobs-cap', `the tenant runs ${running} jobs; its limit is ${maxRunningJobs} at once`, {
      runningJobs: running,
      maxRunningJobs,
    });
  }
}

/** The caller whose tenant is limited; any tenant `Caller` from `auth.ts` fits (the platform key creates no jobs). */
export interface LimitedCaller {
  tenantId: string;
  /** The quota overrides authentication read with the key; without them they are read here. */
  quota?: TenantQuota;
}

/** What {@link enforceCreateLimits} needs; `JobServiceDeps` satisfies it. */
export interface LimitsDeps {
  db: Db;
  client: Client;
  config: LimitDefaults & Pick<Config, 'runningCountRatePerSecond' | 'visibilityTimeoutMs'>;
  /** The client for visibility calls (no retry of throttled calls, see visibility.ts). @default client */
  visibilityClient?: Client;
  log?: { warn(obj: object, msg: string): void };
}

/** The estimate of the tenant's running jobs this process keeps (one per client; the estimator budgets its counts). */
function runningEstimate(deps: LimitsDeps) {
  const counter = deps.visibilityClient ?? deps.client;
  return runningJobsEstimatorFor(
    deps.client,
    deps.config,
    (tenantId) => {
      tallyVisibilityCall('count of running jobs', 'sent');
      return counter.withDeadline(Date.now() + deps.config.visibilityTimeoutMs, () => countRunningJobs(counter, tenantId));
    },
    (err) => deps.log?.warn({ err }, 'running-jobs count failed; the cap uses the last estimate'),
  );
}

/** Tells the cap's estimate that this process started a job of the tenant. */
export function noteJobStarted(deps: LimitsDeps, tenantId: string): void {
  runningEstimate(deps).noteStarted(tenantId);
}

/**
 * Applies the tenant's create limits before a job is started: the rate first
 * (one cheap Postgres statement, and it stops a flood before it reaches
 * Temporal), then the running cap (an estimate that asks Temporal only when
 * the tenant could be at its cap, see running-jobs.ts).
 *
 * @throws ProblemError `rate-limited` (429) with `extra.retryAfterSeconds`, which `app.onError` turns into `Retry-After`.
 * @throws ProblemError `running-jobs-cap` (429) when the tenant is at its cap.
 *
 * A create refused by the cap has still spent its token: refused clients that
 * retry in a loop are slowed down too. With `skipIf` (a replayed
 * Idempotency-Key, say) holding, nothing is checked or spent: `'skipped'`.
 */
export async function enforceCreateLimits(deps: LimitsDeps, caller: LimitedCaller, opts: Pick<TakeTokenOptions, 'skipIf'> = {}): Promise<'checked' | 'skipped'> {
  const limits = caller.quota ? limitsFrom(caller.quota, deps.config) : await tenantLimits(deps.db, deps.config, caller.tenantId);
  const token = await takeToken(deps.db, {
    tenantId: caller.tenantId,
    bucket: createJobsBucket,
    ratePerSecond: limits.ratePerSecond,
    burst: limits.burst,
    ...opts,
  });
  if (token.allowed && token.skipped) return 'skipped';
  if (!token.allowed) {
    throw new ProblemError(
      'rate-limited',
      `the tenant may create ${limits.ratePerSecond} jobs per second (bursts of ${limits.burst}); retry in ${token.retryAfterSeconds} s`,
      { retryAfterSeconds: token.retryAfterSeconds },
    );
  }
  throwIfAtCap(await runningEstimate(deps).running(caller.tenantId, limits), limits.maxRunningJobs);
  return 'checked';
}
