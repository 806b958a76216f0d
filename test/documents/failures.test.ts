/**
 * Failure paths of the ingestion on the real dev server and Postgres. A
 * fault is injected in indexing by wrapping the real `indexDocument`
 * activity: the real activity runs (and commits its chunks), then the
 * wrapper fails — for good (non-retryable) or once (retryable). Failing for
 * good must leave nothing searchable and no derived row, the document
 * `failed` with the reason and the job failed with the same type; failing
 * once must leave exactly one set of chunks. An unreadable PDF fails the
 * same way, and an operator's retry of the failed job ingests the document
 * once the cause is gone.
 */
import '../fixtures/quiet-runtime.ts';
import { ApplicationFailure, Context } from '@temporalio/activity';
import { eq, sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { documentChunks, documentClassifications, documents, documentTexts } from '../../db/schema/index.ts';
import { search, uploadNew, waitForDocument, type Json } from '../helpers/documents.ts';
import { recordHistory } from '../helpers/record-history.ts';
import { startTestStack, waitForJob, type TestStack } from '../helpers/stack.ts';

let stack: TestStack;
/** documentId → chunk rows that existed when the fault struck (proves the real activity wrote them first). */
const chunksAtFault = new Map<string, number>();
/** Faults cleared by the test (the operator's fix). */
const fixed = new Set<string>();
/** `hang…` faults: a document's extraction waits for its gate; the outcome of the late attempt is recorded. */
const gates = new Map<string, { opened: Promise<void>; open: () => void }>();
function gateOf(documentId: string) {
  let gate = gates.get(documentId);
  if (!gate) {
    let open = () => {};
    const opened = new Promise<void>((resolve) => (open = resolve));
    gate = { opened, open };
    gates.set(documentId, gate);
  }
  return gate;
}
const releaseHang = (documentId: string) => gateOf(documentId).open();
const lateOutcome = new Map<string, Promise<string>>();

/** The fault a document's upload asked for in its metadata (`{"fault": "always" | "once" | "hang"}`). */
async function faultOf(documentId: string): Promise<string | undefined> {
  if (fixed.has(documentId)) return undefined;
  const [row] = await stack.db.select({ fault: sql<string | null>`${documents.metadata}->>'fault'` }).from(documents).where(eq(documents.id, documentId));
  return row?.fault ?? undefined;
}

async function chunkRows(documentId: string): Promise<number> {
  const [row] = await stack.db.select({ n: sql<number>`count(*)::int` }).from(documentChunks).where(eq(documentChunks.documentId, documentId));
  return row!.n;
}

async function derivedRows(documentId: string): Promise<{ chunks: number; texts: number; classifications: number }> {
  const [t] = await stack.db.select({ n: sql<number>`count(*)::int` }).from(documentTexts).where(eq(documentTexts.documentId, documentId));
  const [c] = await stack.db.select({ n: sql<number>`count(*)::int` }).from(documentClassifications).where(eq(documentClassifications.documentId, documentId));
  return { chunks: await chunkRows(documentId), texts: t!.n, classifications: c!.n };
}

beforeAll(async () => {
  stack = await startTestStack('doc-failures');
  await stack.startWorkers({
    wrapActivities: (real) => ({
      ...real,
      async extractText(ref) {
        const fault = await faultOf(ref.documentId);
        // `hang-then-real`: wait for the gate, then run the real activity and let its outcome through.
        if (fault === 'hang-then-real') {
          lateOutcome.set(ref.documentId, gateOf(ref.documentId).opened.then(() => 'released'));
          await gateOf(ref.documentId).opened;
          return await real.extractText(ref);
        }
        if (fault !== 'hang') return await real.extractText(ref);
        const late = gateOf(ref.documentId).opened.then(() => real.extractText(ref)).then(
          () => 'wrote',
          (err: Error) => `refused: ${err.message}`,
        );
        lateOutcome.set(ref.documentId, late);
        await late;
        throw ApplicationFailure.nonRetryable('the hung attempt ended', 'HungAttempt');
      },
      async indexDocument(ref) {
        const out = await real.indexDocument(ref);
        const fault = await faultOf(ref.documentId);
        const attempt = Context.current().info.attempt;
        if (fault === 'always' || (fault === 'once' && attempt === 1)) {
          chunksAtFault.set(ref.documentId, await chunkRows(ref.documentId));
          const message = `injected failure after indexing ${out.chunkCount} chunks (attempt ${attempt})`;
          throw fault === 'always' ? ApplicationFailure.nonRetryable(message, 'InjectedIndexFailure') : ApplicationFailure.retryable(message, 'InjectedIndexFailure');
        }
        return out;
      },
    }),
  });
});
afterAll(async () => {
  await stack?.close();
});

const longText = (word: string) =>
  Array.from({ length: 12 }, (_, i) => `Paragraph ${i} about ${word} and the annual report findings. ${'Filler sentence for size. '.repeat(12)}`).join('\n\n');

describe('a failure injected in indexing', () => {
  it('for good: nothing searchable, no derived rows, the document failed with the reason, the job failed with its type', async () => {
    const text = longText('xylophonist');
    const { id, jobId } = await uploadNew(stack, text, { filename: 'fails.txt', type: 'text/plain', metadata: { title: 'will fail', fault: 'always' } });
    const doc = await waitForDocument(stack, id);
    expect(doc).toMatchObject({ status: 'failed', failure: { type: 'InjectedIndexFailure' }, classification: null, chunkCount: null, lineage: [] });
    expect(String((doc.failure as Json).message)).toContain('injected failure after indexing');
    expect(typeof doc.failedAt).toBe('string');
    // The real activity had written its chunks before the fault; the compensation removed them and the rest.
    expect(chunksAtFault.get(id)).toBeGreaterThan(1);
    expect(await derivedRows(id)).toEqual({ chunks: 0, texts: 0, classifications: 0 });
    expect((await search(stack, 'xylophonist')).items).toEqual([]);
    const job = await waitForJob(stack, jobId);
    expect(job).toMatchObject({ status: 'failed', error: { type: 'InjectedIndexFailure' } });
    await recordHistory(stack.temporal.address, `${stack.tenantId}:${jobId}`, 'document-ingest', 'index-failed-compensated');

    // The operator's fix: the cause is gone, the failed job is retried as a new job, the document is ingested.
    fixed.add(id);
    const retry = await stack.api(`/v1/jobs/${jobId}/retry`, { method: 'POST', role: 'operator' });
    expect(retry.status).toBe(201);
    const retried = (await retry.json()) as { id: string };
    expect(await waitForJob(stack, retried.id)).toMatchObject({ status: 'succeeded', type: 'document.ingest', retryOf: jobId });
    const again = await waitForDocument(stack, id, ['ingested']);
    expect(again).toMatchObject({ status: 'ingested', failure: null, jobId: retried.id, classification: { label: 'report' } });
    expect(await chunkRows(id)).toBe(again.chunkCount);
    expect((await search(stack, 'xylophonist')).items.map((h) => h.documentId)).toEqual([id]);
  });

  it('once: the retried activity replaces its chunks, so exactly one set exists', async () => {
    const { id, jobId } = await uploadNew(stack, longText('quetzalcoatlus'), { filename: 'retried.txt', type: 'text/plain', metadata: { fault: 'once' } });
    const doc = await waitForDocument(stack, id);
    expect(doc.status).toBe('ingested');
    const chunkCount = doc.chunkCount as number;
    expect(chunkCount).toBeGreaterThan(1);
    expect(chunksAtFault.get(id)).toBe(chunkCount);
    // One set: as many rows as chunks, indexes 0..n-1, all from the second attempt.
    expect(await chunkRows(id)).toBe(chunkCount);
    const rows = await stack.db.select({ index: documentChunks.chunkIndex, attempt: documentChunks.activityAttempt }).from(documentChunks).where(eq(documentChunks.documentId, id));
    expect(rows.map((r) => r.index).sort((a, b) => a - b)).toEqual([...Array(chunkCount).keys()]);
    expect(new Set(rows.map((r) => r.attempt))).toEqual(new Set([2]));
    expect((doc.lineage as Json[]).find((l) => l.artifact === 'chunks')).toMatchObject({ activityAttempt: 2, rows: chunkCount });
    const hits = (await search(stack, 'quetzalcoatlus')).items;
    expect(hits.map((h) => h.documentId)).toEqual([id]);
    await waitForJob(stack, jobId);
    await recordHistory(stack.temporal.address, `${stack.tenantId}:${jobId}`, 'document-ingest', 'index-retried-once');
  });
});

describe('documents that cannot be read', () => {
  it('a broken PDF fails for good with DocumentUnreadable and leaves nothing behind', async () => {
    const { id, jobId } = await uploadNew(stack, '%PDF-1.7\nthis is not really a PDF at all\n%%EOF', { filename: 'broken.pdf', type: 'application/pdf' });
    const doc = await waitForDocument(stack, id);
    expect(doc).toMatchObject({ status: 'failed', failure: { type: 'DocumentUnreadable' }, contentType: 'application/pdf' });
    expect(await derivedRows(id)).toEqual({ chunks: 0, texts: 0, classifications: 0 });
    expect(await waitForJob(stack, jobId)).toMatchObject({ status: 'failed', error: { type: 'DocumentUnreadable' } });
    // A non-retryable failure is not retried: one attempt of the extraction.
    const history = await stack.client.workflow.getHandle(`${stack.tenantId}:${jobId}`).fetchHistory();
    const extractStarts = (history.events ?? []).filter((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'extractText');
    expect(extractStarts).toHaveLength(1);
    await recordHistory(stack.temporal.address, `${stack.tenantId}:${jobId}`, 'document-ingest', 'unreadable-pdf');
  });

  it('a document deleted while it is being ingested stays deleted: the ingestion fails with DocumentDeleted and leaves nothing', async () => {
    const { id, jobId } = await uploadNew(stack, longText('deletedwhileingesting'), { filename: 'deleted.txt', type: 'text/plain', metadata: { fault: 'hang-then-real' } });
    await expect.poll(() => lateOutcome.has(id), { timeout: 30_000 }).toBe(true);
    expect((await stack.api(`/v1/documents/${id}`, { method: 'DELETE', role: 'submitter' })).status).toBe(204);
    releaseHang(id);
    expect(await waitForJob(stack, jobId)).toMatchObject({ status: 'failed', error: { type: 'DocumentDeleted' } });
    expect(await waitForDocument(stack, id, ['deleted'])).toMatchObject({ status: 'deleted', deletionReason: 'request', failure: null, lineage: [] });
    expect(await derivedRows(id)).toEqual({ chunks: 0, texts: 0, classifications: 0 });
    expect((await search(stack, 'deletedwhileingesting')).items).toEqual([]);
  });

  it('a cancelled ingestion is compensated, and its attempt that finishes late writes nothing', async () => {
    const { id, jobId } = await uploadNew(stack, longText('cancelleddocword'), { filename: 'cancel.txt', type: 'text/plain', metadata: { fault: 'hang' } });
    await expect.poll(() => lateOutcome.has(id), { timeout: 30_000 }).toBe(true);
    const res = await stack.api(`/v1/jobs/${jobId}/cancel`, { method: 'POST', role: 'submitter' });
    expect(res.status).toBe(202);
    const doc = await waitForDocument(stack, id);
    expect(doc).toMatchObject({ status: 'failed', failure: { type: 'Cancelled' } });
    expect(await waitForJob(stack, jobId)).toMatchObject({ status: 'cancelled' });
    // The extraction attempt the cancel left behind now runs for real, and must not write.
    releaseHang(id);
    expect(await lateOutcome.get(id)).toMatch(/^refused: .*no longer being ingested/);
    expect(await derivedRows(id)).toEqual({ chunks: 0, texts: 0, classifications: 0 });
    expect((await search(stack, 'cancelleddocword')).items).toEqual([]);
    await recordHistory(stack.temporal.address, `${stack.tenantId}:${jobId}`, 'document-ingest', 'cancelled-compensated');
  });
});
