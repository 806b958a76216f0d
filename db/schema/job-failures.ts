import { index, pgTable, text, timestamp } from 'drizzle-orm/pg-core';

/**
 * Dead letters: jobs whose current run failed or timed out, with the error
 * type and message, projected from Temporal by the job-end watcher
 * (workers/job-events/failures.ts) so failures can be grouped and selected
 * across job types without a history read per job. A later run of the job
 * that ends otherwise (after a reset) removes the row; a retry is a new job
 * (`jobs.retry_of`), so a retried failure stays, marked retried by that row.
 */
export const jobFailures = pgTable(
  'job_failures',
  {
    jobId: text().primaryKey(),
    tenantId: text().notNull(),
    jobType: text().notNull(),
    /** The run that failed. */
    runId: text().notNull(),
    /** `ApplicationFailure.type` (e.g. `WebhookRejected`), or `Timeout`, `Terminated`-like kinds for other causes. */
    errorType: text().notNull(),
    message: text().notNull(),
    failedAt: timestamp({ withTimezone: true }).notNull(),
  },
  (t) => [index('job_failures_tenant_index').on(t.tenantId, t.failedAt), index('job_failures_group_index').on(t.tenantId, t.jobType, t.errorType)],
);

export type JobFailureRow = typeof jobFailures.$inferSelect;
