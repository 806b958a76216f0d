/**
 * The OpenAI-compatible classifier provider, with the real workers and a
 * local fake chat-completions server standing in for the provider (the only
 * stand-in: Temporal and Postgres are real). Each document's text says how
 * the fake answers: a good JSON answer, malformed answers (asked again up to
 * JOBPLANE_CLASSIFIER_MAX_ATTEMPTS, then the ingestion fails for good), a
 * refusal (401: fails at once), an outage (503: the activity retries).
 */
import '../fixtures/quiet-runtime.ts';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { eq, sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { documentChunks } from '../../db/schema/index.ts';
import { search, uploadNew, waitForDocument, type Json } from '../helpers/documents.ts';
import { recordHistory } from '../helpers/record-history.ts';
import { startTestStack, waitForJob, type TestStack } from '../helpers/stack.ts';

const apiKey = 'sk-test-0123456789-never-logged';
let stack: TestStack;
let fake: Server;
const calls: { marker: string; headers: IncomingHttpHeaders; body: Json }[] = [];

/** What the fake provider answers for a document whose text contains `marker`, on its n-th call. */
function answer(marker: string, n: number): { status: number; body: unknown } {
  const completion = (content: string) => ({ id: 'cmpl-1', object: 'chat.completion', choices: [{ index: 0, message: { role: 'assistant', content } }] });
  switch (marker) {
    case 'good':
      return { status: 200, body: completion('{"label":"contract","confidence":0.873}') };
    case 'malformed':
      return { status: 200, body: completion(n % 2 ? 'It is probably a contract.' : '{"label":"memo","confidence":2}') };
    case 'fixes':
      return { status: 200, body: completion(n === 1 ? '```json\n{"label": "report"}\n```' : '{"label":"report","confidence":0.6}') };
    case 'refused':
      return { status: 401, body: { error: { message: 'Incorrect API key provided', type: 'invalid_request_error' } } };
    case 'outage':
      return n === 1 ? { status: 503, body: { error: { message: 'overloaded' } } } : { status: 200, body: completion('{"label":"invoice","confidence":0.91}') };
    default:
      return { status: 500, body: { error: { message: `unknown marker ${marker}` } } };
  }
}

beforeAll(async () => {
  fake = createServer((req, res) => {
    let raw = '';
    req.on('data', (d: Buffer) => (raw += d.toString()));
    req.on('end', () => {
      const body = JSON.parse(raw) as Json;
      const text = JSON.stringify(body.messages);
      const marker = /classifier-marker-(\w+)/.exec(text)?.[1] ?? '';
      calls.push({ marker, headers: req.headers, body });
      const n = calls.filter((c) => c.marker === marker).length;
      const a = req.url === '/v1/chat/completions' && req.method === 'POST' ? answer(marker, n) : { status: 404, body: {} };
      res.writeHead(a.status, { 'content-type': 'application/json' }).end(JSON.stringify(a.body));
    });
  });
  await new Promise<void>((resolve) => fake.listen(0, '127.0.0.1', resolve));
  stack = await startTestStack('doc-openai', {
    env: {
      JOBPLANE_CLASSIFIER_PROVIDER: 'openai',
      JOBPLANE_CLASSIFIER_BASE_URL: `http://127.0.0.1:${(fake.address() as AddressInfo).port}/v1`,
      JOBPLANE_CLASSIFIER_MODEL: 'fake-model-1',
      JOBPLANE_CLASSIFIER_API_KEY: apiKey,
      JOBPLANE_CLASSIFIER_MAX_ATTEMPTS: '3',
      JOBPLANE_CLASSIFIER_TIMEOUT_MS: '5000',
    },
  });
  await stack.startWorkers();
});
afterAll(async () => {
  await stack?.close();
  await new Promise((r) => fake?.close(r));
});

const doc = (marker: string, words: string) => `Document for the classifier. classifier-marker-${marker}. ${words}`;
const callsFor = (marker: string) => calls.filter((c) => c.marker === marker);

async function chunkRows(id: string): Promise<number> {
  const [row] = await stack.db.select({ n: sql<number>`count(*)::int` }).from(documentChunks).where(eq(documentChunks.documentId, id));
  return row!.n;
}

describe('OpenAI-compatible classifier', () => {
  it('classifies with the provider’s answer, sent as a strict JSON chat completion with the key and an idempotency key', async () => {
    const { id, jobId } = await uploadNew(stack, doc('good', 'Between the parties, the Quillwort agreement.'), { filename: 'good.txt', type: 'text/plain', metadata: { title: 'Quillwort' } });
    const ingested = await waitForDocument(stack, id);
    expect(ingested).toMatchObject({ status: 'ingested', classification: { label: 'contract', confidence: 0.87, classifier: 'openai-compatible:fake-model-1' } });
    expect((ingested.lineage as Json[]).find((l) => l.artifact === 'classification')).toMatchObject({ activity: 'classifyDocument', activityAttempt: 1 });
    const [call] = callsFor('good');
    expect(call!.headers.authorization).toBe(`Bearer ${apiKey}`);
    expect(call!.headers['idempotency-key']).toBe(`${id}:1`);
    expect(call!.body).toMatchObject({ model: 'fake-model-1', temperature: 0, response_format: { type: 'json_object' } });
    const messages = call!.body.messages as { role: string; content: string }[];
    expect(messages.map((m) => m.role)).toEqual(['system', 'user']);
    expect(messages[0]!.content).toContain('"invoice", "contract", "report", "filing", "other"');
    expect(messages[1]!.content).toContain('Title: Quillwort');
    expect(messages[1]!.content).toContain('Quillwort agreement');
    expect((await search(stack, 'quillwort')).items.map((h) => h.documentId)).toEqual([id]);
    await recordHistory(stack.temporal.address, `${stack.tenantId}:${jobId}`, 'document-ingest', 'openai-classified');
  });

  it('malformed answers are asked again up to the limit, then the ingestion fails for good and nothing stays searchable', async () => {
    const { id, jobId } = await uploadNew(stack, doc('malformed', 'Tamarack words that must not stay searchable.'), { filename: 'bad.txt', type: 'text/plain' });
    const failed = await waitForDocument(stack, id);
    expect(failed).toMatchObject({ status: 'failed', failure: { type: 'ClassifierMalformedResponse' }, classification: null });
    expect(String((failed.failure as Json).message)).toMatch(/no valid answer in 3 tries/);
    expect(callsFor('malformed')).toHaveLength(3);
    expect(callsFor('malformed').map((c) => c.headers['idempotency-key'])).toEqual([`${id}:1`, `${id}:2`, `${id}:3`]);
    expect(await chunkRows(id)).toBe(0);
    expect((await search(stack, 'tamarack')).items).toEqual([]);
    const job = await waitForJob(stack, jobId);
    expect(job).toMatchObject({ status: 'failed', error: { type: 'ClassifierMalformedResponse' } });
    // Neither the key nor the document text is in what the job reports.
    expect(JSON.stringify(job)).not.toContain(apiKey);
    expect(JSON.stringify(job)).not.toContain('Tamarack');
  });

  it('a malformed first answer followed by a good one is fine', async () => {
    const { id } = await uploadNew(stack, doc('fixes', 'Quarterly findings.'), { filename: 'fixes.txt', type: 'text/plain' });
    expect(await waitForDocument(stack, id)).toMatchObject({ status: 'ingested', classification: { label: 'report', confidence: 0.6 } });
    expect(callsFor('fixes')).toHaveLength(2);
  });

  it('a refusal (401) fails at once; an outage (503) is retried by the activity', async () => {
    const refused = await uploadNew(stack, doc('refused', 'Anything.'), { filename: 'refused.txt', type: 'text/plain' });
    const outage = await uploadNew(stack, doc('outage', 'Invoice total due.'), { filename: 'outage.txt', type: 'text/plain' });
    const r = await waitForDocument(stack, refused.id);
    expect(r).toMatchObject({ status: 'failed', failure: { type: 'ClassifierRejected' } });
    expect(String((r.failure as Json).message)).toContain('401');
    expect(String((r.failure as Json).message)).not.toContain(apiKey);
    expect(callsFor('refused')).toHaveLength(1);
    const o = await waitForDocument(stack, outage.id);
    expect(o).toMatchObject({ status: 'ingested', classification: { label: 'invoice', confidence: 0.91 } });
    expect(callsFor('outage')).toHaveLength(2);
    expect((o.lineage as Json[]).find((l) => l.artifact === 'classification')).toMatchObject({ activityAttempt: 2 });
  });
});
