import { index, pgTable, text, timestamp, uniqueIndex } from 'drizzle-orm/pg-core';
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
    /** First run id, set once the workflow start succeeded; null means not started yet. */
    firstRunId: text(),
    createdByKeyId: text(),
    createdAt: timestamp({ withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [uniqueIndex().on(t.tenantId, t.idempotencyKey), index().on(t.tenantId, t.createdAt)],
);
