/**
 * `document.ingested` → one `webhook.deliver` job per subscribed endpoint of
 * the tenant. The job id is derived from the document and the subscription
 * (time part: the document's upload time), so a retried activity, a reset
 * workflow or a re-ingestion finds the same ids. The job is made the way the
 * API makes one (domain/jobs/create.ts): claimed by id, started (idempotent
 * by workflow id), its start and audit record written once. Each event is a
 * real job: listed in `GET /v1/jobs`, signed, retried, recorded.
 */
import { Context } from '@temporalio/activity';
import { and, eq, sql } from 'drizzle-orm';
import type { Db } from '../../db/client.ts';
import { documentClassifications, documents, webhookSubscriptions, type JobRow } from '../../db/schema/index.ts';
import { documentIngest, webhookDeliver, type DocumentIngestedEvent, type JobContract } from '../../contracts/index.ts';
import { derivedId } from '../../runtime/ids.ts';
import type { DocumentRef } from './ingestion.ts';
import { claimJob, markStarted, requestHashOf } from '../../domain/jobs/create.ts';

export interface DocumentEventDeps {
  db: Db;
  /** Starts (or finds) a job row's workflow and returns its first run id (domain/jobs/start.ts). */
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
      const jobId = derivedId('job', doc.createdAt.getTime(), `${eventType}:${doc.id}:${sub.id}`);
      const input = { url: sub.url, payload, eventType };
      const { row } = await claimJob(
        db,
        {
          id: jobId,
          tenantId: ref.tenantId,
          type: webhookDeliver.type,
          requestHash: requestHashOf(input),
          createdByKeyId: null,
          labels: [`event=${eventType}`, `document=${ref.documentId}`, `subscription=${sub.id}`],
        },
        'id',
      );
      if (!row.firstRunId) {
        const runId = await deps.startJob(webhookDeliver, row, input);
        await markStarted(db, row, runId, {
          actorKeyId: null,
          requestId: null,
          idempotencyKey: null,
          detail: { event: eventType, documentId: ref.documentId, subscriptionId: sub.id, emittedBy: `${documentIngest.type} ${ref.jobId}` },
        });
      }
      jobIds.push(jobId);
      ctx.heartbeat();
    }
    ctx.log.info('document.ingested emitted', { tenantId: ref.tenantId, documentId: ref.documentId, jobId: ref.jobId, events: jobIds.length });
    return { events: jobIds.length, jobIds };
  }

  return { emitDocumentIngested };
}
