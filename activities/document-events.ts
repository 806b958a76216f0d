/**
 * `document.ingested` → one `webhook.deliver` job per subscribed endpoint of
 * the tenant. The job id is derived from the document and the subscription
 * (time part: the document's upload time), so a retried activity, a reset
 * workflow or a re-ingestion finds the same ids: the jobs row is inserted
 * with ON CONFLICT DO NOTHING (with its audit record, in one transaction)
 * and the workflow start is idempotent by workflow id. Each event is a real
 * job: listed in `GET /v1/jobs`, signed, retried, recorded.
 */
import { Context } from '@temporalio/activity';
import { and, eq, isNull, sql } from 'drizzle-orm';
import type { Db } from '../db/client.ts';
import { auditEvents, documentClassifications, documents, jobs, webhookSubscriptions } from '../db/schema/index.ts';
import { documentIngest, webhookDeliver, type DocumentIngestedEvent, type JobContract } from '../contracts/index.ts';
import { derivedTimeSortableId } from '../runtime/ids.ts';
import type { DocumentRef } from './document-ingestion.ts';
import { createHash } from 'node:crypto';

export type JobRow = typeof jobs.$inferSelect;

export interface DocumentEventDeps {
  db: Db;
  /** Starts (or finds) a job row's workflow and returns its first run id (runtime/job-start.ts). */
  startJob: (contract: JobContract, row: JobRow, input: unknown) => Promise<string>;
  /** Base URL of the API, for links in event payloads. */
  publicUrl: string;
}

const eventType = 'document.ingested';

export function createDocumentEventActivities(deps: DocumentEventDeps) {
  const { db } = deps;

  async function emitDocumentIngested(ref: DocumentRef): Promise<{ events: number; jobIds: string[] }> {
    const ctx = Context.current();
    const [doc] = await db
      .select()
      .from(documents)
      .where(and(eq(documents.id, ref.documentId), eq(documents.tenantId, ref.tenantId)));
    // Deleted (or never ingested) by now: there is nothing left to announce.
    if (!doc || doc.status !== 'ingested' || !doc.sha256 || !doc.ingestedAt) return { events: 0, jobIds: [] };
    const [cls] = await db.select().from(documentClassifications).where(eq(documentClassifications.documentId, doc.id));
    const subs = await db
      .select()
      .from(webhookSubscriptions)
      .where(and(eq(webhookSubscriptions.tenantId, ref.tenantId), sql`${eventType} = any(${webhookSubscriptions.events})`))
      .orderBy(webhookSubscriptions.id);
    const payload: DocumentIngestedEvent = {
      type: eventType,
      documentId: doc.id,
      tenantId: doc.tenantId,
      title: doc.title,
      contentType: doc.contentType,
      sha256: doc.sha256,
      classification: { label: (cls?.label ?? 'other') as DocumentIngestedEvent['classification']['label'], confidence: cls?.confidence ?? 0 },
      ingestedAt: doc.ingestedAt.toISOString(),
      links: { self: `${deps.publicUrl}/v1/documents/${doc.id}` },
    };
    const jobIds: string[] = [];
    for (const sub of subs) {
      const jobId = derivedTimeSortableId('job', doc.createdAt.getTime(), `${eventType}:${doc.id}:${sub.id}`);
      const input = { url: sub.url, payload, eventType };
      const row = await claimJob(ref, jobId, input, sub.id);
      if (!row.firstRunId) {
        const runId = await deps.startJob(webhookDeliver, row, input);
        await db.update(jobs).set({ firstRunId: runId }).where(and(eq(jobs.id, jobId), isNull(jobs.firstRunId)));
      }
      jobIds.push(jobId);
      ctx.heartbeat();
    }
    ctx.log.info('document.ingested emitted', { tenantId: ref.tenantId, documentId: ref.documentId, jobId: ref.jobId, events: jobIds.length });
    return { events: jobIds.length, jobIds };
  }

  /** The event job's row: inserted once (with its audit record), found again on every later call. */
  async function claimJob(ref: DocumentRef, jobId: string, input: unknown, subscriptionId: string): Promise<JobRow> {
    return await db.transaction(async (tx) => {
      const [inserted] = await tx
        .insert(jobs)
        .values({
          id: jobId,
          tenantId: ref.tenantId,
          type: webhookDeliver.type,
          requestHash: createHash('sha256').update(JSON.stringify(input)).digest('hex'),
          workflowId: `${ref.tenantId}:${jobId}`,
          createdByKeyId: null,
          labels: [`event=${eventType}`, `document=${ref.documentId}`, `subscription=${subscriptionId}`],
        })
        .onConflictDoNothing({ target: jobs.id })
        .returning();
      if (inserted) {
        await tx.insert(auditEvents).values({
          tenantId: ref.tenantId,
          actorKeyId: null,
          action: 'job.create',
          target: jobId,
          requestId: null,
          outcome: 'succeeded',
          detail: { type: webhookDeliver.type, event: eventType, documentId: ref.documentId, subscriptionId, emittedBy: `${documentIngest.type} ${ref.jobId}` },
        });
        return inserted;
      }
      const [existing] = await tx.select().from(jobs).where(eq(jobs.id, jobId));
      return existing!;
    });
  }

  return { emitDocumentIngested };
}
