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
    /** `pending`: an effect outside Postgres was begun and its end not recorded yet (db/audit.ts). */
    outcome: text({ enum: ['succeeded', 'failed', 'denied', 'pending'] }).notNull(),
    detail: jsonb(),
    createdAt: timestamp({ withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [index().on(t.tenantId, t.createdAt)],
);
