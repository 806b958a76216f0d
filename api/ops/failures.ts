/**
 * Dead letters across job types: `GET /v1/jobs/failures` groups the tenant's
 * failed jobs by job type and error type (from `job_failures`, the job-end
 * watcher's projection: workers/job-events/failures.ts), and
 * `POST /v1/jobs/retry` retries the failed jobs a filter selects, each as a
 * new job linked by `retryOf` (the single-job retry of service.ts, per job).
 *
 * A failure counts while it is not retried: a job with a retry (a `jobs` row
 * whose `retry_of` names it) has been handled. A bulk retry gives each job a
 * key derived from the call's Idempotency-Key, so the same call again finds
 * the retries it made (answered `already-retried`) and makes no second one,
 * and continues where a call cut short (a 429 midway) stopped.
 */
import { createHash } from 'node:crypto';
import { and, count, desc, eq, gte, lt, max, sql, type SQL } from 'drizzle-orm';
import { recordAudit } from '../../db/audit.ts';
import { jobFailures, jobs } from '../../db/schema/index.ts';
import type { TenantCaller } from '../http/auth.ts';
import { jobScopeConditions } from '../http/key-scope.ts';
import { ProblemError } from '../http/problems.ts';
import { auditEntry } from '../jobs/service.ts';
import { retryJob, type OpsServiceDeps } from './service.ts';

export interface FailureFilter {
  type?: string;
  errorType?: string;
  label?: string;
  failedAfter?: string;
  failedBefore?: string;
  /** Only the children of this job (a batch's failed items). */
  parentJobId?: string;
}

/** Most jobs one bulk retry may retry: a bigger selection is retried over several calls. */
export const maxBulkRetry = 100;

/** What every Idempotency-Key a bulk retry with `callKey` gives its jobs' retries starts with. */
function bulkRetryPrefix(callKey: string): string {
  return `bulk-retry:${createHash('sha256').update(callKey).digest('hex').slice(0, 32)}:`;
}

/** The Idempotency-Key of the retry of `jobId` by a bulk retry with `callKey`. */
export function bulkRetryKey(callKey: string, jobId: string): string {
  return bulkRetryPrefix(callKey) + jobId;
}

/** The failed jobs of the caller the filter selects (scope applied), optionally counting one call's own retries as not retried. */
function selection(caller: TenantCaller, filter: FailureFilter, callKey?: string): SQL {
  // This call's own retries do not hide their jobs from it: the same call again answers them.
  const ownRetry = callKey ? sql` and retries.idempotency_key is distinct from (${bulkRetryPrefix(callKey)} || ${jobFailures.jobId})` : sql``;
  const retried = sql`not exists (select 1 from ${jobs} as retries where retries.tenant_id = ${caller.tenantId} and retries.retry_of = ${jobFailures.jobId}${ownRetry})`;
  return and(
    eq(jobFailures.tenantId, caller.tenantId),
    retried,
    ...(filter.type ? [eq(jobFailures.jobType, filter.type)] : []),
    ...(filter.errorType ? [eq(jobFailures.errorType, filter.errorType)] : []),
    ...(filter.label ? [sql`${filter.label} = any(${jobs.labels})`] : []),
    ...(filter.failedAfter ? [gte(jobFailures.failedAt, new Date(filter.failedAfter))] : []),
    ...(filter.failedBefore ? [lt(jobFailures.failedAt, new Date(filter.failedBefore))] : []),
    ...(filter.parentJobId ? [eq(jobs.parentJobId, filter.parentJobId)] : []),
    ...jobScopeConditions(caller),
  )!;
}

export interface FailureGroup {
  jobType: string;
  errorType: string;
  count: number;
  lastFailedAt: string;
  /** The newest failure of the group: its job and message. */
  sample: { jobId: string; message: string };
}

/** Failed, not retried jobs by (job type, error type), biggest group first, with the newest failures. */
export async function failureGroups(deps: OpsServiceDeps, caller: TenantCaller, filter: FailureFilter, limit: number) {
  const where = selection(caller, filter);
  const groups = await deps.db
    .select({ jobType: jobFailures.jobType, errorType: jobFailures.errorType, count: count(), lastFailedAt: max(jobFailures.failedAt) })
    .from(jobFailures)
    .innerJoin(jobs, eq(jobs.id, jobFailures.jobId))
    .where(where)
    .groupBy(jobFailures.jobType, jobFailures.errorType)
    .orderBy(desc(count()), jobFailures.jobType, jobFailures.errorType)
    .limit(200);
  const newest = await deps.db
    .select({ jobId: jobFailures.jobId, jobType: jobFailures.jobType, errorType: jobFailures.errorType, message: jobFailures.message, failedAt: jobFailures.failedAt })
    .from(jobFailures)
    .innerJoin(jobs, eq(jobs.id, jobFailures.jobId))
    .where(where)
    .orderBy(desc(jobFailures.failedAt), desc(jobFailures.jobId))
    .limit(limit);
  // Each group's newest failure, in one query (the same order as `items`, ties by job id).
  const samples = await deps.db
    .selectDistinctOn([jobFailures.jobType, jobFailures.errorType], { jobType: jobFailures.jobType, errorType: jobFailures.errorType, jobId: jobFailures.jobId, message: jobFailures.message })
    .from(jobFailures)
    .innerJoin(jobs, eq(jobs.id, jobFailures.jobId))
    .where(where)
    .orderBy(jobFailures.jobType, jobFailures.errorType, desc(jobFailures.failedAt), desc(jobFailures.jobId));
  const sampleOf = new Map(samples.map((s) => [`${s.jobType}\n${s.errorType}`, { jobId: s.jobId, message: s.message }]));
  return {
    total: groups.reduce((n, g) => n + g.count, 0),
    groups: groups.map((g): FailureGroup => ({
      jobType: g.jobType,
      errorType: g.errorType,
      count: g.count,
      lastFailedAt: (g.lastFailedAt as Date).toISOString(),
      sample: sampleOf.get(`${g.jobType}\n${g.errorType}`)!,
    })),
    items: newest.map((f) => ({ ...f, failedAt: f.failedAt.toISOString() })),
  };
}

export interface BulkRetryResult {
  jobId: string;
  jobType: string;
  errorType: string;
  outcome: 'retried' | 'already-retried' | 'refused' | 'would-retry';
  retryJobId?: string;
  problem?: { type: string; detail: string };
}

/**
 * Retries up to `limit` of the selected failures, oldest first. Each job's
 * retry is `POST /v1/jobs/{id}/retry` with a key derived from the call's, so
 * nothing is retried twice by the same call; a job refused (its history gone,
 * the tenant's rate spent) is reported and the rest go on, except that a 429
 * or 503 stops the call: the same call again continues.
 */
export async function bulkRetry(
  deps: OpsServiceDeps,
  caller: TenantCaller,
  body: { filter: FailureFilter; dryRun: boolean; limit: number },
  idempotencyKey: string | undefined,
  requestId: string,
) {
  const callKey = idempotencyKey ?? requestId;
  const where = selection(caller, body.filter, callKey);
  const [{ matched }] = (await deps.db.select({ matched: count() }).from(jobFailures).innerJoin(jobs, eq(jobs.id, jobFailures.jobId)).where(where)) as [{ matched: number }];
  const picked = await deps.db
    .select({ job: jobs, errorType: jobFailures.errorType })
    .from(jobFailures)
    .innerJoin(jobs, eq(jobs.id, jobFailures.jobId))
    .where(where)
    .orderBy(jobFailures.failedAt, jobFailures.jobId)
    .limit(body.limit);
  const results: BulkRetryResult[] = [];
  let stoppedBy: string | undefined;
  for (const { job, errorType } of picked) {
    const base = { jobId: job.id, jobType: job.type, errorType };
    if (body.dryRun) {
      results.push({ ...base, outcome: 'would-retry' });
      continue;
    }
    if (stoppedBy) break;
    try {
      const { row, created } = await retryJob(deps, caller, job, bulkRetryKey(callKey, job.id), requestId);
      results.push({ ...base, outcome: created ? 'retried' : 'already-retried', retryJobId: row.id });
    } catch (err) {
      if (!(err instanceof ProblemError)) throw err;
      results.push({ ...base, outcome: 'refused', problem: { type: err.slug, detail: err.message } });
      if (err.status === 429 || err.status === 503) stoppedBy = err.slug;
    }
  }
  const summary = {
    matched,
    dryRun: body.dryRun,
    retried: results.filter((r) => r.outcome === 'retried').length,
    alreadyRetried: results.filter((r) => r.outcome === 'already-retried').length,
    refused: results.filter((r) => r.outcome === 'refused').length,
    stoppedBy: stoppedBy ?? null,
  };
  if (!body.dryRun) {
    await recordAudit(
      deps.db,
      auditEntry(caller, 'job.retry-bulk', idempotencyKey ?? requestId, requestId, { filter: body.filter, limit: body.limit, idempotencyKey: idempotencyKey ?? null, ...summary, jobIds: results.map((r) => r.jobId) }),
      summary.refused > 0 && summary.retried + summary.alreadyRetried === 0 ? 'failed' : 'succeeded',
    );
  }
  return { ...summary, results };
}

/** Both ends of a time filter must be in order. */
export function checkTimeRange(filter: FailureFilter): void {
  if (filter.failedAfter && filter.failedBefore && Date.parse(filter.failedAfter) >= Date.parse(filter.failedBefore)) {
    throw new ProblemError('validation-error', 'failedBefore must be after failedAfter', { errors: [{ path: 'failedBefore', message: 'must be after failedAfter' }] });
  }
}

