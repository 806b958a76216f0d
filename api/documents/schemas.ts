/** Request and response schemas of `/v1/documents` (they generate the OpenAPI too). */
import { z } from '@hono/zod-openapi';
import { documentClasses, documentContentTypes, documentStatuses } from '../../contracts/index.ts';

export const DocumentStatus = z.enum(documentStatuses).openapi('DocumentStatus');

const links = z.object({ self: z.string(), content: z.string(), job: z.string().nullable() });

export const UploadedDocument = z
  .object({
    id: z.string().openapi({ example: 'doc_01m81ksmy97xeysea3jw5pzzq4' }),
    jobId: z.string().nullable().openapi({ description: 'The `document.ingest` job (see `GET /v1/jobs/{id}`)' }),
    status: DocumentStatus,
    duplicate: z.boolean().openapi({ description: 'true: these bytes were uploaded before; this is that document (200)' }),
    links,
  })
  .openapi('UploadedDocument');

export const LineageEntry = z
  .object({
    artifact: z.enum(['text', 'classification', 'chunks']),
    sourceSha256: z.string().openapi({ description: 'SHA-256 of the document bytes it was derived from' }),
    workflowId: z.string(),
    runId: z.string(),
    activity: z.string(),
    activityAttempt: z.number().int(),
    codeVersion: z.string(),
    producedAt: z.string(),
    rows: z.number().int().openapi({ description: 'Rows of this artifact (chunks: one per index row)' }),
  })
  .openapi('LineageEntry');

export const DocumentView = z
  .object({
    id: z.string(),
    status: DocumentStatus,
    title: z.string().nullable(),
    filename: z.string().nullable(),
    contentType: z.enum(documentContentTypes),
    sizeBytes: z.number().int(),
    sha256: z.string().nullable().openapi({ description: 'null once deleted' }),
    metadata: z.record(z.string(), z.unknown()).nullable(),
    legalHold: z.boolean(),
    classification: z
      .object({ label: z.enum(documentClasses), confidence: z.number(), classifier: z.string() })
      .nullable(),
    pageCount: z.number().int().nullable(),
    charCount: z.number().int().nullable(),
    chunkCount: z.number().int().nullable(),
    failure: z.object({ type: z.string(), message: z.string() }).nullable(),
    jobId: z.string().nullable(),
    lineage: z.array(LineageEntry),
    createdAt: z.string(),
    ingestedAt: z.string().nullable(),
    failedAt: z.string().nullable(),
    deletedAt: z.string().nullable(),
    deletionReason: z.enum(['request', 'retention']).nullable(),
    links,
  })
  .openapi('Document');

export const DocumentSummary = DocumentView.omit({ lineage: true, metadata: true }).openapi('DocumentSummary');

export const DocumentIdParam = z.object({ id: z.string().openapi({ param: { name: 'id', in: 'path' }, example: 'doc_01m81ksmy97xeysea3jw5pzzq4' }) });

export const ListDocumentsQuery = z.object({
  status: DocumentStatus.optional(),
  limit: z.coerce.number().int().min(1).max(200).default(50),
  cursor: z.string().max(200).optional().openapi({ description: '`nextCursor` of the previous page' }),
});

export const DocumentList = z.object({ items: z.array(DocumentSummary), nextCursor: z.string().nullable() }).openapi('DocumentList');

export const SearchQuery = z.object({
  q: z.string().trim().min(1).max(500).openapi({ description: 'Web-search syntax: words, "quoted phrases", `or`, `-excluded`', example: 'invoice "amount due"' }),
  limit: z.coerce.number().int().min(1).max(100).default(20),
  cursor: z.string().max(500).optional().openapi({ description: '`nextCursor` of the previous page' }),
});

export const SearchHit = z
  .object({
    documentId: z.string(),
    title: z.string().nullable(),
    contentType: z.string(),
    classification: z.object({ label: z.string(), confidence: z.number() }).nullable(),
    rank: z.number().openapi({ description: '`ts_rank_cd` of the best matching chunk' }),
    page: z.number().int().nullable().openapi({ description: 'PDF page of the best matching chunk' }),
    chunkIndex: z.number().int(),
    snippet: z.string().openapi({ description: 'HTML-escaped text around the match, matches in `<mark>…</mark>`' }),
    links: z.object({ self: z.string(), content: z.string() }),
  })
  .openapi('SearchHit');

export const SearchResults = z.object({ items: z.array(SearchHit), nextCursor: z.string().nullable() }).openapi('SearchResults');

export const LegalHoldBody = z.object({ hold: z.boolean() }).strict().openapi('LegalHold');
