import { sql } from 'drizzle-orm';
import { bigint, boolean, index, integer, jsonb, pgTable, text, timestamp, uniqueIndex } from 'drizzle-orm/pg-core';
import { tenants } from './tenants.ts';

/** Mirrors `documentStatuses` in contracts/document-ingest.ts (db/ is a leaf and cannot import it). */
export const documentRowStatuses = ['processing', 'ingested', 'failed', 'deleted'] as const;

/**
 * One uploaded document. The bytes live in the blob store under `blob_key`;
 * derived data (text, classification, chunks) lives in
 * db/schema/document-index.ts with its lineage. A deleted document stays as
 * a tombstone (status `deleted`) with its checksum, title, file name, metadata
 * and blob key cleared, so the same bytes can be uploaded again and nothing
 * of the content survives.
 */
export const documents = pgTable(
  'documents',
  {
    id: text().primaryKey(),
    tenantId: text()
      .notNull()
      .references(() => tenants.id, { onDelete: 'cascade' }),
    status: text({ enum: documentRowStatuses }).notNull().default('processing'),
    title: text(),
    filename: text(),
    contentType: text().notNull(),
    sizeBytes: bigint({ mode: 'number' }).notNull(),
    /** Hex SHA-256 of the bytes; the per-tenant dedupe key (NULL once deleted: NULLs never conflict). */
    sha256: text(),
    blobKey: text(),
    /** The caller's `metadata` form field (a flat JSON object). */
    metadata: jsonb(),
    legalHold: boolean().notNull().default(false),
    /** The `document.ingest` job that ingests (or last ingested) it. */
    jobId: text(),
    uploadedByKeyId: text(),
    pageCount: integer(),
    charCount: integer(),
    chunkCount: integer(),
    failureType: text(),
    failureMessage: text(),
    /** `request` (DELETE) or `retention`. */
    deletionReason: text(),
    createdAt: timestamp({ withTimezone: true }).notNull().defaultNow(),
    updatedAt: timestamp({ withTimezone: true }).notNull().defaultNow(),
    ingestedAt: timestamp({ withTimezone: true }),
    failedAt: timestamp({ withTimezone: true }),
    deletedAt: timestamp({ withTimezone: true }),
  },
  (t) => [
    uniqueIndex('documents_tenant_sha256_unique').on(t.tenantId, t.sha256),
    // Keyset pages newest first (ids sort by creation time).
    index('documents_tenant_id_desc_index').on(t.tenantId, t.id.desc()),
    // The retention sweep: live documents by age.
    index('documents_retention_index').on(t.tenantId, t.createdAt).where(sql`status <> 'deleted'`),
  ],
);

/** A documents row as read. */
export type DocumentRow = typeof documents.$inferSelect;
