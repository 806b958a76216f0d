/**
 * Reading what jobs cost. The job-end watcher (workers/job-events/) writes one
 * `job_run_usage` row per closed run and adds it to `usage_daily` in the same
 * transaction; this module only reads them, always by the caller's tenant:
 *
 * - {@link usageReport}: the tenant's `usage_daily` sums over a range of UTC
 *   days, by job type or by day (a range of days is a few hundred rows at most,
 *   so no run-level table is scanned);
 * - {@link jobUsage}: the `job_run_usage` rows of one job the caller may see.
 */
import { and, asc, between, eq, sql, type AnyColumn } from 'drizzle-orm';
import type { Db } from '../../db/client.ts';
import { jobRunUsage, usageDaily, type JobRow } from '../../db/schema/index.ts';
import { dailyUsageFigures, utcDay } from '../../db/usage.ts';
import type { TenantCaller } from '../http/auth.ts';
import { ProblemError } from '../http/problems.ts';
import { defaultUsageRangeDays, maxUsageRangeDays, type JobUsageView, type UsageGrouping, type UsageReportView } from './schemas.ts';

const dayMs = 86_400_000;

/** `YYYY-MM-DD` of the UTC day `ms` falls on. */
const msOf = (day: string): number => Date.parse(`${day}T00:00:00Z`);

/**
 * The inclusive range of UTC days a query asks for, defaults filled in
 * (`to`: today; `from`: `to` − 29 days). A reversed range or one over
 * {@link maxUsageRangeDays} is a 400 naming the field the caller gave (`to`
 * when both were: like the schedule backfill's range).
 */
export function usageRange(query: { from?: string; to?: string }, now = Date.now()): { from: string; to: string } {
  const to = query.to ?? utcDay(new Date(now));
  const from = query.from ?? utcDay(new Date(msOf(to) - (defaultUsageRangeDays - 1) * dayMs));
  const field = query.to === undefined ? 'from' : 'to';
  const refuse = (message: string) => new ProblemError('validation-error', `${field}: ${message}`, { errors: [{ path: `query.${field}`, message }] });
  if (to < from) throw refuse(query.to === undefined ? `must not be after today (${to}), the default of to` : 'must not be before from');
  const days = (msOf(to) - msOf(from)) / dayMs + 1;
  if (days > maxUsageRangeDays) throw refuse(`the range may span at most ${maxUsageRangeDays} days, both ends counted (this one spans ${days})`);
  return { from, to };
}

/** Sums as JSON numbers: Postgres answers `sum(bigint)` as numeric, which the driver reads as a string. */
const summed = (column: AnyColumn) => sql<number>`coalesce(sum(${column}), 0)`.mapWith(Number);

interface RawFigures {
  runs: number;
  actions: number;
  historyBytes: number;
  activityAttempts: number;
  activityWallMs: number;
  activityCpuUs: number;
  storageBytes: number;
}

/** Microseconds of CPU as milliseconds with 3 decimals (exact: the stored figure is whole microseconds). */
export const cpuMsOf = (cpuUs: number): number => Math.round(cpuUs) / 1000;

/** The API's figures from the stored ones (CPU in ms, not µs). */
function figuresOf({ activityCpuUs, ...rest }: RawFigures) {
  return { ...rest, activityCpuMs: cpuMsOf(activityCpuUs) };
}

/** Adds up rows of figures; the CPU is summed in µs and converted once, so rounding never accumulates. */
function sumOf<K extends string>(rows: readonly Record<K, number>[], keys: readonly K[]): Record<K, number> {
  const out = Object.fromEntries(keys.map((k) => [k, 0])) as Record<K, number>;
  for (const row of rows) for (const k of keys) out[k] += row[k];
  return out;
}

/**
 * `GET /v1/usage`: the tenant's usage over `[from, to]` (UTC days, both
 * included), one item per job type (by name) or per day that has rows
 * (oldest first), with the sum of them all.
 */
export async function usageReport(db: Db, caller: TenantCaller, range: { from: string; to: string }, groupBy: UsageGrouping): Promise<UsageReportView> {
  const key = groupBy === 'type' ? usageDaily.jobType : usageDaily.day;
  const rows = await db
    .select({
      key,
      runs: summed(usageDaily.runs),
      actions: summed(usageDaily.actions),
      historyBytes: summed(usageDaily.historyBytes),
      activityAttempts: summed(usageDaily.activityAttempts),
      activityWallMs: summed(usageDaily.activityWallMs),
      activityCpuUs: summed(usageDaily.activityCpuUs),
      storageBytes: summed(usageDaily.storageBytes),
    })
    .from(usageDaily)
    .where(and(eq(usageDaily.tenantId, caller.tenantId), between(usageDaily.day, range.from, range.to)))
    .groupBy(key)
    // Job types by name in byte order (`collate "C"`), so the order does not depend on the database's locale.
    .orderBy(groupBy === 'type' ? sql`${usageDaily.jobType} collate "C"` : asc(usageDaily.day));
  const sum = figuresOf(sumOf(rows, dailyUsageFigures));
  if (groupBy === 'type') return { ...range, groupBy, items: rows.map(({ key, ...f }) => ({ jobType: key, ...figuresOf(f) })), total: sum };
  return { ...range, groupBy, items: rows.map(({ key, ...f }) => ({ day: key, ...figuresOf(f) })), total: sum };
}

const runKeys = ['actions', 'historyBytes', 'historyEvents', 'activityAttempts', 'activityWallMs', 'activityCpuUs', 'storageBytes'] as const;

/**
 * `GET /v1/jobs/{id}/usage`: each closed run of `job` (already found and
 * checked visible by the caller: `findJob`), in the order they closed, and
 * their sum. No closed run yet: no runs and zeros.
 */
export async function jobUsage(db: Db, caller: TenantCaller, job: JobRow): Promise<JobUsageView> {
  const rows = await db
    .select()
    .from(jobRunUsage)
    // By tenant too, though the job is the caller's already: the index is (tenant_id, job_id), and no other tenant's row can slip in.
    .where(and(eq(jobRunUsage.tenantId, caller.tenantId), eq(jobRunUsage.jobId, job.id)))
    .orderBy(asc(jobRunUsage.closedAt), asc(jobRunUsage.runId));
  const { activityCpuUs, ...sum } = sumOf(rows, runKeys);
  return {
    jobId: job.id,
    jobType: job.type,
    runs: rows.map((r) => ({
      runId: r.runId,
      closedAt: r.closedAt.toISOString(),
      status: r.executionStatus,
      day: r.day,
      actions: r.actions,
      actionsByKind: r.actionsByKind,
      historyBytes: r.historyBytes,
      historyEvents: r.historyEvents,
      activityAttempts: r.activityAttempts,
      activityWallMs: r.activityWallMs,
      activityCpuMs: cpuMsOf(r.activityCpuUs),
      storageBytes: r.storageBytes,
    })),
    total: { ...sum, activityCpuMs: cpuMsOf(activityCpuUs) },
  };
}
