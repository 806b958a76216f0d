import { bigserial, index, jsonb, pgTable, text, timestamp } from 'drizzle-orm/pg-core';

/** Who did what to which resource, and how it ended. Written in the same transaction as the change where there is one. */
export const auditEvents = pgTable(
  'audit_events',
  {
    id: bigserial({ mode: 'number' }).primaryKey(),
    tenantId: text(),
    actorKeyId: text(),
    action: text().notNull(),
    target: text(),
    requestId: text(),
    outcome: text({ enum: ['succeeded', 'failed', 'denied'] }).notNull(),
    detail: jsonb(),
    createdAt: timestamp({ withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [index().on(t.tenantId, t.createdAt)],
);
