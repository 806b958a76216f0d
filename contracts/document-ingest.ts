/**
 * The document pipeline's contracts: `document.ingest` (one job per uploaded
 * document; its input is a reference, never the bytes), the platform's
 * retention workflow, the `document.ingested` event, and the names both the
 * API and the workers rely on (statuses, classes, content types, failure
 * types).
 */
import { z } from 'zod';
import { defineJob, type ActivityProfile } from './job-contract.ts';
import { documentIdPattern } from './ids.ts';

/** Content types a document may have (after sniffing; see api/documents/upload.ts). */
export const documentContentTypes = ['application/pdf', 'text/plain', 'text/markdown', 'text/html', 'text/csv'] as const;
export type DocumentContentType = (typeof documentContentTypes)[number];

/** `processing` until the ingestion ends `ingested` or `failed`; `deleted` is a tombstone without bytes or derived data. */
export const documentStatuses = ['processing', 'ingested', 'failed', 'deleted'] as const;
export type DocumentStatus = (typeof documentStatuses)[number];

/** Classes a classifier may answer. */
export const documentClasses = ['invoice', 'contract', 'report', 'filing', 'other'] as const;
export type DocumentClass = (typeof documentClasses)[number];

/** Stable failure types of the ingestion; the document's `failure.type` and the job's `error.type`. */
export const documentFailureTypes = {
  /** No such document for this tenant (deleted rows stay as tombstones, so this means it never existed). */
  notFound: 'DocumentNotFound',
  /** The document was deleted (by request or retention) while it was being ingested. */
  deleted: 'DocumentDeleted',
  /** The stored bytes are gone. */
  blobMissing: 'DocumentBlobMissing',
  /** The stored bytes do not hash to the document's SHA-256. */
  blobCorrupt: 'DocumentBlobCorrupt',
  /** The bytes cannot be parsed as their content type (a broken or encrypted PDF). */
  unreadable: 'DocumentUnreadable',
  /** No text could be extracted (a scanned PDF without a text layer, an empty file). */
  empty: 'DocumentEmpty',
  /** More text than JOBPLANE_DOCUMENT_MAX_TEXT_CHARS. */
  tooLong: 'DocumentTextTooLong',
  /** Reading it would cost more than the limits allow: streams inflating past JOBPLANE_DOCUMENT_MAX_INFLATED_BYTES (a decompression bomb), more pages than JOBPLANE_DOCUMENT_MAX_PAGES, more time or memory than the extraction may take. */
  tooComplex: 'DocumentTooComplex',
  /** Another job took the document over (an operator's retry), or this job's compensation already ran. */
  superseded: 'DocumentIngestionSuperseded',
  /** The classifier answered something that is not the JSON asked for, JOBPLANE_CLASSIFIER_MAX_ATTEMPTS times. */
  classifierMalformed: 'ClassifierMalformedResponse',
  /** The classifier refused the request (4xx other than 408/429): wrong key, model or URL. */
  classifierRejected: 'ClassifierRejected',
  /** The classifier did not answer (timeout, 5xx, 429, connection refused); retried. */
  classifierUnavailable: 'ClassifierUnavailable',
} as const;

const nonRetryableDocumentFailures = [
  documentFailureTypes.notFound,
  documentFailureTypes.deleted,
  documentFailureTypes.blobCorrupt,
  documentFailureTypes.unreadable,
  documentFailureTypes.empty,
  documentFailureTypes.tooLong,
  documentFailureTypes.tooComplex,
  documentFailureTypes.superseded,
  documentFailureTypes.classifierMalformed,
  documentFailureTypes.classifierRejected,
];

const documentRetry = {
  initialInterval: '1 second',
  backoffCoefficient: 2,
  maximumInterval: '1 minute',
  maximumAttempts: 5,
  nonRetryableErrorTypes: nonRetryableDocumentFailures,
};

/** Short Postgres-only steps (begin, mark ingested, compensate). */
export const documentStepProfile: ActivityProfile = { startToCloseTimeout: '1 minute', retry: documentRetry };

/** Reading the blob and extracting text: CPU-bound, heartbeats per page. */
export const documentExtractProfile: ActivityProfile = { startToCloseTimeout: '10 minutes', heartbeatTimeout: '1 minute', retry: documentRetry };

/** Classification: the rule-based classifier is instant; the OpenAI-compatible one waits on HTTP. */
export const documentClassifyProfile: ActivityProfile = { startToCloseTimeout: '5 minutes', heartbeatTimeout: '1 minute', retry: documentRetry };

/** Chunking and indexing: one transaction per document. */
export const documentIndexProfile: ActivityProfile = { startToCloseTimeout: '5 minutes', retry: documentRetry };

/**
 * Compensation and event emission must get through: the document is
 * already marked or the event is owed, so they retry for longer.
 */
export const documentDurableStepProfile: ActivityProfile = {
  startToCloseTimeout: '1 minute',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '1 minute', maximumAttempts: 30 },
};

export const documentIdSchema = z.string().regex(documentIdPattern, 'a document id (doc_…)');

export const documentIngestInput = z.object({ documentId: documentIdSchema }).strict();

export const classificationSchema = z.object({
  label: z.enum(documentClasses),
  confidence: z.number().min(0).max(1),
});

export const documentIngestOutput = z.object({
  documentId: z.string(),
  status: z.literal('ingested'),
  classification: classificationSchema,
  pageCount: z.number().int().nullable(),
  charCount: z.number().int(),
  chunkCount: z.number().int(),
  /** `webhook.deliver` jobs emitted for `document.ingested` (one per subscription). */
  events: z.number().int(),
});

export type DocumentIngestInput = z.infer<typeof documentIngestInput>;
export type DocumentIngestOutput = z.infer<typeof documentIngestOutput>;
export type Classification = z.infer<typeof classificationSchema>;

export const documentIngest = defineJob({
  type: 'document.ingest',
  workflowType: 'documentIngestWorkflow',
  description: 'Extract, classify, chunk and index an uploaded document, record its lineage, then emit document.ingested.',
  input: documentIngestInput,
  output: documentIngestOutput,
  taskQueue: 'documents',
  executionTimeout: '1 day',
  internal: 'upload the document with POST /v1/documents',
  summary: (input, meta) => `document.ingest ${input.documentId} (tenant ${meta.tenantId})`,
});

/** The platform's retention run: not a tenant job, started by a Temporal Schedule the workers ensure. */
export const documentRetention = {
  workflowType: 'documentRetentionWorkflow',
  taskQueue: 'documents',
  /** Schedule id (the environment's task-queue prefix goes in front). */
  scheduleId: 'document-retention',
} as const;

export interface DocumentRetentionInput {
  /** Documents deleted per activity call (each in its own transaction). */
  batchSize: number;
  /** Carried over continue-as-new. */
  deletedSoFar?: number;
}

export interface DocumentRetentionOutput {
  deleted: number;
  /** Expired documents kept because they are under legal hold (counted at the end of the run). */
  held: number;
}

/** The body every `document.ingested` webhook carries. */
export interface DocumentIngestedEvent {
  type: 'document.ingested';
  documentId: string;
  tenantId: string;
  title: string | null;
  contentType: string;
  sha256: string;
  classification: Classification;
  ingestedAt: string;
  links: { self: string };
}
