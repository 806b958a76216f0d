/** How an ingestion ends: `markIngested` makes the document searchable; `compensateIngestion` undoes a failed one. */
import { Context } from '@temporalio/activity';
import { and, eq, inArray, sql } from 'drizzle-orm';
import { documentChunks, documentClassifications, documents, documentTexts } from '../../../db/schema/index.ts';
import { documentFailureTypes } from '../../../contracts/index.ts';
import { fail, lockForWrite, logFields, type Tx } from './rows.ts';
import type { DocumentDeps, DocumentRef } from './types.ts';

type FailedRef = DocumentRef & { failureType: string; failureMessage: string };

/** Makes the document searchable: status `ingested` with its counts. */
export async function markIngested({ db }: DocumentDeps, ref: DocumentRef): Promise<{ ingestedAt: string }> {
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
export async function compensateIngestion({ db }: DocumentDeps, ref: FailedRef): Promise<void> {
  await db.transaction(async (tx) => {
    const [row] = await tx
      .select({ status: documents.status, jobId: documents.jobId })
      .from(documents)
      .where(and(eq(documents.id, ref.documentId), eq(documents.tenantId, ref.tenantId)))
      .for('update');
    // Another job (an operator's retry) owns the document now: its work is not this job's to undo.
    if (row && row.status !== 'deleted' && row.jobId !== ref.jobId) return;
    await deleteDerivedRows(tx, ref);
    if (row && row.status !== 'deleted') await markFailed(tx, ref);
  });
  Context.current().log.warn('document ingestion failed; derived data removed', { ...logFields(ref), failureType: ref.failureType });
}

async function deleteDerivedRows(tx: Tx, ref: DocumentRef): Promise<void> {
  await tx.delete(documentChunks).where(eq(documentChunks.documentId, ref.documentId));
  await tx.delete(documentClassifications).where(eq(documentClassifications.documentId, ref.documentId));
  await tx.delete(documentTexts).where(eq(documentTexts.documentId, ref.documentId));
}

async function markFailed(tx: Tx, ref: FailedRef): Promise<void> {
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
