import { pgTable, text, timestamp } from 'drizzle-orm/pg-core';

/**
 * How far the job-end watcher (workers/job-events/) has handled closed runs,
 * one row per Temporal namespace: every run that closed at or before
 * `handledUntil` has had its events emitted. Advanced only once a listed
 * window is fully handled, so a crash handles a window again rather than
 * skipping it (the derived delivery ids make that safe).
 */
export const jobEventCursors = pgTable('job_event_cursors', {
  namespace: text().primaryKey(),
  handledUntil: timestamp({ withTimezone: true }).notNull(),
  updatedAt: timestamp({ withTimezone: true }).notNull().defaultNow(),
});

export type JobEventCursorRow = typeof jobEventCursors.$inferSelect;
