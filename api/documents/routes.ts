/** `/v1/documents`: upload, list, search, read, content, delete, legal hold. */
import { Readable } from 'node:stream';
import { createRoute, z } from '@hono/zod-openapi';
import { documentContentTypes } from '../../contracts/index.ts';
import { authorize, requireDocumentScope } from '../http/key-scope.ts';
import {
  DocumentIdParam,
  DocumentList,
  DocumentView,
  LegalHoldBody,
  ListDocumentsQuery,
  SearchQuery,
  SearchResults,
  UploadedDocument,
} from './schemas.ts';
import { searchDocuments } from './search.ts';
import { deleteDocument, documentView, findDocument, listDocuments, setLegalHold, uploadDocument, type DocumentServiceDeps } from './service.ts';
import { stageUpload } from './upload.ts';
import { enforceCreateLimits } from '../limits/tenant-limits.ts';
import { body, bearer, json, newRouter } from '../http/openapi-app.ts';
import { ProblemError } from '../http/problems.ts';
import { commonProblems, problemResponse } from '../http/schemas.ts';

const base = { tags: ['Documents'], security: bearer };

/** Documented here, handled by a plain route: the body is streamed by hand (see api/documents/upload.ts), never buffered by a validator. */
const upload = createRoute({
  ...base,
  method: 'post',
  path: '/',
  summary: 'Upload a document (multipart/form-data)',
  description: [
    'Fields: `file` (the document) and optionally `metadata` (a flat JSON object; `title` names the document).',
    `Types: ${documentContentTypes.join(', ')} — told from the declared type, the file name and the bytes (a PDF must start with \`%PDF-\`, text must be UTF-8).`,
    'New bytes answer 202 and start a `document.ingest` job; bytes this tenant uploaded before answer 200 with that document (SHA-256 dedupe).',
  ].join('\n\n'),
  request: {
    body: {
      required: true,
      content: {
        'multipart/form-data': {
          schema: z.object({
            file: z.string().openapi({ type: 'string', format: 'binary' }),
            metadata: z.string().optional().openapi({ description: 'JSON object, e.g. {"title":"Q3 report","customer":"acme"}' }),
          }),
        },
      },
    },
  },
  responses: {
    202: json(UploadedDocument, 'Stored; ingestion started'),
    200: json(UploadedDocument, 'These bytes were uploaded before: that document'),
    413: problemResponse('Larger than JOBPLANE_DOCUMENT_MAX_BYTES'),
    415: problemResponse('Not multipart, or not an allowed document type'),
    ...commonProblems,
  },
});

const list = createRoute({
  ...base,
  method: 'get',
  path: '/',
  summary: 'List documents, newest first',
  request: { query: ListDocumentsQuery },
  responses: { 200: json(DocumentList, 'A page of documents'), ...commonProblems },
});

const search = createRoute({
  ...base,
  method: 'get',
  path: '/search',
  summary: 'Full-text search over ingested documents',
  request: { query: SearchQuery },
  responses: { 200: json(SearchResults, 'Ranked hits with snippets'), ...commonProblems },
});

const get = createRoute({
  ...base,
  method: 'get',
  path: '/{id}',
  summary: 'A document: status, classification, counts, lineage',
  request: { params: DocumentIdParam },
  responses: { 200: json(DocumentView, 'The document'), ...commonProblems },
});

const content = createRoute({
  ...base,
  method: 'get',
  path: '/{id}/content',
  summary: 'The original bytes (as an attachment)',
  request: { params: DocumentIdParam },
  responses: {
    200: { description: 'The bytes, with the document’s content type', content: { 'application/octet-stream': { schema: z.string().openapi({ type: 'string', format: 'binary' }) } } },
    ...commonProblems,
  },
});

const remove = createRoute({
  ...base,
  method: 'delete',
  path: '/{id}',
  summary: 'Delete a document: bytes and derived data; a tombstone remains',
  request: { params: DocumentIdParam },
  responses: { 204: { description: 'Deleted (also when it already was)' }, 409: problemResponse('Under legal hold'), ...commonProblems },
});

const legalHold = createRoute({
  ...base,
  method: 'put',
  path: '/{id}/legal-hold',
  summary: 'Place or release a legal hold (neither DELETE nor retention removes a held document)',
  request: { params: DocumentIdParam, body: body(LegalHoldBody) },
  responses: { 200: json(DocumentView, 'The document'), 409: problemResponse('Deleted'), ...commonProblems },
});

export function documentRoutes(deps: DocumentServiceDeps) {
  const router = newRouter();
  router.openAPIRegistry.registerPath(upload);
  router.post('/', async (c) => {
    const caller = authorize(c.get('caller'), 'submitter', 'create');
    requireDocumentScope(caller);
    // The token is spent before a byte is read: a client over its rate is refused cheaply.
    await enforceCreateLimits(deps, caller);
    const staged = await stageUpload(c.req.raw, { maxBytes: deps.config.documentMaxBytes, stagingDir: deps.blobs.stagingDir });
    const { row, created } = await uploadDocument(deps, caller, staged, c.get('requestId'));
    const out = {
      id: row.id,
      jobId: row.jobId,
      status: row.status,
      duplicate: !created,
      links: {
        self: `${deps.config.publicUrl}/v1/documents/${row.id}`,
        content: `${deps.config.publicUrl}/v1/documents/${row.id}/content`,
        job: row.jobId ? `${deps.config.publicUrl}/v1/jobs/${row.jobId}` : null,
      },
    };
    c.header('location', out.links.self);
    return c.json(out, created ? 202 : 200);
  });
  router.openapi(list, async (c) => {
    const caller = authorize(c.get('caller'), 'viewer', 'read');
    requireDocumentScope(caller);
    return c.json(await listDocuments(deps, caller, c.req.valid('query')), 200);
  });
  router.openapi(search, async (c) => {
    const caller = authorize(c.get('caller'), 'viewer', 'read');
    requireDocumentScope(caller);
    return c.json(await searchDocuments(deps, caller, c.req.valid('query')), 200);
  });
  router.openapi(get, async (c) => {
    const caller = authorize(c.get('caller'), 'viewer', 'read');
    requireDocumentScope(caller);
    const row = await findDocument(deps.db, caller, c.req.valid('param').id);
    return c.json(await documentView(deps, row), 200);
  });
  router.openapi(content, async (c) => {
    const caller = authorize(c.get('caller'), 'viewer', 'read');
    requireDocumentScope(caller);
    const row = await findDocument(deps.db, caller, c.req.valid('param').id);
    const stream = row.status !== 'deleted' && row.blobKey ? await deps.blobs.get(row.blobKey) : undefined;
    if (!stream) throw new ProblemError('not-found', row.status === 'deleted' ? `document ${row.id} is deleted` : `the bytes of document ${row.id} are not stored`);
    const filename = row.filename ?? `${row.id}`;
    return new Response(Readable.toWeb(stream) as ReadableStream, {
      status: 200,
      headers: {
        'content-type': row.contentType,
        'content-length': String(row.sizeBytes),
        // Never rendered on the API's origin: a stored HTML document must not run as a page here.
        'content-disposition': `attachment; filename="${filename.replace(/[^\x20-\x7e]|["\\]/g, '_')}"; filename*=UTF-8''${encodeURIComponent(filename)}`,
        'content-security-policy': "sandbox; default-src 'none'",
        'x-content-type-options': 'nosniff',
        etag: `"${row.sha256}"`,
      },
    }) as never;
  });
  router.openapi(remove, async (c) => {
    const caller = authorize(c.get('caller'), 'submitter', 'document-delete');
    requireDocumentScope(caller);
    const row = await findDocument(deps.db, caller, c.req.valid('param').id);
    await deleteDocument(deps, caller, row, c.get('requestId'));
    return c.body(null, 204);
  });
  router.openapi(legalHold, async (c) => {
    const caller = authorize(c.get('caller'), 'operator', 'legal-hold');
    requireDocumentScope(caller);
    const row = await findDocument(deps.db, caller, c.req.valid('param').id);
    const updated = await setLegalHold(deps, caller, row, c.req.valid('json').hold, c.get('requestId'));
    return c.json(await documentView(deps, updated), 200);
  });
  return router;
}
