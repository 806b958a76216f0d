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
import { and, eq, inArray, isNotNull, sql } from 'drizzle-orm';
import { documentIngest } from '../../contracts/index.ts';
import type { Db } from '../../db/client.ts';
import { activityAttemptUsage, jobRunUsage, jobs, type JobRow } from '../../db/schema/index.ts';
import { addDailyUsage, utcDay } from '../../db/usage.ts';
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

/** The usage row of one run, from its history and its activities' rows; undefined when the history is gone. */
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
  const [activity] = await deps.db
    .select({
      wallMs: sql<string>`coalesce(sum(${activityAttemptUsage.wallMs}), 0)`,
      cpuUs: sql<string>`coalesce(sum(${activityAttemptUsage.cpuUs}), 0)`,
    })
    .from(activityAttemptUsage)
    .where(and(eq(activityAttemptUsage.workflowId, run.workflowId), eq(activityAttemptUsage.runId, run.runId)));
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
    activityWallMs: Number(activity?.wallMs ?? 0),
    activityCpuUs: Number(activity?.cpuUs ?? 0),
    storageBytes: await storageAddedBy(deps.db, job),
  };
}

/** Writes the run's row and adds it to the day's sums, once; the row as written when this call wrote it. */
async function recordRun(db: Db, row: RunUsageRow): Promise<RunUsageRow | undefined> {
  return await db.transaction(async (tx) => {
    // Storage is the job's, not the run's: counted with its first recorded run only.
    if (row.storageBytes) {
      const [counted] = await tx
        .select({ bytes: sql<string>`coalesce(sum(${jobRunUsage.storageBytes}), 0)` })
        .from(jobRunUsage)
        .where(and(eq(jobRunUsage.tenantId, row.tenantId), eq(jobRunUsage.jobId, row.jobId)));
      if (Number(counted?.bytes ?? 0) > 0) row = { ...row, storageBytes: 0 };
    }
    const inserted = await tx.insert(jobRunUsage).values(row).onConflictDoNothing().returning({ runId: jobRunUsage.runId });
    if (inserted.length === 0) return undefined;
    await addDailyUsage(
      tx,
      { tenantId: row.tenantId, jobType: row.jobType, day: row.day },
      {
        runs: 1,
        actions: row.actions,
        historyBytes: row.historyBytes,
        activityAttempts: row.activityAttempts,
        activityWallMs: row.activityWallMs,
        activityCpuUs: row.activityCpuUs,
        storageBytes: row.storageBytes,
      },
    );
    // Summed into the run's row: the attempt rows have done their part.
    await tx.delete(activityAttemptUsage).where(and(eq(activityAttemptUsage.workflowId, row.workflowId), eq(activityAttemptUsage.runId, row.runId)));
    return row;
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
    for (let i = 0; i < todo.length; i += historyReadsInFlight) {
      const measured = await Promise.all(todo.slice(i, i + historyReadsInFlight).map((run) => measureRun(deps, run, jobOf.get(run.workflowId)!)));
      for (const row of measured) {
        const recordedRow = row && (await recordRun(db, row));
        if (!recordedRow) continue;
        written++;
        count(recordedRow);
      }
    }
    return written;
  };
}
