import {
  ActivityFailure,
  ApplicationFailure,
  CancellationScope,
  isCancellation,
  proxyActivities,
  proxyLocalActivities,
  setCurrentDetails,
} from '@temporalio/workflow';
import type { Activities } from '../activities/index.ts';
import {
  documentClassifyProfile,
  documentDurableStepProfile,
  documentExtractProfile,
  documentIndexProfile,
  documentStepProfile,
  type DocumentIngestInput,
  type DocumentIngestOutput,
  type JobEnvelope,
} from '../contracts/index.ts';
import { runJobId } from './job-id.ts';

// The short Postgres steps run as local activities: no task-queue round trip each (they are
// keyed and idempotent, so running again after a worker crash is harmless).
const steps = proxyLocalActivities<Activities>({ startToCloseTimeout: documentStepProfile.startToCloseTimeout, retry: documentStepProfile.retry });
const { extractText } = proxyActivities<Activities>({ ...documentExtractProfile, summary: 'read the bytes, extract the text' });
const { classifyDocument } = proxyActivities<Activities>({ ...documentClassifyProfile, summary: 'classify' });
const { indexDocument } = proxyActivities<Activities>({ ...documentIndexProfile, summary: 'chunk and index for full-text search' });
const durable = proxyActivities<Activities>({ ...documentDurableStepProfile });

/**
 * Ingests one uploaded document: check the stored bytes → extract text →
 * classify → chunk and index → mark `ingested` (only now is it searchable) →
 * emit `document.ingested` as `webhook.deliver` jobs. Every payload is an id
 * or a count: the bytes and the text stay in the blob store and Postgres.
 *
 * If a step fails for good, or the job is cancelled, the compensation runs
 * in a non-cancellable scope: it removes everything derived so far and
 * marks the document `failed` with the reason; the job then fails with the
 * step's error type.
 */
export async function documentIngestWorkflow(job: JobEnvelope<DocumentIngestInput>): Promise<DocumentIngestOutput> {
  const ref = { tenantId: job.tenantId, documentId: job.input.documentId, jobId: runJobId(job) };
  const progress = (step: string) => setCurrentDetails(`**document.ingest** \`${ref.documentId}\`\n\n- Step: ${step}`);
  let result: Omit<DocumentIngestOutput, 'events'>;
  try {
    progress('checking the stored bytes');
    const source = await steps.beginIngestion(ref);
    progress('extracting text');
    const text = await extractText({ ...ref, sha256: source.sha256, contentType: source.contentType });
    progress('classifying');
    const classification = await classifyDocument({ ...ref, sha256: source.sha256 });
    progress('indexing');
    const { chunkCount } = await indexDocument({ ...ref, sha256: source.sha256 });
    await steps.markIngested(ref);
    result = { documentId: ref.documentId, status: 'ingested', classification, pageCount: text.pageCount, charCount: text.charCount, chunkCount };
  } catch (err) {
    const { type, message } = failureOf(err);
    progress(`failed (${type}); removing derived data`);
    await CancellationScope.nonCancellable(() => durable.compensateIngestion({ ...ref, failureType: type, failureMessage: message }));
    throw err;
  }
  progress('emitting document.ingested');
  const { events } = await durable.emitDocumentIngested(ref);
  progress(`ingested (${events} event${events === 1 ? '' : 's'})`);
  return { ...result, events };
}

/** The stable type and message a user sees on the failed document. */
function failureOf(err: unknown): { type: string; message: string } {
  if (isCancellation(err)) return { type: 'Cancelled', message: 'the ingestion job was cancelled' };
  const cause = err instanceof ActivityFailure ? err.cause : err;
  if (cause instanceof ApplicationFailure) return { type: cause.type ?? 'Error', message: cause.message };
  if (cause instanceof Error) return { type: cause.name, message: cause.message };
  return { type: 'Error', message: String(cause) };
}
