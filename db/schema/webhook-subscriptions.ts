import { sql } from 'drizzle-orm';
import { index, pgTable, text, timestamp } from 'drizzle-orm/pg-core';
import { tenants } from './tenants.ts';

/**
 * A tenant's endpoint for platform events (`document.ingested`, the job-end
 * events `job.succeeded`, …). Each event becomes one `webhook.deliver` job
 * per subscription, with a job id derived from the event and the
 * subscription, so a retried or reset emitter never sends it twice.
 */
export const webhookSubscriptions = pgTable(
  'webhook_subscriptions',
  {
    id: text().primaryKey(),
    tenantId: text()
      .notNull()
      .references(() => tenants.id, { onDelete: 'cascade' }),
    url: text().notNull(),
    events: text().array().notNull(),
    /** Job events only for jobs of these types; empty: every type. */
    jobTypes: text().array().notNull().default(sql`'{}'::text[]`),
    /** Job events only for jobs carrying every one of these labels (`team=payments`); empty: every job. */
    labels: text().array().notNull().default(sql`'{}'::text[]`),
    description: text(),
    createdByKeyId: text(),
    createdAt: timestamp({ withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [index().on(t.tenantId)],
);

/** A webhook_subscriptions row as read. */
export type WebhookSubscriptionRow = typeof webhookSubscriptions.$inferSelect;
