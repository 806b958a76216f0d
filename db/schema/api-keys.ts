import { index, jsonb, pgTable, text, timestamp } from 'drizzle-orm/pg-core';
import { tenants } from './tenants.ts';

/**
 * `admin` ⊃ `operator` ⊃ `submitter` ⊃ `viewer`; `codec` stands apart: it may
 * only decode (and encode) its tenant's payloads at `/codec`, the credential
 * the Temporal Web UI holds, and gets 403 on every `/v1` route.
 */
export const apiKeyRoles = ['admin', 'operator', 'submitter', 'viewer', 'codec'] as const;
export type ApiKeyRole = (typeof apiKeyRoles)[number];

/**
 * The actions a key's scope may list, one per kind of route (the table in
 * docs/API.md; api/http/key-scope.ts maps each to the least role it needs).
 * `read` covers every GET of jobs, schedules, documents and the catalog.
 */
export const apiKeyScopeActions = ['read', 'create', 'signal', 'update', 'cancel', 'schedule', 'reset', 'terminate', 'retry', 'document-delete', 'legal-hold'] as const;
export type ApiKeyScopeAction = (typeof apiKeyScopeActions)[number];

/**
 * What a scoped key is confined to, on top of its role (api/http/key-scope.ts
 * enforces it): job types it may see and act on, labels every job it sees
 * must carry, and the actions (a subset of its role's) it may take. A field
 * left out does not narrow; a null scope is an unscoped key.
 */
export interface ApiKeyScope {
  jobTypes?: string[];
  labels?: string[];
  actions?: ApiKeyScopeAction[];
}

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
    /** Null: the key may do whatever its role allows on every job of the tenant (every key made before scopes). */
    scope: jsonb().$type<ApiKeyScope>(),
  },
  (t) => [index().on(t.tenantId)],
);

/** An api_keys row as read (its secret only as a hash). */
export type ApiKeyRow = typeof apiKeys.$inferSelect;
