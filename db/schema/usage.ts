import { bigint, date, index, integer, jsonb, pgTable, primaryKey, text, timestamp } from 'drizzle-orm/pg-core';
import { tenants } from './tenants.ts';

/**
 * What jobs cost, in three tables (docs/USAGE.md says how each figure is
 * measured and how exact it is):
 *
 * - `activity_attempt_usage`: one row per activity attempt, written by the
 *   worker that ran it (workers/usage/) before it reports the attempt's end,
 *   so the rows of a run are in before the run can close.
 * - `job_run_usage`: one row per closed run of a job, written once by the
 *   job-end watcher (workers/job-events/usage.ts) from the run's history and
 *   the rows above.
 * - `usage_daily`: the sums per tenant × job type × UTC day, added to in the
 *   same transaction as the row they come from, so a sum never counts a row
 *   twice or misses one.
 */
export const activityAttemptUsage = pgTable(
  'activity_attempt_usage',
  {
    workflowId: text().notNull(),
    runId: text().notNull(),
    activityId: text().notNull(),
    attempt: integer().notNull(),
    activityType: text().notNull(),
    /** Wall time of the attempt on the worker, in ms. */
    wallMs: integer().notNull(),
    /** The attempt's share of the worker's main-thread busy time, in microseconds (workers/usage/cpu-share.ts). */
    cpuUs: bigint({ mode: 'number' }).notNull(),
    endedAt: timestamp({ withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.workflowId, t.runId, t.activityId, t.attempt] }), index('activity_attempt_usage_ended_index').on(t.endedAt)],
);

/** Counts of billable Temporal actions by kind (workers/job-events/billable-actions.ts). */
export type ActionCounts = Record<string, number>;

export const jobRunUsage = pgTable(
  'job_run_usage',
  {
    workflowId: text().notNull(),
    runId: text().notNull(),
    tenantId: text()
      .notNull()
      .references(() => tenants.id, { onDelete: 'cascade' }),
    jobId: text().notNull(),
    jobType: text().notNull(),
    /** UTC day the run closed: the day its figures are summed under. */
    day: date({ mode: 'string' }).notNull(),
    closedAt: timestamp({ withTimezone: true }).notNull(),
    executionStatus: text().notNull(),
    /** Billable actions, all kinds together, and by kind. */
    actions: integer().notNull(),
    actionsByKind: jsonb().$type<ActionCounts>().notNull(),
    /** The server's size of the run's history (visibility's HistorySizeBytes). */
    historyBytes: bigint({ mode: 'number' }).notNull(),
    historyEvents: integer().notNull(),
    activityAttempts: integer().notNull(),
    activityWallMs: bigint({ mode: 'number' }).notNull(),
    activityCpuUs: bigint({ mode: 'number' }).notNull(),
    /** Bytes the run added to Jobplane's storage (documents it ingested and what it derived from them). */
    storageBytes: bigint({ mode: 'number' }).notNull(),
    recordedAt: timestamp({ withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.workflowId, t.runId] }), index('job_run_usage_job_index').on(t.tenantId, t.jobId)],
);

export const usageDaily = pgTable(
  'usage_daily',
  {
    tenantId: text()
      .notNull()
      .references(() => tenants.id, { onDelete: 'cascade' }),
    jobType: text().notNull(),
    day: date({ mode: 'string' }).notNull(),
    runs: integer().notNull().default(0),
    actions: bigint({ mode: 'number' }).notNull().default(0),
    historyBytes: bigint({ mode: 'number' }).notNull().default(0),
    activityAttempts: bigint({ mode: 'number' }).notNull().default(0),
    activityWallMs: bigint({ mode: 'number' }).notNull().default(0),
    activityCpuUs: bigint({ mode: 'number' }).notNull().default(0),
    /** Storage the day's runs added, plus stored batch lists uploaded that day (under `batch.run`). */
    storageBytes: bigint({ mode: 'number' }).notNull().default(0),
  },
  (t) => [primaryKey({ columns: [t.tenantId, t.day, t.jobType] })],
);

export type JobRunUsageRow = typeof jobRunUsage.$inferSelect;
export type UsageDailyRow = typeof usageDaily.$inferSelect;
