/**
 * What the ingestion derives from a document: its text, its classification
 * and its chunks with their full-text index. Every row carries its lineage:
 * which version of the document it came from (SHA-256 of the bytes), which
 * workflow run and activity (and attempt) produced it, and the code version
 * of the worker that ran it (`JOBPLANE_CODE_VERSION`, see docs/JOB-TYPES.md "Documents").
 */
import { sql } from 'drizzle-orm';
import { customType, doublePrecision, index, integer, jsonb, pgTable, primaryKey, text, timestamp } from 'drizzle-orm/pg-core';
import { documents } from './documents.ts';

const tsvector = customType<{ data: string }>({ dataType: () => 'tsvector' });

/** Lineage columns every derived row has. */
const lineage = () => ({
  /** SHA-256 of the document bytes the row was derived from. */
  sourceSha256: text().notNull(),
  workflowId: text().notNull(),
  runId: text().notNull(),
  /** Activity type that wrote the row (`extractText`, `classifyDocument`, `indexDocument`). */
  activity: text().notNull(),
  activityAttempt: integer().notNull(),
  codeVersion: text().notNull(),
  producedAt: timestamp({ withTimezone: true }).notNull().defaultNow(),
});

export const documentTexts = pgTable('document_texts', {
  documentId: text()
    .primaryKey()
    .references(() => documents.id, { onDelete: 'cascade' }),
  tenantId: text().notNull(),
  /** Pages separated by form feeds (`\f`). */
  text: text().notNull(),
  charCount: integer().notNull(),
  /** PDFs only. */
  pageCount: integer(),
  ...lineage(),
});

export const documentClassifications = pgTable('document_classifications', {
  documentId: text()
    .primaryKey()
    .references(() => documents.id, { onDelete: 'cascade' }),
  tenantId: text().notNull(),
  label: text().notNull(),
  confidence: doublePrecision().notNull(),
  /** `rules@1` or `openai-compatible:<model>`. */
  classifier: text().notNull(),
  /** Per-class scores (rules) or the provider's answer, without any document text. */
  detail: jsonb(),
  ...lineage(),
});

/**
 * The full-text index: one row per chunk, with a generated `tsvector` under
 * a GIN index. Re-indexing replaces a document's chunks in one transaction,
 * so a retry or a reset never leaves two sets.
 */
export const documentChunks = pgTable(
  'document_chunks',
  {
    documentId: text()
      .notNull()
      .references(() => documents.id, { onDelete: 'cascade' }),
    chunkIndex: integer().notNull(),
    tenantId: text().notNull(),
    /** 1-based PDF page the chunk comes from; null for formats without pages. */
    page: integer(),
    charStart: integer().notNull(),
    content: text().notNull(),
    tsv: tsvector()
      .notNull()
      .generatedAlwaysAs(sql`to_tsvector('english'::regconfig, content)`),
    ...lineage(),
  },
  (t) => [
    primaryKey({ columns: [t.documentId, t.chunkIndex] }),
    index('document_chunks_tsv_index').using('gin', t.tsv),
    index('document_chunks_tenant_index').on(t.tenantId),
  ],
);

/** A document_classifications row as read. */
export type DocumentClassificationRow = typeof documentClassifications.$inferSelect;
