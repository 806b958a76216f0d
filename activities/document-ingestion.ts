/**
 * The `document.ingest` activities. Each reads and writes Postgres by the
 * document id, with the document row locked (`FOR UPDATE`) while it writes,
 * so a concurrent delete either happens before (the step fails with
 * `DocumentDeleted`) or after (it removes what the step wrote). Each write is
 * keyed: the text and the classification are upserted by document, and the
 * chunks are replaced in one transaction — a retried activity or a reset
 * workflow leaves exactly one set. Only ids, counts and the class travel in
 * workflow payloads; the bytes and the text stay in the blob store and
 * Postgres.
 */
import { createHash } from 'node:crypto';
import { ApplicationFailure, Context } from '@temporalio/activity';
import { and, eq, inArray, sql } from 'drizzle-orm';
import type { Db } from '../db/client.ts';
import { documentChunks, documentClassifications, documents, documentTexts } from '../db/schema/index.ts';
import { documentFailureTypes, type Classification, type DocumentContentType } from '../contracts/index.ts';
import { BlobTooLargeError, readBlob, type BlobStore } from '../runtime/blob-store.ts';
import { chunkPages } from './document-chunks.ts';
import type { Classifier } from './document-classifier.ts';
import { currentLineage } from './document-lineage.ts';
import { DocumentTooComplexError, extractDocumentText, TextTooLongError, UnreadableDocumentError, type ExtractionLimits } from './document-text.ts';

export interface DocumentDeps {
  db: Db;
  blobs: BlobStore;
  classifier: Classifier;
  /** Recorded in every derived row's lineage. */
  codeVersion: string;
  maxBytes: number;
  chunkChars: number;
  /** What extracting one document's text may cost (pages, inflated bytes, time, memory, characters). */
  extraction: ExtractionLimits;
}

/** Which document a step works on. */
export interface DocumentRef {
  tenantId: string;
  documentId: string;
  /** The `document.ingest` job running the step. */
  jobId: string;
}

export interface SourceRef extends DocumentRef {
  sha256: string;
}

type DocumentRow = typeof documents.$inferSelect;
type Tx = Parameters<Parameters<Db['transaction']>[0]>[0];

const fail = (type: string, message: string) => ApplicationFailure.nonRetryable(message, type);

/** The document row, locked for the transaction; fails for good when it is gone or deleted. */
async function lockLive(tx: Tx, ref: DocumentRef): Promise<DocumentRow> {
  const [row] = await tx
    .select()
    .from(documents)
    .where(and(eq(documents.id, ref.documentId), eq(documents.tenantId, ref.tenantId)))
    .for('update');
  if (!row) throw fail(documentFailureTypes.notFound, `no document ${ref.documentId} for tenant ${ref.tenantId}`);
  if (row.status === 'deleted') throw fail(documentFailureTypes.deleted, `document ${ref.documentId} was deleted`);
  return row;
}

async function readLive(db: Db, ref: DocumentRef): Promise<DocumentRow> {
  return await db.transaction((tx) => lockLive(tx, ref));
}

/**
 * {@link lockLive} for a step about to write derived rows: the document must
 * still be this job's and not failed. An attempt that outlived its job's
 * compensation (a cancelled job's activity finishing late) or an operator's
 * retry writes nothing.
 */
async function lockForWrite(tx: Tx, ref: DocumentRef): Promise<DocumentRow> {
  const row = await lockLive(tx, ref);
  if (row.status === 'failed' || row.jobId !== ref.jobId) {
    throw fail(documentFailureTypes.superseded, `document ${ref.documentId} is no longer being ingested by job ${ref.jobId}`);
  }
  return row;
}

export function createDocumentActivities(deps: DocumentDeps) {
  const { db, blobs } = deps;
  const logFields = (ref: DocumentRef) => ({ tenantId: ref.tenantId, documentId: ref.documentId, jobId: ref.jobId });

  /**
   * Claims the document for this job: a failed document (an operator's
   * retry) goes back to `processing`; an ingested one (a reset) stays
   * searchable while it is re-derived. Checks the bytes are stored.
   */
  async function beginIngestion(ref: DocumentRef): Promise<{ sha256: string; contentType: DocumentContentType; sizeBytes: number }> {
    const row = await db.transaction(async (tx) => {
      const live = await lockLive(tx, ref);
      await tx
        .update(documents)
        .set({
          jobId: ref.jobId,
          updatedAt: new Date(),
          ...(live.status === 'failed' ? { status: 'processing' as const, failureType: null, failureMessage: null, failedAt: null } : {}),
        })
        .where(eq(documents.id, live.id));
      return live;
    });
    if (!row.blobKey || !row.sha256) throw fail(documentFailureTypes.blobMissing, `document ${ref.documentId} has no stored bytes`);
    const stored = await blobs.head(row.blobKey);
    // The upload stores the bytes before it starts the job, so a miss is not a race: say so, and let the retry policy try again.
    if (!stored) throw ApplicationFailure.retryable(`the bytes of document ${ref.documentId} are not in the blob store`, documentFailureTypes.blobMissing);
    if (stored.size !== row.sizeBytes) throw fail(documentFailureTypes.blobCorrupt, `stored blob has ${stored.size} bytes, the document ${row.sizeBytes}`);
    Context.current().log.info('document ingestion started', { ...logFields(ref), contentType: row.contentType, sizeBytes: row.sizeBytes });
    return { sha256: row.sha256, contentType: row.contentType as DocumentContentType, sizeBytes: row.sizeBytes };
  }

  /** Reads the bytes, checks their SHA-256, extracts the text and stores it with its lineage. */
  async function extractText(ref: SourceRef & { contentType: DocumentContentType }): Promise<{ charCount: number; pageCount: number | null }> {
    const ctx = Context.current();
    const row = await readLive(db, ref);
    const bytes = row.blobKey ? await readBlobOrFail(blobs, row.blobKey, deps.maxBytes) : undefined;
    if (!bytes) throw ApplicationFailure.retryable(`the bytes of document ${ref.documentId} are not in the blob store`, documentFailureTypes.blobMissing);
    const actual = createHash('sha256').update(bytes).digest('hex');
    if (actual !== ref.sha256) throw fail(documentFailureTypes.blobCorrupt, `stored bytes hash to ${actual}, expected ${ref.sha256}`);

    let extracted;
    try {
      extracted = await extractDocumentText(bytes, ref.contentType, deps.extraction, () => ctx.heartbeat());
    } catch (err) {
      if (err instanceof UnreadableDocumentError) throw fail(documentFailureTypes.unreadable, err.message);
      if (err instanceof DocumentTooComplexError) throw fail(documentFailureTypes.tooComplex, err.message);
      if (err instanceof TextTooLongError) throw fail(documentFailureTypes.tooLong, err.message);
      throw err;
    }
    const text = extracted.pages.join('\f');
    if (!text.replace(/\f/g, '').trim()) {
      throw fail(documentFailureTypes.empty, extracted.pageCount ? `no text in ${extracted.pageCount} page(s) (a scan without a text layer?)` : 'the document has no text');
    }
    if (text.length > deps.extraction.maxTextChars) throw fail(documentFailureTypes.tooLong, `${text.length} characters of text, more than the ${deps.extraction.maxTextChars} allowed`);

    const lineage = currentLineage(ref.sha256, deps.codeVersion);
    const values = { documentId: ref.documentId, tenantId: ref.tenantId, text, charCount: text.length, pageCount: extracted.pageCount, ...lineage };
    await db.transaction(async (tx) => {
      await lockForWrite(tx, ref);
      await tx
        .insert(documentTexts)
        .values(values)
        .onConflictDoUpdate({ target: documentTexts.documentId, set: { ...values, producedAt: new Date() } });
    });
    ctx.log.info('document text extracted', { ...logFields(ref), charCount: text.length, pageCount: extracted.pageCount });
    return { charCount: text.length, pageCount: extracted.pageCount };
  }

  async function storedText(ref: DocumentRef): Promise<string> {
    const [row] = await db.select({ text: documentTexts.text }).from(documentTexts).where(eq(documentTexts.documentId, ref.documentId));
    // The previous step stored it; missing means a delete or a compensation ran in between.
    if (!row) throw fail(documentFailureTypes.deleted, `the text of document ${ref.documentId} is gone`);
    return row.text;
  }

  /** Classifies the stored text with the configured provider and stores the class with its lineage. */
  async function classifyDocument(ref: SourceRef): Promise<Classification> {
    const ctx = Context.current();
    const doc = await readLive(db, ref);
    const text = await storedText(ref);
    const result = await deps.classifier.classify(
      { documentId: ref.documentId, title: doc.title, contentType: doc.contentType, text: text.replace(/\f/g, '\n') },
      { heartbeat: () => ctx.heartbeat(), signal: ctx.cancellationSignal },
    );
    const lineage = currentLineage(ref.sha256, deps.codeVersion);
    const values = {
      documentId: ref.documentId,
      tenantId: ref.tenantId,
      label: result.label,
      confidence: result.confidence,
      classifier: result.classifier,
      detail: result.detail ?? null,
      ...lineage,
    };
    await db.transaction(async (tx) => {
      await lockForWrite(tx, ref);
      await tx
        .insert(documentClassifications)
        .values(values)
        .onConflictDoUpdate({ target: documentClassifications.documentId, set: { ...values, producedAt: new Date() } });
    });
    ctx.log.info('document classified', { ...logFields(ref), label: result.label, confidence: result.confidence, classifier: result.classifier });
    return { label: result.label, confidence: result.confidence };
  }

  /** Replaces the document's chunks (and so its index rows) in one transaction. */
  async function indexDocument(ref: SourceRef): Promise<{ chunkCount: number }> {
    const ctx = Context.current();
    const [stored] = await db
      .select({ text: documentTexts.text, pageCount: documentTexts.pageCount })
      .from(documentTexts)
      .where(eq(documentTexts.documentId, ref.documentId));
    if (!stored) throw fail(documentFailureTypes.deleted, `the text of document ${ref.documentId} is gone`);
    const chunks = chunkPages(stored.text.split('\f'), deps.chunkChars, stored.pageCount !== null);
    const lineage = currentLineage(ref.sha256, deps.codeVersion);
    await db.transaction(async (tx) => {
      await lockForWrite(tx, ref);
      await tx.delete(documentChunks).where(eq(documentChunks.documentId, ref.documentId));
      for (let i = 0; i < chunks.length; i += 500) {
        await tx.insert(documentChunks).values(
          chunks.slice(i, i + 500).map((c) => ({
            documentId: ref.documentId,
            tenantId: ref.tenantId,
            chunkIndex: c.index,
            page: c.page,
            charStart: c.charStart,
            content: c.content,
            ...lineage,
          })),
        );
      }
    });
    ctx.log.info('document indexed', { ...logFields(ref), chunkCount: chunks.length });
    return { chunkCount: chunks.length };
  }

  /** Makes the document searchable: status `ingested` with its counts. */
  async function markIngested(ref: DocumentRef): Promise<{ ingestedAt: string }> {
    return await db.transaction(async (tx) => {
      await lockForWrite(tx, ref);
      const [row] = await tx
        .update(documents)
        .set({
          status: 'ingested',
          ingestedAt: sql`coalesce(${documents.ingestedAt}, now())`,
          updatedAt: new Date(),
          failureType: null,
          failureMessage: null,
          failedAt: null,
          charCount: sql`(select char_count from document_texts where document_id = ${ref.documentId})`,
          pageCount: sql`(select page_count from document_texts where document_id = ${ref.documentId})`,
          chunkCount: sql`(select count(*)::int from document_chunks where document_id = ${ref.documentId})`,
        })
        .where(and(eq(documents.id, ref.documentId), inArray(documents.status, ['processing', 'ingested'])))
        .returning({ ingestedAt: documents.ingestedAt });
      if (!row?.ingestedAt) throw fail(documentFailureTypes.deleted, `document ${ref.documentId} is no longer being ingested`);
      return { ingestedAt: row.ingestedAt.toISOString() };
    });
  }

  /**
   * Compensation after a step failed for good (or the job was cancelled):
   * removes every derived row, so nothing of the document is searchable,
   * and marks it `failed` with the reason. A deleted document stays deleted.
   */
  async function compensateIngestion(ref: DocumentRef & { failureType: string; failureMessage: string }): Promise<void> {
    await db.transaction(async (tx) => {
      const [row] = await tx
        .select({ status: documents.status, jobId: documents.jobId })
        .from(documents)
        .where(and(eq(documents.id, ref.documentId), eq(documents.tenantId, ref.tenantId)))
        .for('update');
      // Another job (an operator's retry) owns the document now: its work is not this job's to undo.
      if (row && row.status !== 'deleted' && row.jobId !== ref.jobId) return;
      await tx.delete(documentChunks).where(eq(documentChunks.documentId, ref.documentId));
      await tx.delete(documentClassifications).where(eq(documentClassifications.documentId, ref.documentId));
      await tx.delete(documentTexts).where(eq(documentTexts.documentId, ref.documentId));
      if (row && row.status !== 'deleted') {
        await tx
          .update(documents)
          .set({
            status: 'failed',
            failureType: ref.failureType,
            failureMessage: ref.failureMessage.slice(0, 2000),
            failedAt: new Date(),
            updatedAt: new Date(),
            chunkCount: null,
            charCount: null,
            pageCount: null,
          })
          .where(eq(documents.id, ref.documentId));
      }
    });
    Context.current().log.warn('document ingestion failed; derived data removed', { ...logFields(ref), failureType: ref.failureType });
  }

  return { beginIngestion, extractText, classifyDocument, indexDocument, markIngested, compensateIngestion };
}

async function readBlobOrFail(blobs: BlobStore, key: string, maxBytes: number): Promise<Buffer | undefined> {
  try {
    return await readBlob(blobs, key, maxBytes);
  } catch (err) {
    if (err instanceof BlobTooLargeError) throw fail(documentFailureTypes.blobCorrupt, `stored blob is larger than the ${maxBytes}-byte document limit`);
    throw err;
  }
}
