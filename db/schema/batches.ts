import { index, integer, jsonb, pgTable, primaryKey, text, timestamp } from 'drizzle-orm/pg-core';
import { tenants } from './tenants.ts';

/**
 * A stored list of batch items (`POST /v1/batch-inputs`), validated against
 * its job type when uploaded, so a `batch.run` job can reference 100,000
 * items without carrying them in workflow payloads.
 */
export const batchInputs = pgTable('batch_inputs', {
  id: text().primaryKey(),
  tenantId: text()
    .notNull()
    .references(() => tenants.id, { onDelete: 'cascade' }),
  jobType: text().notNull(),
  itemCount: integer().notNull(),
  createdByKeyId: text(),
  createdAt: timestamp({ withTimezone: true }).notNull().defaultNow(),
});

/** The items of a stored list, by 0-based index; the batch workflow reads them in pages. */
export const batchInputItems = pgTable(
  'batch_input_items',
  {
    inputId: text()
      .notNull()
      .references(() => batchInputs.id, { onDelete: 'cascade' }),
    idx: integer().notNull(),
    item: jsonb().notNull(),
  },
  (t) => [primaryKey({ columns: [t.inputId, t.idx] })],
);

/**
 * Items of a batch job whose latest run failed, one row per (batch job,
 * item index). Written by the batch workflow's activity with ON CONFLICT, so
 * a retried or reset activity writes the same row again; a retry round that
 * succeeds deletes the row. Read by the result, `retry-failed` and
 * `GET /v1/jobs/{id}/failed-items`.
 */
export const batchItemFailures = pgTable(
  'batch_item_failures',
  {
    tenantId: text().notNull(),
    batchJobId: text().notNull(),
    itemIndex: integer().notNull(),
    /** The retry round the item last failed in (0 = first pass). */
    round: integer().notNull(),
    errorType: text().notNull(),
    message: text().notNull(),
    failedAt: timestamp({ withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.tenantId, t.batchJobId, t.itemIndex] }), index().on(t.tenantId, t.batchJobId, t.round, t.itemIndex)],
);
