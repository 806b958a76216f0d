import { sql } from 'drizzle-orm';
import { index, pgTable, smallint, text, timestamp, uniqueIndex } from 'drizzle-orm/pg-core';
import { tenants } from './tenants.ts';

/**
 * The record of every accepted job: who asked for it, with which idempotency
 * key and request hash, and which workflow runs it. Execution state (status,
 * result, attempts) is NOT copied here: Temporal owns it and the API reads it
 * from there, so this table cannot drift on terminate, reset or timeout.
 */
export const jobs = pgTable(
  'jobs',
  {
    id: text().primaryKey(),
    tenantId: text()
      .notNull()
      .references(() => tenants.id, { onDelete: 'cascade' }),
    type: text().notNull(),
    idempotencyKey: text(),
    /** SHA-256 of the canonical request body, to tell a replay from a conflicting reuse of a key. */
    requestHash: text().notNull(),
    workflowId: text().notNull().unique(),
    /**
     * First run id, set once the workflow start succeeded (with the job's
     * `job.create` audit record, in one transaction). Null: a claim, not a
     * job yet — not listed, 404 by id (api/jobs/claims.ts settles old ones).
     */
    firstRunId: text(),
    createdByKeyId: text(),
    /** Free-form `key=value` or plain labels for filtering lists (`GET /v1/jobs?label=`). */
    labels: text().array().notNull().default(sql`'{}'::text[]`),
    /** Temporal priority key 1 (first) … 5 (last); null = the server default (3). */
    priority: smallint(),
    /** The job this one re-runs (`POST /v1/jobs/{id}/retry`), if any. */
    retryOf: text(),
    /** Set when the job was started by a schedule. */
    scheduleId: text(),
    /** Receives the job's end event (`job.succeeded`, …) as a signed webhook, like a subscription would. */
    callbackUrl: text(),
    /**
     * For a run another workflow started (a batch item, an approval's
     * notification): the parent's workflow id, and its job once that has a row.
     * Rows of such runs, and of scheduled runs, are registered from visibility
     * by the job-end watcher (workers/job-events/started-runs.ts).
     */
    parentWorkflowId: text(),
    parentJobId: text(),
    createdAt: timestamp({ withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    uniqueIndex().on(t.tenantId, t.idempotencyKey),
    // Keyset pagination, newest first: job ids sort by creation time, so `id < cursor` pages are stable under inserts.
    index('jobs_tenant_id_desc_index').on(t.tenantId, t.id.desc()),
    index('jobs_labels_index').using('gin', t.labels),
    // A parent's children, newest first (`GET /v1/jobs/{id}/children`), and a schedule's runs.
    index('jobs_parent_index').on(t.tenantId, t.parentJobId, t.id.desc()).where(sql`${t.parentJobId} is not null`),
    index('jobs_schedule_index').on(t.tenantId, t.scheduleId, t.id.desc()).where(sql`${t.scheduleId} is not null`),
    // Claims whose workflow has not started (api/jobs/claims.ts finds them): few rows, so a partial index.
    index('jobs_unstarted_index').on(t.createdAt).where(sql`${t.firstRunId} is null`),
  ],
);

/** A jobs row as read. */
export type JobRow = typeof jobs.$inferSelect;
