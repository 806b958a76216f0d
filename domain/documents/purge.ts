/**
 * Deleting a document: the one path `DELETE /v1/documents/{id}` and the
 * retention workflow share. In one transaction, with the document row
 * locked: refuse a legal hold, delete every derived row (text,
 * classification, chunks), turn the row into a tombstone (status `deleted`,
 * checksum, title, file name and metadata cleared) and write the audit
 * record. Then the blob goes, unless a live document of the tenant has the
 * same bytes (it was uploaded again meanwhile). The tombstone keeps its
 * `blob_key` until the blob is gone, so a crash in between is finished by the
 * next call or the next retention run: every step is idempotent.
 */
import { and, eq, ne, sql } from 'drizzle-orm';
import type { Db } from '../../db/client.ts';
import { documentChunks, documentClassifications, documents, documentTexts } from '../../db/schema/index.ts';
import type { BlobStore } from '../blob-store/blob-store.ts';
import type { DocumentRow } from '../../db/schema/index.ts';
import { recordAudit } from '../../db/audit.ts';

export type PurgeOutcome = 'deleted' | 'already-deleted' | 'not-found' | 'held' | 'skipped';

export interface PurgeRequest {
  tenantId: string;
  documentId: string;
  reason: 'request' | 'retention';
  /** Audit actor: the API key id, or `retention`. */
  actorKeyId: string;
  requestId: string | null;
  /** Re-checked on the locked row; false → `skipped` (retention: still expired?). */
  stillWanted?: (row: DocumentRow) => boolean;
}

export async function purgeDocument(db: Db, blobs: BlobStore, req: PurgeRequest): Promise<PurgeOutcome> {
  const result = await db.transaction(async (tx) => {
    const [row] = await tx
      .select()
      .from(documents)
      .where(and(eq(documents.id, req.documentId), eq(documents.tenantId, req.tenantId)))
      .for('update');
    if (!row) return { outcome: 'not-found' as const, blobKey: null };
    if (row.status === 'deleted') return { outcome: 'already-deleted' as const, blobKey: row.blobKey };
    if (row.legalHold) return { outcome: 'held' as const, blobKey: null };
    if (req.stillWanted && !req.stillWanted(row)) return { outcome: 'skipped' as const, blobKey: null };
    await tx.delete(documentChunks).where(eq(documentChunks.documentId, row.id));
    await tx.delete(documentClassifications).where(eq(documentClassifications.documentId, row.id));
    await tx.delete(documentTexts).where(eq(documentTexts.documentId, row.id));
    await tx
      .update(documents)
      .set({
        status: 'deleted',
        deletionReason: req.reason,
        deletedAt: new Date(),
        updatedAt: new Date(),
        title: null,
        filename: null,
        metadata: null,
        sha256: null,
        pageCount: null,
        charCount: null,
        chunkCount: null,
      })
      .where(eq(documents.id, row.id));
    await recordAudit(tx, {
      tenantId: row.tenantId,
      actorKeyId: req.actorKeyId,
      action: 'document.delete',
      target: row.id,
      requestId: req.requestId,
      detail: { reason: req.reason, sha256: row.sha256, contentType: row.contentType, sizeBytes: row.sizeBytes, createdAt: row.createdAt.toISOString() },
    });
    return { outcome: 'deleted' as const, blobKey: row.blobKey };
  });
  if (result.blobKey) await dropBlob(db, blobs, req.documentId, result.blobKey);
  return result.outcome;
}

/** Deletes a tombstone's blob unless a live document uses the same bytes, then forgets the key. */
export async function dropBlob(db: Db, blobs: BlobStore, documentId: string, blobKey: string): Promise<void> {
  const [shared] = await db
    .select({ id: documents.id })
    .from(documents)
    .where(and(eq(documents.blobKey, blobKey), ne(documents.status, 'deleted')))
    .limit(1);
  if (!shared) await blobs.delete(blobKey);
  await db
    .update(documents)
    .set({ blobKey: null })
    .where(and(eq(documents.id, documentId), eq(documents.status, 'deleted'), sql`${documents.blobKey} = ${blobKey}`));
}
