/**
 * The document pipeline end to end on the real dev server and Postgres:
 * a real PDF (made with pdf-lib) and a Markdown file are uploaded as
 * multipart over a real socket, ingested by the real workers, found by words
 * from their text, and shown with their classification and lineage; HTML
 * and CSV too. The refusals: dedupe (200, same document), 415 (declared and
 * sniffed types), 413 (declared length and while streaming), 400s, another
 * tenant's document answering 404 like an unknown id, and `document.ingest`
 * refused by POST /v1/jobs.
 */
import { createHash } from 'node:crypto';
import { readdirSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { and, eq, sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { documentChunks, documents, jobs } from '../../db/schema/index.ts';
import { makePdf, search, upload, uploadNew, waitForDocument, type Json } from '../helpers/documents.ts';
import { createOtherTenant, expectProblem, problemType, type Caller, type OtherTenant } from '../helpers/http.ts';
import { recordHistory } from '../helpers/record-history.ts';
import { startTestStack, waitForJob, type TestStack } from '../helpers/stack.ts';

const maxBytes = 200_000;
let stack: TestStack;
let other: OtherTenant;
const sha256 = (b: Uint8Array | string) => createHash('sha256').update(b).digest('hex');

let pdfBytes: Uint8Array;
const markdown = [
  '# Quarterly Report',
  '',
  '## Executive summary',
  '',
  'Revenue grew in the third quarter. Our **findings** and recommendations follow, with the methodology in the appendix.',
  '',
  '- Key metrics improved across regions',
  '- The [Marmalade](https://example.com/m) programme exceeded its targets',
  '',
  '```',
  'code blocks keep their words: quokka',
  '```',
].join('\n');
const docs = { pdf: { id: '', jobId: '' }, md: { id: '', jobId: '' } };

beforeAll(async () => {
  stack = await startTestStack('documents', { env: { JOBPLANE_DOCUMENT_MAX_BYTES: String(maxBytes) } });
  await stack.startWorkers();
  other = await createOtherTenant(stack, { name: 'documents-other' });
  pdfBytes = await makePdf(
    [
      'INVOICE\nInvoice number: INV-2041\nBill to: Northwind Traders\nAmount due: 1,250.00 EUR\nDue date: 2026-12-31',
      'Payment terms: 30 days.\nThank you for your business, Zephyrine.',
    ],
    'Invoice INV-2041',
  );
});
afterAll(async () => {
  await stack?.close();
});

const asOther: Caller = (pathname, init) => other.asOther(pathname, init);

async function documentCount(): Promise<number> {
  const [row] = await stack.db.select({ n: sql<number>`count(*)::int` }).from(documents).where(eq(documents.tenantId, stack.tenantId));
  return row!.n;
}

function stagedFiles(): string[] {
  const dir = path.join(stack.env.JOBPLANE_BLOB_DIR!, '.tmp');
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

describe('upload → ingest → search', () => {
  it('ingests a real PDF and a Markdown file: searchable by their words, classified, with lineage', async () => {
    docs.pdf = await uploadNew(stack, pdfBytes, { filename: 'inv-2041.pdf', type: 'application/pdf', metadata: { customer: 'northwind', title: 'Invoice INV-2041' } });
    docs.md = await uploadNew(stack, markdown, { filename: 'q3-report.md', type: 'application/octet-stream' });
    expect(docs.pdf.id).toMatch(/^doc_[0-9a-z]{26}$/);
    expect(docs.pdf.jobId).toMatch(/^job_[0-9a-z]{26}$/);

    // The ingestion is a job like any other.
    const job = (await (await stack.api(`/v1/jobs/${docs.pdf.jobId}`, { role: 'viewer' })).json()) as Json;
    expect(job).toMatchObject({ type: 'document.ingest', workflowId: `${stack.tenantId}:${docs.pdf.jobId}`, labels: [`document=${docs.pdf.id}`] });

    const pdf = await waitForDocument(stack, docs.pdf.id);
    const md = await waitForDocument(stack, docs.md.id);
    expect(pdf).toMatchObject({
      status: 'ingested',
      title: 'Invoice INV-2041',
      filename: 'inv-2041.pdf',
      contentType: 'application/pdf',
      sizeBytes: pdfBytes.length,
      sha256: sha256(pdfBytes),
      metadata: { customer: 'northwind', title: 'Invoice INV-2041' },
      pageCount: 2,
      legalHold: false,
      failure: null,
      jobId: docs.pdf.jobId,
      classification: { label: 'invoice', classifier: 'rules@1' },
    });
    expect((pdf.classification as { confidence: number }).confidence).toBeGreaterThan(0.5);
    expect(pdf.charCount).toBeGreaterThan(50);
    expect(pdf.chunkCount).toBeGreaterThanOrEqual(2); // one chunk per page at least
    expect(typeof pdf.ingestedAt).toBe('string');
    expect(md).toMatchObject({ status: 'ingested', title: 'q3-report.md', contentType: 'text/markdown', pageCount: null, classification: { label: 'report' } });

    // Lineage: every artifact names the bytes, the run, the activity and the code that produced it.
    const finished = await waitForJob(stack, docs.pdf.jobId);
    expect(finished).toMatchObject({ status: 'succeeded', result: { documentId: docs.pdf.id, status: 'ingested', classification: { label: 'invoice' }, pageCount: 2, events: 0 } });
    const lineage = pdf.lineage as Json[];
    expect(lineage.map((l) => l.artifact)).toEqual(['text', 'classification', 'chunks']);
    expect(lineage.map((l) => l.activity)).toEqual(['extractText', 'classifyDocument', 'indexDocument']);
    for (const entry of lineage) {
      expect(entry).toMatchObject({ sourceSha256: sha256(pdfBytes), workflowId: `${stack.tenantId}:${docs.pdf.jobId}`, runId: finished.runId, activityAttempt: 1 });
      expect(entry.codeVersion).toMatch(/^\d+\.\d+\.\d+\+[0-9a-f]{12}$/);
    }
    expect(lineage[2]!.rows).toBe(pdf.chunkCount);

    // Found by words of their text (stemmed), with highlighted snippets and the PDF page.
    const northwind = await search(stack, 'Northwind');
    expect(northwind.items.map((h) => h.documentId)).toEqual([docs.pdf.id]);
    expect(northwind.items[0]).toMatchObject({ page: 1, title: 'Invoice INV-2041', classification: { label: 'invoice' } });
    expect(northwind.items[0]!.snippet).toContain('<mark>Northwind</mark>');
    expect((await search(stack, 'zephyrine')).items[0]).toMatchObject({ documentId: docs.pdf.id, page: 2 });
    expect((await search(stack, 'marmalade')).items.map((h) => h.documentId)).toEqual([docs.md.id]);
    expect((await search(stack, 'finding recommendation')).items.map((h) => h.documentId)).toEqual([docs.md.id]);
    expect((await search(stack, 'quokka')).items.map((h) => h.documentId)).toEqual([docs.md.id]);
    expect((await search(stack, '"amount due" -marmalade')).items.map((h) => h.documentId)).toEqual([docs.pdf.id]);
    expect((await search(stack, 'nonexistentword')).items).toEqual([]);

    // The original bytes come back as they went in, as an attachment.
    const content = await stack.api(`/v1/documents/${docs.pdf.id}/content`, { role: 'viewer' });
    expect(content.status).toBe(200);
    expect(content.headers.get('content-type')).toBe('application/pdf');
    expect(content.headers.get('content-disposition')).toContain('attachment');
    expect(sha256(new Uint8Array(await content.arrayBuffer()))).toBe(sha256(pdfBytes));

    await recordHistory(stack.temporal.address, `${stack.tenantId}:${docs.pdf.jobId}`, 'document-ingest', 'pdf-ingested');
    await recordHistory(stack.temporal.address, `${stack.tenantId}:${docs.md.jobId}`, 'document-ingest', 'markdown-ingested');
  });

  it('HTML keeps only what a reader sees; CSV cells are searchable', async () => {
    const html = `<!doctype html><html><head><title>Master Services Agreement</title><style>.x{color:red}</style>
      <script>var leaked = "scriptonlytoken"; document.write("scriptonlytoken")</script></head>
      <body><h1>This Agreement</h1><p>The parties hereby agree. Governing law: Delaware &amp; federal law.</p>
      <p>In witness whereof, the parties shall sign. Indemnification applies.</p><noscript>noscriptonlytoken</noscript></body></html>`;
    const csv = 'sku,description,qty\nA-1,Heliotrope widget,4\nB-2,Gimbal bracket,7\n';
    const h = await uploadNew(stack, html, { filename: 'msa.html', type: 'text/html' });
    const c = await uploadNew(stack, csv, { filename: 'stock.csv', type: 'text/csv' });
    expect(await waitForDocument(stack, h.id)).toMatchObject({ status: 'ingested', contentType: 'text/html', classification: { label: 'contract' } });
    expect(await waitForDocument(stack, c.id)).toMatchObject({ status: 'ingested', contentType: 'text/csv' });
    expect((await search(stack, 'delaware')).items.map((x) => x.documentId)).toEqual([h.id]);
    expect((await search(stack, 'scriptonlytoken')).items).toEqual([]);
    expect((await search(stack, 'noscriptonlytoken')).items).toEqual([]);
    expect((await search(stack, 'heliotrope')).items.map((x) => x.documentId)).toEqual([c.id]);
  });

  it('search pages with a cursor, best first, each document once, and refuses a forged cursor', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      // More mentions, higher rank: i = 4 is the best match.
      ids.push((await uploadNew(stack, `Pagination probe ${'lumberjack '.repeat(i + 1)}\n\nfiller ${i} ${'x'.repeat(i)}`, { filename: `page-${i}.txt`, type: 'text/plain' })).id);
    }
    for (const id of ids) await waitForDocument(stack, id);
    const seen: Json[] = [];
    let cursor: string | null = null;
    do {
      const page: { items: Json[]; nextCursor: string | null } = await search(stack, 'lumberjack', `&limit=2${cursor ? `&cursor=${cursor}` : ''}`);
      expect(page.items.length).toBeLessThanOrEqual(2);
      seen.push(...page.items);
      cursor = page.nextCursor;
    } while (cursor);
    expect(seen.map((h) => h.documentId).sort()).toEqual([...ids].sort());
    const ranks = seen.map((h) => h.rank as number);
    expect(ranks).toEqual([...ranks].sort((a, b) => b - a));
    expect(seen[0]!.documentId).toBe(ids[4]);
    const bad = await stack.api('/v1/documents/search?q=lumberjack&cursor=bm9wZQ', { role: 'viewer' });
    expect(bad.status).toBe(400);
    expect(((await stack.api('/v1/documents/search?q=', { role: 'viewer' })).status)).toBe(400);
  });

  it('lists documents newest first with a cursor and a status filter', async () => {
    const first = (await (await stack.api('/v1/documents?limit=2', { role: 'viewer' })).json()) as { items: Json[]; nextCursor: string };
    expect(first.items).toHaveLength(2);
    const second = (await (await stack.api(`/v1/documents?limit=2&cursor=${first.nextCursor}`, { role: 'viewer' })).json()) as { items: Json[] };
    expect(String(second.items[0]!.id) < String(first.items[1]!.id)).toBe(true);
    const ingested = (await (await stack.api('/v1/documents?status=ingested&limit=200', { role: 'viewer' })).json()) as { items: Json[] };
    expect(ingested.items.map((d) => d.id)).toContain(docs.pdf.id);
    expect(new Set(ingested.items.map((d) => d.status))).toEqual(new Set(['ingested']));
  });
});

describe('refusals', () => {
  it('the same bytes again → 200 with the same document and job; nothing new stored or started', async () => {
    const before = await documentCount();
    const again = await upload(stack, pdfBytes, { filename: 'renamed.pdf', type: 'application/pdf', metadata: { title: 'Another title' } });
    expect(again.status).toBe(200);
    expect(await again.json()).toMatchObject({ id: docs.pdf.id, jobId: docs.pdf.jobId, status: 'ingested', duplicate: true });
    expect(await documentCount()).toBe(before);
    const ingestJobs = await stack.db
      .select({ id: jobs.id })
      .from(jobs)
      .where(and(eq(jobs.tenantId, stack.tenantId), eq(jobs.type, 'document.ingest'), sql`${`document=${docs.pdf.id}`} = any(${jobs.labels})`));
    expect(ingestJobs).toHaveLength(1);
    // The first upload's title stands.
    expect(await waitForDocument(stack, docs.pdf.id)).toMatchObject({ title: 'Invoice INV-2041' });
  });

  it('415 for types that are not allowed, by declared type and by the bytes; nothing is stored', async () => {
    const before = await documentCount();
    const png = Uint8Array.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13, 0x49, 0x48, 0x44, 0x52]);
    const cases: [Uint8Array | string, string, string][] = [
      [png, 'picture.png', 'image/png'], // declared type not allowed
      [png, 'picture.bin', 'application/octet-stream'], // unknown declared type: the bytes are not text or PDF
      [png, 'fake.txt', 'text/plain'], // declared text, bytes binary
      ['just text, not a PDF', 'fake.pdf', 'application/pdf'], // declared PDF without %PDF-
      ['{"a":1}', 'data.json', 'application/json'],
    ];
    for (const [bytes, filename, type] of cases) {
      const res = await upload(stack, bytes, { filename, type });
      expect(res.status, `${filename} as ${type}`).toBe(415);
      await expectProblem(res, 415, 'unsupported-document-type');
    }
    // Not multipart at all.
    const json = await stack.api('/v1/documents', { method: 'POST', role: 'submitter', body: JSON.stringify({ file: 'x' }) });
    expect(json.status).toBe(415);
    expect(await json.json()).toMatchObject({ type: problemType('unsupported-media-type') });
    expect(await documentCount()).toBe(before);
    expect(stagedFiles()).toEqual([]);
  });

  it('a document of exactly JOBPLANE_DOCUMENT_MAX_BYTES is accepted; one byte more is not', async () => {
    const exact = await upload(stack, `${'x'.repeat(maxBytes - 9)} exactly.`, { filename: 'exact.txt', type: 'text/plain' });
    expect(exact.status).toBe(202);
    const over = await upload(stack, `${'y'.repeat(maxBytes - 8)} exactly.`, { filename: 'over.txt', type: 'text/plain' });
    expect(over.status).toBe(413);
  });

  it('413 above JOBPLANE_DOCUMENT_MAX_BYTES: from Content-Length at once, and while streaming a chunked body', async () => {
    const before = await documentCount();
    const big = 'a'.repeat(maxBytes + 1);
    const declared = await upload(stack, big, { filename: 'big.txt', type: 'text/plain' });
    expect(declared.status).toBe(413);
    expect(await declared.json()).toMatchObject({ type: problemType('payload-too-large') });

    // Chunked: no Content-Length, so only counting while reading can stop it (the body is 5× the limit).
    const boundary = 'jpboundary';
    const url = new URL(`${stack.apiUrl}/v1/documents`);
    const status = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = http.request(url, {
        method: 'POST',
        headers: { authorization: `Bearer ${stack.keys.submitter}`, 'content-type': `multipart/form-data; boundary=${boundary}`, 'transfer-encoding': 'chunked' },
      });
      req.on('response', (res) => {
        let body = '';
        res.on('data', (d: Buffer) => (body += d.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      });
      // The server may close the connection before all of it is sent; the answer is what counts.
      req.on('error', (err) => (req.destroyed ? undefined : reject(err)));
      req.write(`--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="huge.txt"\r\nContent-Type: text/plain\r\n\r\n`);
      const chunk = 'b'.repeat(50_000);
      let sent = 0;
      const pump = () => {
        while (sent < maxBytes * 5) {
          sent += chunk.length;
          if (!req.write(chunk)) return void req.once('drain', pump);
        }
        req.end(`\r\n--${boundary}--\r\n`);
      };
      pump();
    });
    expect(status.status).toBe(413);
    expect(JSON.parse(status.body)).toMatchObject({ type: problemType('payload-too-large') });
    expect(await documentCount()).toBe(before);
    await expect.poll(() => stagedFiles()).toEqual([]);
  });

  it('400 for a missing file, two files, unknown fields and bad metadata; 403 for a viewer', async () => {
    const noFile = new FormData();
    noFile.set('metadata', '{}');
    const missing = await stack.api('/v1/documents', { method: 'POST', role: 'submitter', body: noFile });
    expect(missing.status).toBe(400);
    expect(((await missing.json()) as { errors: { path: string }[] }).errors[0]!.path).toBe('file');

    const two = new FormData();
    two.append('file', new Blob(['one'], { type: 'text/plain' }), 'a.txt');
    two.append('file', new Blob(['two'], { type: 'text/plain' }), 'b.txt');
    expect((await stack.api('/v1/documents', { method: 'POST', role: 'submitter', body: two })).status).toBe(400);

    const badMeta = await upload(stack, 'text with bad metadata', { filename: 'm.txt', type: 'text/plain', metadata: 'not json' });
    expect(badMeta.status).toBe(400);
    expect(((await badMeta.json()) as { errors: { path: string }[] }).errors[0]!.path).toBe('metadata');
    const nested = await upload(stack, 'text with nested metadata', { filename: 'm.txt', type: 'text/plain', metadata: { deep: { x: 1 } } });
    expect(nested.status).toBe(400);
    expect(((await nested.json()) as { errors: { path: string }[] }).errors[0]!.path).toBe('metadata.deep');

    const viewer = await upload(stack, 'viewer upload', { filename: 'v.txt', type: 'text/plain', role: 'viewer' });
    expect(viewer.status).toBe(403);
    const empty = await upload(stack, '', { filename: 'empty.txt', type: 'text/plain' });
    expect(empty.status).toBe(400);
  });

  it('another tenant’s document answers 404 exactly like an unknown id, and is never found by its search', async () => {
    const unknown = 'doc_00000000000000000000000000';
    const routes: [string, string, string?][] = [
      ['GET', '/v1/documents/ID'],
      ['GET', '/v1/documents/ID/content'],
      ['DELETE', '/v1/documents/ID'],
      ['PUT', '/v1/documents/ID/legal-hold', JSON.stringify({ hold: true })],
    ];
    for (const [method, p, body] of routes) {
      const init = { method, ...(body ? { body, headers: { 'content-type': 'application/json' } } : {}) };
      const foreign = await asOther(p.replace('ID', docs.pdf.id), init);
      const missing = await asOther(p.replace('ID', unknown), init);
      expect(foreign.status, `${method} ${p}`).toBe(404);
      expect(missing.status).toBe(404);
      const [a, b] = (await Promise.all([foreign.json(), missing.json()])) as Json[];
      expect({ ...a, detail: undefined, instance: undefined, requestId: undefined }).toEqual({ ...b, detail: undefined, instance: undefined, requestId: undefined });
    }
    const theirs = (await (await asOther(`/v1/documents/search?q=northwind`)).json()) as { items: unknown[] };
    expect(theirs.items).toEqual([]);
    // Untouched: not deleted, not held.
    expect(await waitForDocument(stack, docs.pdf.id)).toMatchObject({ status: 'ingested', legalHold: false });
    // Dedupe is per tenant: the other tenant's copy of the same bytes is its own document.
    const form = new FormData();
    form.set('file', new Blob([pdfBytes], { type: 'application/pdf' }), 'copy.pdf');
    const copy = await asOther('/v1/documents', { method: 'POST', body: form });
    expect(copy.status).toBe(202);
    expect(((await copy.json()) as { id: string }).id).not.toBe(docs.pdf.id);
  });

  it('document.ingest cannot be created through POST /v1/jobs or a schedule (400 job-type-internal)', async () => {
    const before = await stack.client.workflow.count(`TenantId = "${stack.tenantId}" AND JobType = "document.ingest"`);
    const res = await stack.api('/v1/jobs', { method: 'POST', role: 'submitter', body: JSON.stringify({ type: 'document.ingest', input: { documentId: docs.pdf.id } }) });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ type: problemType('job-type-internal'), errors: [{ path: 'type' }] });
    const sched = await stack.api('/v1/schedules', { method: 'POST', role: 'submitter', body: JSON.stringify({ type: 'document.ingest', input: { documentId: docs.pdf.id }, interval: '1h' }) });
    expect(sched.status).toBe(400);
    const after = await stack.client.workflow.count(`TenantId = "${stack.tenantId}" AND JobType = "document.ingest"`);
    expect(after.count).toBe(before.count);
    const types = (await (await stack.api('/v1/job-types', { role: 'viewer' })).json()) as { items: Json[] };
    expect(types.items.find((t) => t.type === 'document.ingest')).toMatchObject({ internal: true, taskQueue: 'documents' });
  });

  it('chunks exist only for this tenant’s ingested documents', async () => {
    const [row] = await stack.db.select({ n: sql<number>`count(*)::int` }).from(documentChunks).where(eq(documentChunks.documentId, docs.pdf.id));
    expect(row!.n).toBe((await waitForDocument(stack, docs.pdf.id)).chunkCount);
  });
});
