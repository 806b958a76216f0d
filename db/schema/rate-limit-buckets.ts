import { doublePrecision, pgTable, primaryKey, text, timestamp } from 'drizzle-orm/pg-core';

/**
 * Token buckets shared by every API process: a tenant's bucket is one row,
 * refilled and drawn from in a single UPDATE, so several API instances
 * enforce one limit together.
 */
export const rateLimitBuckets = pgTable(
  'rate_limit_buckets',
  {
    tenantId: text().notNull(),
    /** What the bucket limits, e.g. `job.create`. */
    bucket: text().notNull(),
    tokens: doublePrecision().notNull(),
    updatedAt: timestamp({ withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.tenantId, t.bucket] })],
);
