import { index, pgTable, text, timestamp } from 'drizzle-orm/pg-core';
import { tenants } from './tenants.ts';

/**
 * `admin` ⊃ `operator` ⊃ `submitter` ⊃ `viewer`; `codec` stands apart: it may
 * only decode (and encode) its tenant's payloads at `/codec`, the credential
 * the Temporal Web UI holds, and gets 403 on every `/v1` route.
 */
export const apiKeyRoles = ['admin', 'operator', 'submitter', 'viewer', 'codec'] as const;
export type ApiKeyRole = (typeof apiKeyRoles)[number];

/**
 * API keys. Only a SHA-256 hash of the secret part is stored; the key id is
 * embedded in the key itself so lookup is by primary key and comparison of the
 * hash is constant-time.
 */
export const apiKeys = pgTable(
  'api_keys',
  {
    id: text().primaryKey(),
    tenantId: text()
      .notNull()
      .references(() => tenants.id, { onDelete: 'cascade' }),
    name: text().notNull(),
    role: text({ enum: apiKeyRoles }).notNull(),
    secretHash: text().notNull(),
    createdAt: timestamp({ withTimezone: true }).notNull().defaultNow(),
    expiresAt: timestamp({ withTimezone: true }),
    revokedAt: timestamp({ withTimezone: true }),
  },
  (t) => [index().on(t.tenantId)],
);

/** An api_keys row as read (its secret only as a hash). */
export type ApiKeyRow = typeof apiKeys.$inferSelect;
