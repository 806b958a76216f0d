import { index, pgTable, primaryKey, text, timestamp } from 'drizzle-orm/pg-core';

/**
 * A create's `dedupe` key, held by the job it created until `expiresAt`:
 * within the window every create of the tenant with the same key answers
 * that job (domain/jobs/dedupe.ts). One row per (tenant, key), taken over in
 * place once expired.
 */
export const jobDedupeKeys = pgTable(
  'job_dedupe_keys',
  {
    tenantId: text().notNull(),
    key: text().notNull(),
    /** The job that holds the key (its claim may still be starting). */
    jobId: text().notNull(),
    heldAt: timestamp({ withTimezone: true }).notNull().defaultNow(),
    expiresAt: timestamp({ withTimezone: true }).notNull(),
  },
  (t) => [primaryKey({ columns: [t.tenantId, t.key] }), index('job_dedupe_keys_expires_index').on(t.expiresAt)],
);
