/**
 * Documents at the API: storing an upload and starting its ingestion job,
 * reading a document with its classification and lineage, listing,
 * deleting and legal holds. Another tenant's document answers 404 exactly
 * like an unknown id.
 */
import fs from 'node:fs/promises';
import { and, desc, eq, lt, sql, type SQL } from 'drizzle-orm';
import { documentIngest, type DocumentStatus } from '../../contracts/index.ts';
import type { Db } from '../../db/client.ts';
import { documentChunks, documentClassifications, documents, documentTexts } from '../../db/schema/index.ts';
import { blobKeyFor, type BlobStore } from '../../domain/blob-store/blob-store.ts';
import { purgeDocument } from '../../domain/documents/purge.ts';
import type { TenantCaller } from '../http/auth.ts';
import { documentIdPattern } from '../../contracts/ids.ts';
import { newId } from '../../runtime/ids.ts';
import { createJob, type JobServiceDeps } from '../jobs/service.ts';
import { ProblemError } from '../http/problems.ts';
import type { StagedUpload } from './upload.ts';
import type { DocumentClassificationRow, DocumentRow } from '../../db/schema/index.ts';
import { recordAudit } from '../../db/audit.ts';


export interface DocumentServiceDeps extends JobServiceDeps {
  blobs: BlobStore;
}

/** The idempotency key of a document's first ingestion job: a retried upload finds the same job. */
export const ingestKeyOf = (documentId: string) => `document:${documentId}`;

function links(config: { publicUrl: string }, row: Pick<DocumentRow, 'id' | 'jobId'>) {
  const base = `${config.publicUrl}/v1/documents/${row.id}`;
  return { self: base, content: `${base}/content`, job: row.jobId ? `${config.publicUrl}/v1/jobs/${row.jobId}` : null };
}

/**
 * Stores an upload and starts (or finds) its ingestion. New bytes: the
 * document row claims (tenant, SHA-256) first, then the bytes go to the blob
 * store, then the `document.ingest` job starts (Idempotency-Key
 * `document:<id>`). Known bytes: the existing document — and if its ingestion
 * never got started (the earlier upload failed half-way), this finishes it.
 */
export async function uploadDocument(
  deps: DocumentServiceDeps,
  caller: TenantCaller,
  staged: StagedUpload,
  requestId: string,
): Promise<{ row: DocumentRow; created: boolean }> {
  const blobKey = blobKeyFor(caller.tenantId, staged.sha256);
  const title = typeof staged.metadata?.title === 'string' ? staged.metadata.title : staged.filename;
  try {
    const inserted = await deps.db.transaction(async (tx) => {
      const [row] = await tx
        .insert(documents)
        .values({
          id: newId('document'),
          tenantId: caller.tenantId,
          title,
          filename: staged.filename,
          contentType: staged.contentType,
          sizeBytes: staged.size,
          sha256: staged.sha256,
          blobKey,
          metadata: staged.metadata,
          uploadedByKeyId: caller.keyId,
        })
        .onConflictDoNothing({ target: [documents.tenantId, documents.sha256] })
        .returning();
      if (row) {
        await recordAudit(tx, {
          tenantId: caller.tenantId,
          actorKeyId: caller.keyId,
          action: 'document.upload',
          target: row.id,
          requestId,
          detail: { sha256: staged.sha256, sizeBytes: staged.size, contentType: staged.contentType },
        });
      }
      return row;
    });
    let row = inserted;
    if (!row) {
      [row] = await deps.db
        .select()
        .from(documents)
        .where(and(eq(documents.tenantId, caller.tenantId), eq(documents.sha256, staged.sha256)));
      if (!row) throw new Error('document vanished between insert and select');
    }
    if (row.status === 'processing') {
      // Same bytes, same key: storing them again is harmless and repairs a store that never finished.
      await deps.blobs.putFile(blobKey, staged.path, { size: staged.size, sha256: staged.sha256, contentType: staged.contentType });
      const { row: job } = await createJob(
        deps,
        caller,
        { type: documentIngest.type, input: { documentId: row.id }, labels: [`document=${row.id}`] },
        ingestKeyOf(row.id),
        requestId,
        { allowInternal: true, limitsChecked: true },
      );
      if (row.jobId !== job.id && row.jobId === null) {
        const [updated] = await deps.db
          .update(documents)
          .set({ jobId: job.id })
          .where(and(eq(documents.id, row.id), sql`${documents.jobId} is null`))
          .returning();
        row = updated ?? { ...row, jobId: job.id };
      }
    }
    return { row, created: inserted !== undefined };
  } finally {
    await fs.rm(staged.path, { force: true });
  }
}

/** The caller's document, or 404 — also for a malformed id and another tenant's document. */
export async function findDocument(db: Db, caller: TenantCaller, id: string): Promise<DocumentRow> {
  const [row] = documentIdPattern.test(id)
    ? await db.select().from(documents).where(and(eq(documents.id, id), eq(documents.tenantId, caller.tenantId)))
    : [];
  if (!row) throw new ProblemError('not-found', `no document ${id}`);
  return row;
}

export function summaryView(config: { publicUrl: string }, row: DocumentRow, cls?: DocumentClassificationRow) {
  return {
    id: row.id,
    status: row.status,
    title: row.title,
    filename: row.filename,
    contentType: row.contentType as 'text/plain',
    sizeBytes: row.sizeBytes,
    sha256: row.sha256,
    legalHold: row.legalHold,
    classification: cls ? { label: cls.label as 'other', confidence: cls.confidence, classifier: cls.classifier } : null,
    pageCount: row.pageCount,
    charCount: row.charCount,
    chunkCount: row.chunkCount,
    failure: row.failureType ? { type: row.failureType, message: row.failureMessage ?? '' } : null,
    jobId: row.jobId,
    createdAt: row.createdAt.toISOString(),
    ingestedAt: row.ingestedAt?.toISOString() ?? null,
    failedAt: row.failedAt?.toISOString() ?? null,
    deletedAt: row.deletedAt?.toISOString() ?? null,
    deletionReason: row.deletionReason as 'request' | 'retention' | null,
    links: links(config, row),
  };
}

/** One document with its classification and the lineage of everything derived from it. */
export async function documentView(deps: { db: Db; config: { publicUrl: string } }, row: DocumentRow) {
  const { db } = deps;
  const [cls] = await db.select().from(documentClassifications).where(eq(documentClassifications.documentId, row.id));
  const lineageCols = {
    sourceSha256: sql<string>`source_sha256`,
    workflowId: sql<string>`workflow_id`,
    runId: sql<string>`run_id`,
    activity: sql<string>`activity`,
    activityAttempt: sql<number>`activity_attempt`,
    codeVersion: sql<string>`code_version`,
  };
  const [text] = await db
    .select({ ...lineageCols, producedAt: documentTexts.producedAt })
    .from(documentTexts)
    .where(eq(documentTexts.documentId, row.id));
  const chunks = await db
    .select({ ...lineageCols, producedAt: sql<Date>`max(produced_at)`, rows: sql<number>`count(*)::int` })
    .from(documentChunks)
    .where(eq(documentChunks.documentId, row.id))
    .groupBy(sql`source_sha256, workflow_id, run_id, activity, activity_attempt, code_version`);
  const iso = (d: Date | string) => new Date(d).toISOString();
  const lineage = [
    ...(text ? [{ artifact: 'text' as const, ...text, producedAt: iso(text.producedAt), rows: 1 }] : []),
    ...(cls
      ? [
          {
            artifact: 'classification' as const,
            sourceSha256: cls.sourceSha256,
            workflowId: cls.workflowId,
            runId: cls.runId,
            activity: cls.activity,
            activityAttempt: cls.activityAttempt,
            codeVersion: cls.codeVersion,
            producedAt: iso(cls.producedAt),
            rows: 1,
          },
        ]
      : []),
    ...chunks.map((c) => ({ artifact: 'chunks' as const, ...c, producedAt: iso(c.producedAt) })),
  ];
  return { ...summaryView(deps.config, row, cls), metadata: (row.metadata as Record<string, unknown> | null) ?? null, lineage };
}

const decodeCursor = (cursor: string) => {
  const id = Buffer.from(cursor, 'base64url').toString('utf8');
  if (!documentIdPattern.test(id)) {
    throw new ProblemError('validation-error', 'bad cursor', { errors: [{ path: 'query.cursor', message: 'not a cursor this API returned' }] });
  }
  return id;
};

/** Newest first, keyset-paginated on the time-sortable id. */
export async function listDocuments(
  deps: { db: Db; config: { publicUrl: string } },
  caller: TenantCaller,
  filter: { status?: DocumentStatus; limit: number; cursor?: string },
) {
  const conditions: SQL[] = [eq(documents.tenantId, caller.tenantId)];
  if (filter.status) conditions.push(eq(documents.status, filter.status));
  if (filter.cursor) conditions.push(lt(documents.id, decodeCursor(filter.cursor)));
  const rows = await deps.db
    .select({ doc: documents, cls: documentClassifications })
    .from(documents)
    .leftJoin(documentClassifications, eq(documentClassifications.documentId, documents.id))
    .where(and(...conditions))
    .orderBy(desc(documents.id))
    .limit(filter.limit + 1);
  const page = rows.slice(0, filter.limit);
  return {
    items: page.map((r) => summaryView(deps.config, r.doc, r.cls ?? undefined)),
    nextCursor: rows.length > filter.limit ? Buffer.from(page.at(-1)!.doc.id).toString('base64url') : null,
  };
}

/** Deletes a document now (derived rows, blob, tombstone, audit); 409 under legal hold. */
export async function deleteDocument(deps: DocumentServiceDeps, caller: TenantCaller, row: DocumentRow, requestId: string): Promise<void> {
  const outcome = await purgeDocument(deps.db, deps.blobs, {
    tenantId: caller.tenantId,
    documentId: row.id,
    reason: 'request',
    actorKeyId: caller.keyId,
    requestId,
  });
  if (outcome === 'held') throw new ProblemError('document-on-legal-hold', `document ${row.id} is under legal hold; release it first (PUT /v1/documents/${row.id}/legal-hold)`);
  if (outcome === 'not-found') throw new ProblemError('not-found', `no document ${row.id}`);
}

/** Places or releases a legal hold (audited); a deleted document has nothing left to hold. */
export async function setLegalHold(deps: { db: Db }, caller: TenantCaller, row: DocumentRow, hold: boolean, requestId: string): Promise<DocumentRow> {
  return await deps.db.transaction(async (tx) => {
    const [updated] = await tx
      .update(documents)
      .set({ legalHold: hold, updatedAt: new Date() })
      .where(and(eq(documents.id, row.id), eq(documents.tenantId, caller.tenantId), sql`${documents.status} <> 'deleted'`))
      .returning();
    if (!updated) throw new ProblemError('document-deleted', `document ${row.id} is deleted`);
    await recordAudit(tx, {
      tenantId: caller.tenantId,
      actorKeyId: caller.keyId,
      action: hold ? 'document.legal-hold.place' : 'document.legal-hold.release',
      target: row.id,
      requestId,
      detail: { hold, previous: row.legalHold },
    });
    return updated;
  });
}
