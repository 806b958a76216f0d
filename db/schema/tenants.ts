import { doublePrecision, integer, pgTable, text, timestamp } from 'drizzle-orm/pg-core';

/** A tenant owns jobs, API keys and audit records; every query is scoped by its id. */
export const tenants = pgTable('tenants', {
  id: text().primaryKey(),
  name: text().notNull().unique(),
  createdAt: timestamp({ withTimezone: true }).notNull().defaultNow(),
  /** Quotas; null means the platform default from config. */
  createRatePerSecond: doublePrecision(),
  createBurst: integer(),
  maxRunningJobs: integer(),
  /** Documents are deleted this many days after upload (unless under legal hold); null keeps them. */
  documentRetentionDays: integer(),
});
