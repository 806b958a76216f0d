/**
 * `document.ingested` events and re-runs, on the real dev server and
 * Postgres: tenants subscribe endpoints (admin, audited, URL checked with
 * the delivery's SSRF rules); an ingested document becomes one signed
 * `webhook.deliver` job per subscription, listed in GET /v1/jobs; a retried
 * emission and a `temporal workflow reset` of the ingestion (the real CLI)
 * neither index twice nor emit twice.
 */
import '../fixtures/quiet-runtime.ts';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { ApplicationFailure, Context } from '@temporalio/activity';
import { and, eq, sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createApiKey, createTenant } from '../../api/tenants/service.ts';
import { auditEvents, documentChunks, documents, jobs } from '../../db/schema/index.ts';
import { uploadNew, waitForDocument, type Json } from '../helpers/documents.ts';
import { recordHistory } from '../helpers/record-history.ts';
import { startReceiver, type Receiver } from '../helpers/receiver.ts';
import { startTestStack, waitForJob, type TestStack } from '../helpers/stack.ts';

const run = promisify(execFile);
let stack: TestStack;
let receiver: Receiver;
let other: { key: string };
const subs: string[] = [];
const emitAttempts = new Map<string, number>();

beforeAll(async () => {
  stack = await startTestStack('doc-events');
  receiver = await startReceiver(() => ({ status: 200 }));
  await stack.startWorkers({
    wrapActivities: (real) => ({
      ...real,
      // `{"fault": "emit-once"}`: the first emission attempt does its real work, then fails (retryable).
      async emitDocumentIngested(ref) {
        const out = await real.emitDocumentIngested(ref);
        const [row] = await stack.db.select({ fault: sql<string | null>`${documents.metadata}->>'fault'` }).from(documents).where(eq(documents.id, ref.documentId));
        const attempt = Context.current().info.attempt;
        emitAttempts.set(ref.documentId, attempt);
        if (row?.fault === 'emit-once' && attempt === 1) throw ApplicationFailure.retryable('injected failure after emitting', 'InjectedEmitFailure');
        return out;
      },
    }),
  });
  const t = await createTenant(stack.db, `events-other-${Date.now()}`);
  other = { key: (await createApiKey(stack.db, t.id, { name: 'other admin', role: 'admin' })).key };
});
afterAll(async () => {
  await receiver?.close();
  await stack?.close();
});

const createSub = (body: unknown, role: 'admin' | 'operator' = 'admin') =>
  stack.api('/v1/webhook-subscriptions', { method: 'POST', role, body: JSON.stringify(body) });

async function eventJobs(documentId: string): Promise<(typeof jobs.$inferSelect)[]> {
  return await stack.db
    .select()
    .from(jobs)
    .where(and(eq(jobs.tenantId, stack.tenantId), eq(jobs.type, 'webhook.deliver'), sql`${`document=${documentId}`} = any(${jobs.labels})`));
}

const requestsFor = (documentId: string) => receiver.requests.filter((r) => (JSON.parse(r.body) as Json).documentId === documentId);

describe('webhook subscriptions', () => {
  it('admins subscribe endpoints; bad and blocked URLs, other roles and other tenants are refused; changes are audited', async () => {
    for (const path of ['/a', '/b', '/gone']) {
      const res = await createSub({ url: `${receiver.url}${path}?token=s3cret`, events: ['document.ingested'], description: `endpoint ${path}` });
      expect(res.status).toBe(201);
      const sub = (await res.json()) as Json;
      expect(sub).toMatchObject({ events: ['document.ingested'], url: `${receiver.url}${path}?token=s3cret` });
      expect(String(sub.id)).toMatch(/^whs_/);
      subs.push(String(sub.id));
    }
    expect((await createSub({ url: `${receiver.url}/x`, events: ['document.ingested'] }, 'operator')).status).toBe(403);
    const blocked = await createSub({ url: 'http://10.20.30.40/hook', events: ['document.ingested'] });
    expect(blocked.status).toBe(400);
    expect(((await blocked.json()) as { errors: { path: string; message: string }[] }).errors[0]).toMatchObject({ path: 'url', message: expect.stringContaining('10.20.30.40') });
    expect((await createSub({ url: 'ftp://example.com/x', events: ['document.ingested'] })).status).toBe(400);
    expect((await createSub({ url: `${receiver.url}/x`, events: ['order.paid'] })).status).toBe(400);

    const list = (await (await stack.api('/v1/webhook-subscriptions', { role: 'admin' })).json()) as { items: Json[] };
    expect(list.items.map((s) => s.id).sort()).toEqual([...subs].sort());
    const foreign = await stack.api(`/v1/webhook-subscriptions/${subs[2]}`, { method: 'DELETE', role: null, headers: { authorization: `Bearer ${other.key}` } });
    expect(foreign.status).toBe(404);
    expect((await stack.api(`/v1/webhook-subscriptions/${subs[2]}`, { method: 'DELETE', role: 'admin' })).status).toBe(204);
    expect((await stack.api(`/v1/webhook-subscriptions/${subs[2]}`, { method: 'DELETE', role: 'admin' })).status).toBe(404);

    const audit = await stack.db.select().from(auditEvents).where(and(eq(auditEvents.tenantId, stack.tenantId), eq(auditEvents.target, subs[0]!)));
    expect(audit).toHaveLength(1);
    expect(audit[0]).toMatchObject({ action: 'webhook-subscription.create', outcome: 'succeeded', detail: { events: ['document.ingested'] } });
    // The URL's query may hold the receiver's secret: only the host is audited.
    expect(JSON.stringify(audit[0]!.detail)).not.toContain('s3cret');
  });
});

describe('document.ingested', () => {
  let doc = { id: '', jobId: '' };
  let chunkCount = 0;

  it('one signed webhook.deliver job per subscription, listed like any job, even when the emission is retried', async () => {
    doc = await uploadNew(stack, 'Invoice number 77. Amount due: 90 EUR. Bill to: Umbra Ltd. Total due now.', {
      filename: 'inv-77.txt',
      type: 'text/plain',
      metadata: { fault: 'emit-once', title: 'Invoice 77' },
    });
    const ingested = await waitForDocument(stack, doc.id);
    chunkCount = ingested.chunkCount as number;
    expect(await waitForJob(stack, doc.jobId)).toMatchObject({ status: 'succeeded', result: { events: 2 } });
    expect(emitAttempts.get(doc.id)).toBe(2);

    const rows = await eventJobs(doc.id);
    expect(rows).toHaveLength(2);
    for (const row of rows) {
      expect(await waitForJob(stack, row.id)).toMatchObject({ status: 'succeeded', type: 'webhook.deliver' });
    }
    await receiver.waitForRequests(2);
    const received = requestsFor(doc.id);
    expect(received).toHaveLength(2);
    expect(received.map((r) => r.headers['jobplane-event-type'])).toEqual(['document.ingested', 'document.ingested']);
    for (const r of received) {
      expect(r.headers['jobplane-signature']).toMatch(/^t=\d+,v1=[0-9a-f]{64}$/);
      expect(rows.map((j) => j.id)).toContain(r.headers['idempotency-key']);
      expect(JSON.parse(r.body)).toMatchObject({
        type: 'document.ingested',
        documentId: doc.id,
        tenantId: stack.tenantId,
        title: 'Invoice 77',
        contentType: 'text/plain',
        classification: { label: 'invoice' },
        links: { self: `${stack.apiUrl}/v1/documents/${doc.id}` },
      });
    }
    // Listed through the jobs API with their labels.
    const listed = (await (await stack.api(`/v1/jobs?type=webhook.deliver&label=${encodeURIComponent(`document=${doc.id}`)}`, { role: 'viewer' })).json()) as { items: Json[] };
    expect(listed.items.map((j) => j.id).sort()).toEqual(rows.map((r) => r.id).sort());
    expect(listed.items[0]!.labels).toEqual(expect.arrayContaining(['event=document.ingested']));
    await recordHistory(stack.temporal.address, `${stack.tenantId}:${doc.jobId}`, 'document-ingest', 'events-emitted-after-retry');
  });

  it('a reset of the ingestion (temporal CLI) re-derives everything once and emits nothing twice', async () => {
    const workflowId = `${stack.tenantId}:${doc.jobId}`;
    const handle = stack.client.workflow.getHandle(workflowId);
    const firstRun = (await handle.describe()).runId;
    const { stdout } = await run(
      inject('temporalCli'),
      ['workflow', 'reset', '-w', workflowId, '--type', 'FirstWorkflowTask', '--reason', 'documents test: re-derive', '--address', stack.temporal.address],
      { timeout: 30_000 },
    );
    expect(stdout).toMatch(/Resetting workflow/);
    const resetRun = (await handle.describe()).runId;
    expect(resetRun).not.toBe(firstRun);
    await expect.poll(async () => (await handle.describe()).status.name, { timeout: 60_000, interval: 250 }).toBe('COMPLETED');
    expect(await handle.result()).toMatchObject({ documentId: doc.id, status: 'ingested', events: 2, chunkCount });

    // Indexed again by the new run — and still exactly one set of chunks.
    const chunks = await stack.db.select({ runId: documentChunks.runId }).from(documentChunks).where(eq(documentChunks.documentId, doc.id));
    expect(chunks).toHaveLength(chunkCount);
    expect(new Set(chunks.map((c) => c.runId))).toEqual(new Set([resetRun]));
    expect(await waitForDocument(stack, doc.id)).toMatchObject({ status: 'ingested', chunkCount, jobId: doc.jobId });

    // The same two event jobs, each with its single run, and no third delivery.
    const rows = await eventJobs(doc.id);
    expect(rows).toHaveLength(2);
    const ids = rows.map((r) => `'${r.workflowId}'`).join(', ');
    expect((await stack.client.workflow.count(`WorkflowId IN (${ids})`)).count).toBe(2);
    expect(requestsFor(doc.id)).toHaveLength(2);
    await recordHistory(stack.temporal.address, workflowId, 'document-ingest', 'reset-reingested');
  });

  it('no subscription, no event; a deleted subscription gets none', async () => {
    for (const id of subs.slice(0, 2)) expect((await stack.api(`/v1/webhook-subscriptions/${id}`, { method: 'DELETE', role: 'admin' })).status).toBe(204);
    const quiet = await uploadNew(stack, 'A report with findings and no listeners.', { filename: 'quiet.txt', type: 'text/plain' });
    await waitForDocument(stack, quiet.id);
    expect(await waitForJob(stack, quiet.jobId)).toMatchObject({ status: 'succeeded', result: { events: 0 } });
    expect(await eventJobs(quiet.id)).toEqual([]);
  });
});
