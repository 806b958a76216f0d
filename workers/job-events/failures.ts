/**
 * Dead letters: the job-end watcher projects each ended job's outcome into
 * `job_failures` (db/schema/job-failures.ts) as it reads closed runs. A run
 * that failed or timed out upserts the job's row with its error type and
 * message; a later run of the same job that ended otherwise (a reset that
 * then succeeded, say) removes it. Each write compares close times, so the
 * watcher's overlap, a second watcher or a cursor set back never moves the
 * row backwards: the projection converges on what Temporal says of the
 * job's latest run.
 */
import type { Client } from '@temporalio/client';
import { errorOf } from '../../domain/jobs/errors.ts';
import { and, eq, lte, sql } from 'drizzle-orm';
import type { Db } from '../../db/client.ts';
import { jobFailures, type JobRow } from '../../db/schema/index.ts';
import { storableText } from '../../db/text.ts';
import type { ClosedRun } from './closed-runs.ts';

/** Longest stored message: enough to recognise a failure, not a log. */
const maxMessageChars = 1000;

export interface FailureOf {
  errorType: string;
  message: string;
}

/** The error of a failed run, named as `GET /v1/jobs/{id}` names it (domain/jobs/errors.ts). */
export async function failureOfRun(client: Client, workflowId: string, runId: string): Promise<FailureOf> {
  try {
    await client.workflow.getHandle(workflowId, runId, { followRuns: false }).result();
    return { errorType: 'Error', message: 'the run closed without a failure' };
  } catch (err) {
    const { type, message } = errorOf(err);
    return { errorType: type, message };
  }
}

/** Records the outcome of each ended job's run (failed or timed out: a dead letter; anything else: none). */
export async function projectFailures(db: Db, failureOf: (run: ClosedRun) => Promise<FailureOf>, ended: readonly { run: ClosedRun; job: JobRow }[]): Promise<void> {
  for (const { run, job } of ended) {
    if (run.executionStatus === 'FAILED' || run.executionStatus === 'TIMED_OUT') {
      const failure = run.executionStatus === 'TIMED_OUT' ? { errorType: 'Timeout', message: 'the run passed its execution timeout' } : await failureOf(run);
      const row = {
        jobId: job.id,
        tenantId: job.tenantId,
        jobType: job.type,
        runId: run.runId,
        errorType: storableText(failure.errorType).slice(0, 200),
        message: storableText(failure.message).slice(0, maxMessageChars),
        failedAt: run.closedAt,
      };
      await db
        .insert(jobFailures)
        .values(row)
        .onConflictDoUpdate({ target: jobFailures.jobId, set: { runId: row.runId, errorType: row.errorType, message: row.message, failedAt: row.failedAt }, setWhere: sql`${jobFailures.failedAt} <= excluded.failed_at` });
    } else {
      // A later run ended otherwise: the job is no longer a dead letter (an older failure seen late changes nothing).
      await db.delete(jobFailures).where(and(eq(jobFailures.jobId, job.id), lte(jobFailures.failedAt, run.closedAt)));
    }
  }
}
