import { sql } from 'drizzle-orm';
import { integer, pgTable, text, timestamp, uniqueIndex, bigserial } from 'drizzle-orm/pg-core';

export const webhookAttemptStatuses = ['in_flight', 'succeeded', 'retrying', 'failed', 'lost'] as const;
export type WebhookAttemptStatus = (typeof webhookAttemptStatuses)[number];

/**
 * One row per HTTP attempt of a webhook delivery. Keyed by (job, run, activity,
 * attempt) so a re-executed activity task updates its own row instead of adding
 * one, and at most one row per job may say `succeeded` (partial unique index):
 * that is what makes a retried or reset delivery skip a second send.
 */
export const webhookAttempts = pgTable(
  'webhook_attempts',
  {
    id: bigserial({ mode: 'number' }).primaryKey(),
    tenantId: text().notNull(),
    jobId: text().notNull(),
    workflowRunId: text().notNull(),
    activityId: text().notNull(),
    attempt: integer().notNull(),
    idempotencyKey: text().notNull(),
    url: text().notNull(),
    status: text({ enum: webhookAttemptStatuses }).notNull(),
    statusCode: integer(),
    error: text(),
    durationMs: integer(),
    startedAt: timestamp({ withTimezone: true }).notNull().defaultNow(),
    finishedAt: timestamp({ withTimezone: true }),
  },
  (t) => [
    uniqueIndex().on(t.jobId, t.workflowRunId, t.activityId, t.attempt),
    uniqueIndex('webhook_attempts_one_success_per_job')
      .on(t.jobId)
      .where(sql`status = 'succeeded'`),
  ],
);
