/**
 * The document row as every step reads it: locked (`FOR UPDATE`) for the
 * transaction, failing for good when it is gone, deleted, or no longer this
 * job's to write; and the stored text the later steps read.
 */
import { ApplicationFailure } from '@temporalio/activity';
import { and, eq } from 'drizzle-orm';
import type { Db } from '../../../db/client.ts';
import { documents, documentTexts, type DocumentRow } from '../../../db/schema/index.ts';
import { documentFailureTypes } from '../../../contracts/index.ts';
import type { DocumentRef } from './types.ts';

export type Tx = Parameters<Parameters<Db['transaction']>[0]>[0];

/** A business failure: the step fails for good with this type. */
export const fail = (type: string, message: string) => ApplicationFailure.nonRetryable(message, type);

/** The ids every step's log line carries. */
export const logFields = (ref: DocumentRef) => ({ tenantId: ref.tenantId, documentId: ref.documentId, jobId: ref.jobId });

/** The document row, locked for the transaction; fails for good when it is gone or deleted. */
export async function lockLive(tx: Tx, ref: DocumentRef): Promise<DocumentRow> {
  const [row] = await tx
    .select()
    .from(documents)
    .where(and(eq(documents.id, ref.documentId), eq(documents.tenantId, ref.tenantId)))
    .for('update');
  if (!row) throw fail(documentFailureTypes.notFound, `no document ${ref.documentId} for tenant ${ref.tenantId}`);
  if (row.status === 'deleted') throw fail(documentFailureTypes.deleted, `document ${ref.documentId} was deleted`);
  return row;
}

export async function readLive(db: Db, ref: DocumentRef): Promise<DocumentRow> {
  return await db.transaction((tx) => lockLive(tx, ref));
}

/**
 * {@link lockLive} for a step about to write derived rows: the document must
 * still be this job's and not failed. An attempt that outlived its job's
 * compensation (a cancelled job's activity finishing late) or an operator's
 * retry writes nothing.
 */
export async function lockForWrite(tx: Tx, ref: DocumentRef): Promise<DocumentRow> {
  const row = await lockLive(tx, ref);
  if (row.status === 'failed' || row.jobId !== ref.jobId) {
    throw fail(documentFailureTypes.superseded, `document ${ref.documentId} is no longer being ingested by job ${ref.jobId}`);
  }
  return row;
}

/** The text `extractText` stored; missing means a delete or a compensation ran in between. */
export async function storedText(db: Db, ref: DocumentRef): Promise<{ text: string; pageCount: number | null }> {
  const [row] = await db
    .select({ text: documentTexts.text, pageCount: documentTexts.pageCount })
    .from(documentTexts)
    .where(eq(documentTexts.documentId, ref.documentId));
  if (!row) throw fail(documentFailureTypes.deleted, `the text of document ${ref.documentId} is gone`);
  return row;
}
