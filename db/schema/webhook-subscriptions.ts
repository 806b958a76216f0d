import { index, pgTable, text, timestamp } from 'drizzle-orm/pg-core';
import { tenants } from './tenants.ts';

/**
 * A tenant's endpoint for platform events (`document.ingested`). Each event
 * becomes one `webhook.deliver` job per subscription, with a job id derived
 * from the event and the subscription, so a retried or reset emitter never
 * sends it twice.
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
    description: text(),
    createdByKeyId: text(),
    createdAt: timestamp({ withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [index().on(t.tenantId)],
);
