/**
 * What each closed run of a job cost, recorded once by the job-end watcher
 * as it reads closed runs: billable actions counted from the run's history
 * (billable-actions.ts), the history's size as the server reports it, the
 * activity attempts' wall time and CPU share the workers wrote
 * (workers/usage/activity-metering.ts), and the storage the job added. One
 * `job_run_usage` row per run and its addition to `usage_daily` go in one
 * transaction, guarded by the row's key: the watcher's overlap, a second
 * watcher or a cursor set back count nothing twice. Every closed run counts,
 * continued-as-new and reset ones too: each was work Temporal did.
 */
import type { Client } from '@temporalio/client';
import type { MetricMeter } from '@temporalio/common';
import proto from '@temporalio/proto';
import { and, inArray, isNotNull, lt, sql } from 'drizzle-orm';
import { documentIngest } from '../../contracts/index.ts';
import type { Db } from '../../db/client.ts';
import { activityAttemptUsage, jobRunUsage, jobs, type JobRow } from '../../db/schema/index.ts';
import { addDailyUsage, dailyUsageFigures, utcDay, type DailyUsageAdd, type DailyUsageKey, type Tx } from '../../db/usage.ts';
import { grpcCodeOf, grpcStatus } from '../../runtime/grpc-status.ts';
import type { Logger } from '../../runtime/logger.ts';
import { countBillableActions } from './billable-actions.ts';
import type { ClosedRun } from './closed-runs.ts';

export interface UsageDeps {
  db: Db;
  /** Reads run histories. */
  client: Client;
  log: Logger;
  meter: MetricMeter;
}

/** Counters per tenant and job type on the workers' Prometheus endpoint (the SDK adds no `_total`). */
export const usageMetrics = {
  runs: 'jobplane_usage_runs',
  actions: 'jobplane_usage_actions',
  historyBytes: 'jobplane_usage_history_bytes',
  activityCpuMs: 'jobplane_usage_activity_cpu_ms',
  activityWallMs: 'jobplane_usage_activity_wall_ms',
  storageBytes: 'jobplane_usage_storage_bytes',
} as const;

/** Histories read at once: each is one or a few frontend calls, not visibility's budget. */
const historyReadsInFlight = 8;
/** Runs measured, then recorded in one transaction. */
const runsPerTransaction = 50;

type RunUsageRow = typeof jobRunUsage.$inferInsert;

/** Bytes a document.ingest job added: the files it ingested and the text and chunks derived from them. */
async function storageAddedBy(db: Db, job: JobRow): Promise<number> {
  if (job.type !== documentIngest.type) return 0;
  const [row] = await db.execute<{ bytes: string | null }>(sql`
    select sum(d.size_bytes
      + coalesce((select octet_length(t.text) from document_texts t where t.document_id = d.id), 0)
      + coalesce((select sum(octet_length(c.content)) from document_chunks c where c.document_id = d.id), 0)) as bytes
    from documents d
    where d.tenant_id = ${job.tenantId} and d.job_id = ${job.id} and d.status <> 'deleted'`);
  return Number(row?.bytes ?? 0);
}

/** The run's figures from its history and the job's storage (activity figures are summed when recorded); undefined when the history is gone. */
async function measureRun(deps: UsageDeps, run: ClosedRun, job: JobRow): Promise<RunUsageRow | undefined> {
  let events;
  try {
    events = (await deps.client.workflow.getHandle(run.workflowId, run.runId).fetchHistory()).events ?? [];
  } catch (err) {
    // Past the namespace's retention the history is deleted: nothing left to count.
    if (grpcCodeOf(err) === grpcStatus.NOT_FOUND) {
      deps.log.warn({ workflowId: run.workflowId, runId: run.runId }, 'usage: run history not found (past retention?); run not counted');
      return undefined;
    }
    throw err;
  }
  const actions = countBillableActions(events);
  const historyBytes = run.historySizeBytes || events.reduce((sum, e) => sum + proto.temporal.api.history.v1.HistoryEvent.encode(e).finish().length, 0);
  return {
    workflowId: run.workflowId,
    runId: run.runId,
    tenantId: job.tenantId,
    jobId: job.id,
    jobType: job.type,
    day: utcDay(run.closedAt),
    closedAt: run.closedAt,
    executionStatus: run.executionStatus,
    actions: actions.total,
    actionsByKind: actions.byKind,
    historyBytes,
    historyEvents: run.historyLength || events.length,
    activityAttempts: actions.activityAttempts,
    activityWallMs: 0,
    activityCpuUs: 0,
    storageBytes: await storageAddedBy(deps.db, job),
  };
}

/** The attempt rows' sums of these runs, by run id (run ids are UUIDs: unique across workflows): one query. */
async function attemptSums(db: Db | Tx, rows: readonly RunUsageRow[]): Promise<Map<string, { wallMs: number; cpuUs: number }>> {
  const sums = await db
    .select({
      runId: activityAttemptUsage.runId,
      wallMs: sql<number>`coalesce(sum(${activityAttemptUsage.wallMs}), 0)`.mapWith(Number),
      cpuUs: sql<number>`coalesce(sum(${activityAttemptUsage.cpuUs}), 0)`.mapWith(Number),
    })
    .from(activityAttemptUsage)
    .where(and(inArray(activityAttemptUsage.workflowId, [...new Set(rows.map((r) => r.workflowId))]), inArray(activityAttemptUsage.runId, rows.map((r) => r.runId))))
    .groupBy(activityAttemptUsage.runId);
  return new Map(sums.map((s) => [s.runId, s]));
}

/**
 * Writes the runs' rows and adds them to the day's sums, in one transaction;
 * a run recorded before (the overlap, another watcher) is skipped by its key.
 * Returns the rows this call wrote.
 */
async function recordRuns(db: Db, measured: readonly RunUsageRow[]): Promise<RunUsageRow[]> {
  if (measured.length === 0) return [];
  return await db.transaction(async (tx) => {
    const sums = await attemptSums(tx, measured);
    let rows = measured.map((r) => ({ ...r, activityWallMs: sums.get(r.runId)?.wallMs ?? 0, activityCpuUs: sums.get(r.runId)?.cpuUs ?? 0 }));
    // Storage is the job's, not the run's: counted with its first recorded run only.
    const storing = rows.filter((r) => r.storageBytes);
    if (storing.length > 0) {
      const counted = await tx
        .selectDistinct({ jobId: jobRunUsage.jobId })
        .from(jobRunUsage)
        .where(and(inArray(jobRunUsage.jobId, storing.map((r) => r.jobId)), sql`${jobRunUsage.storageBytes} > 0`));
      const seen = new Set(counted.map((c) => c.jobId));
      rows = rows.map((r) => {
        if (!r.storageBytes) return r;
        if (seen.has(r.jobId)) return { ...r, storageBytes: 0 };
        seen.add(r.jobId);
        return r;
      });
    }
    const inserted = new Set((await tx.insert(jobRunUsage).values(rows).onConflictDoNothing().returning({ runId: jobRunUsage.runId })).map((r) => r.runId));
    const written = rows.filter((r) => inserted.has(r.runId));
    // One addition per tenant × type × day (a statement may not update one row twice).
    const byDay = new Map<string, { key: DailyUsageKey; add: Required<DailyUsageAdd> }>();
    for (const r of written) {
      const id = `${r.tenantId}/${r.jobType}/${r.day}`;
      const sum = byDay.get(id) ?? { key: { tenantId: r.tenantId, jobType: r.jobType, day: r.day }, add: Object.fromEntries(dailyUsageFigures.map((f) => [f, 0])) as Required<DailyUsageAdd> };
      for (const f of dailyUsageFigures) sum.add[f] += f === 'runs' ? 1 : (r[f] ?? 0);
      byDay.set(id, sum);
    }
    for (const { key, add } of byDay.values()) await addDailyUsage(tx, key, add);
    // Summed into the runs' rows, the attempt rows have done their part.
    if (written.length > 0) await tx.delete(activityAttemptUsage).where(inArray(activityAttemptUsage.runId, written.map((r) => r.runId)));
    return written;
  });
}

/** Records the usage of the closed runs of jobs in a page; returns how many runs a call recorded. */
export type UsageRecorder = (runs: readonly ClosedRun[]) => Promise<number>;

export function createUsageRecorder(deps: UsageDeps): UsageRecorder {
  const { db, meter } = deps;
  const counters = {
    runs: meter.createCounter(usageMetrics.runs, undefined, 'Closed job runs whose usage was recorded'),
    actions: meter.createCounter(usageMetrics.actions, undefined, 'Billable Temporal actions of closed job runs (as Temporal Cloud counts them)'),
    historyBytes: meter.createCounter(usageMetrics.historyBytes, 'bytes', 'History bytes of closed job runs'),
    activityCpuMs: meter.createCounter(usageMetrics.activityCpuMs, 'ms', "Activity attempts' share of worker main-thread busy time"),
    activityWallMs: meter.createCounter(usageMetrics.activityWallMs, 'ms', 'Wall time of activity attempts'),
    storageBytes: meter.createCounter(usageMetrics.storageBytes, 'bytes', 'Storage bytes jobs added'),
  };

  function count(row: RunUsageRow): void {
    const tags = { tenant: row.tenantId, job_type: row.jobType };
    counters.runs.add(1, tags);
    counters.actions.add(row.actions, tags);
    counters.historyBytes.add(row.historyBytes ?? 0, tags);
    counters.activityCpuMs.add(Math.round((row.activityCpuUs ?? 0) / 1000), tags);
    counters.activityWallMs.add(row.activityWallMs ?? 0, tags);
    if (row.storageBytes) counters.storageBytes.add(row.storageBytes, tags);
  }

  return async (runs) => {
    if (runs.length === 0) return 0;
    const workflowIds = [...new Set(runs.map((r) => r.workflowId))];
    const rows = await db
      .select()
      .from(jobs)
      .where(and(inArray(jobs.workflowId, workflowIds), isNotNull(jobs.firstRunId)));
    const jobOf = new Map(rows.map((r) => [r.workflowId, r]));
    // Recorded before (the last tick's overlap): one query, not a history read each.
    const recorded = new Set(
      (
        await db
          .select({ workflowId: jobRunUsage.workflowId, runId: jobRunUsage.runId })
          .from(jobRunUsage)
          .where(inArray(jobRunUsage.workflowId, workflowIds))
      ).map((r) => `${r.workflowId}/${r.runId}`),
    );
    const todo = runs.filter((r) => jobOf.has(r.workflowId) && !recorded.has(`${r.workflowId}/${r.runId}`));
    let written = 0;
    for (let i = 0; i < todo.length; i += runsPerTransaction) {
      const measured: RunUsageRow[] = [];
      const chunk = todo.slice(i, i + runsPerTransaction);
      for (let j = 0; j < chunk.length; j += historyReadsInFlight) {
        for (const row of await Promise.all(chunk.slice(j, j + historyReadsInFlight).map((run) => measureRun(deps, run, jobOf.get(run.workflowId)!)))) {
          if (row) measured.push(row);
        }
      }
      for (const row of await recordRuns(db, measured)) {
        written++;
        count(row);
      }
    }
    return written;
  };
}

/**
 * Attempt rows no closed job run took: attempts of workflows that are no job
 * (a debouncer, a platform workflow, another environment's runs), and of runs
 * still open after this long. Swept so the table holds weeks, not forever;
 * a job still running past it counts no CPU or wall time for its older attempts.
 */
export const attemptRowsKeptMs = 30 * 24 * 3600_000;

/** Deletes attempt rows older than {@link attemptRowsKeptMs}; returns how many. */
export async function sweepAttemptRows(db: Db, now = Date.now()): Promise<number> {
  const deleted = await db
    .delete(activityAttemptUsage)
    .where(lt(activityAttemptUsage.endedAt, new Date(now - attemptRowsKeptMs)))
    .returning({ runId: activityAttemptUsage.runId });
  return deleted.length;
}
