/**
 * The retention activities: delete documents older than their tenant's
 * retention (counted from upload), skip those under legal hold, and finish
 * deletions whose blob removal was interrupted. Every deletion goes through
 * domain/documents/purge.ts (derived rows, tombstone, audit record, blob),
 * which re-checks expiry and hold on the locked row, so a hold placed a
 * moment before the sweep reaches the document wins. Idempotent: a retried
 * or reset run finds nothing left to delete twice.
 */
import { Context } from '@temporalio/activity';
import { and, eq, isNotNull, sql } from 'drizzle-orm';
import type { Db } from '../../db/client.ts';
import { documents, tenants } from '../../db/schema/index.ts';
import type { BlobStore } from '../../domain/blob-store/blob-store.ts';
import { dropBlob, purgeDocument } from '../../domain/documents/purge.ts';

export interface RetentionDeps {
  db: Db;
  blobs: BlobStore;
}

const dayMs = 86_400_000;

/**
 * Expired and not held; settled (ingested or failed), or stranded: still
 * `processing` with no started ingestion job (its upload failed half-way and
 * was never retried). A document being ingested waits for its job to end.
 */
const expired = (asOf: Date) => sql`
  (${documents.status} in ('ingested', 'failed')
    or (${documents.status} = 'processing' and not exists (select 1 from jobs j where j.id = ${documents.jobId} and j.first_run_id is not null)))
  and ${documents.legalHold} = false
  and ${tenants.documentRetentionDays} is not null
  and ${documents.createdAt} < ${asOf.toISOString()}::timestamptz - make_interval(days => ${tenants.documentRetentionDays})`;

export function createRetentionActivities(deps: RetentionDeps) {
  const { db, blobs } = deps;

  /**
   * Deletes up to `batchSize` expired documents (oldest first), each in its
   * own transaction. `asOf` is the run's start time, so a retried batch
   * judges expiry the same way.
   */
  async function purgeExpiredDocuments(args: { asOf: string; batchSize: number }): Promise<{ deleted: number; examined: number }> {
    const ctx = Context.current();
    const asOf = new Date(args.asOf);
    const candidates = await db
      .select({ id: documents.id, tenantId: documents.tenantId, days: tenants.documentRetentionDays })
      .from(documents)
      .innerJoin(tenants, eq(tenants.id, documents.tenantId))
      .where(expired(asOf))
      .orderBy(documents.createdAt)
      .limit(args.batchSize);
    let deleted = 0;
    for (const c of candidates) {
      const outcome = await purgeDocument(db, blobs, {
        tenantId: c.tenantId,
        documentId: c.id,
        reason: 'retention',
        actorKeyId: 'retention',
        requestId: ctx.info.workflowExecution?.runId ?? null,
        stillWanted: (row) => c.days !== null && row.createdAt.getTime() < asOf.getTime() - c.days * dayMs,
      });
      if (outcome === 'deleted') deleted++;
      ctx.heartbeat();
    }
    if (deleted > 0) ctx.log.info('retention deleted documents', { deleted, examined: candidates.length });
    return { deleted, examined: candidates.length };
  }

  /** Tombstones whose blob removal was interrupted (a crash between commit and delete): remove the blob now. */
  async function finishInterruptedDeletions(args: { batchSize: number }): Promise<{ blobsRemoved: number }> {
    const rows = await db
      .select({ id: documents.id, blobKey: documents.blobKey })
      .from(documents)
      .where(and(eq(documents.status, 'deleted'), isNotNull(documents.blobKey)))
      .limit(args.batchSize);
    for (const r of rows) await dropBlob(db, blobs, r.id, r.blobKey!);
    return { blobsRemoved: rows.length };
  }

  /** Expired documents kept only because they are under legal hold. */
  async function countHeldExpired(args: { asOf: string }): Promise<{ held: number }> {
    const asOf = new Date(args.asOf);
    const [row] = await db
      .select({ n: sql<number>`count(*)::int` })
      .from(documents)
      .innerJoin(tenants, eq(tenants.id, documents.tenantId))
      .where(sql`${documents.status} in ('ingested', 'failed') and ${documents.legalHold} = true and ${tenants.documentRetentionDays} is not null and ${documents.createdAt} < ${asOf.toISOString()}::timestamptz - make_interval(days => ${tenants.documentRetentionDays})`);
    return { held: row?.n ?? 0 };
  }

  return { purgeExpiredDocuments, finishInterruptedDeletions, countHeldExpired };
}
