/** `beginIngestion`: the document becomes this job's, and its bytes are checked to be stored. */
import { ApplicationFailure, Context } from '@temporalio/activity';
import { eq } from 'drizzle-orm';
import { documents } from '../../../db/schema/index.ts';
import { documentFailureTypes, type DocumentContentType } from '../../../contracts/index.ts';
import type { DocumentRow } from '../../../db/schema/index.ts';
import { fail, lockLive, logFields } from './rows.ts';
import type { DocumentDeps, DocumentRef } from './types.ts';

/**
 * Claims the document for this job: a failed document (an operator's
 * retry) goes back to `processing`; an ingested one (a reset) stays
 * searchable while it is re-derived. Checks the bytes are stored.
 */
export async function beginIngestion(deps: DocumentDeps, ref: DocumentRef): Promise<{ sha256: string; contentType: DocumentContentType; sizeBytes: number }> {
  const row = await claimForJob(deps, ref);
  if (!row.blobKey || !row.sha256) throw fail(documentFailureTypes.blobMissing, `document ${ref.documentId} has no stored bytes`);
  await checkStoredBytes(deps, ref, row.blobKey, row.sizeBytes);
  Context.current().log.info('document ingestion started', { ...logFields(ref), contentType: row.contentType, sizeBytes: row.sizeBytes });
  return { sha256: row.sha256, contentType: row.contentType as DocumentContentType, sizeBytes: row.sizeBytes };
}

/** Sets the row's job to this one (a failed document back to `processing`); returns the row as it was. */
async function claimForJob({ db }: DocumentDeps, ref: DocumentRef): Promise<DocumentRow> {
  return await db.transaction(async (tx) => {
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
}

async function checkStoredBytes({ blobs }: DocumentDeps, ref: DocumentRef, blobKey: string, sizeBytes: number): Promise<void> {
  const stored = await blobs.head(blobKey);
  // The upload stores the bytes before it starts the job, so a miss is not a race: say so, and let the retry policy try again.
  if (!stored) throw ApplicationFailure.retryable(`the bytes of document ${ref.documentId} are not in the blob store`, documentFailureTypes.blobMissing);
  if (stored.size !== sizeBytes) throw fail(documentFailureTypes.blobCorrupt, `stored blob has ${stored.size} bytes, the document ${sizeBytes}`);
}
