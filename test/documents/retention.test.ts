/**
 * Deletion, legal holds and retention on the real dev server and Postgres.
 * The worker is the real worker process (workers/main.ts), which ensures the
 * retention Temporal Schedule at start; the schedule fires every 2 s here.
 * "Expired" is made real by backdating `created_at` in SQL by two days
 * against a one-day tenant retention — everything else (the policy set over
 * the API, the schedule firing, the workflow, the deletions, the audit) is
 * the production path. Afterwards no derived row and no blob of a deleted
 * document is left, and every live document still has its blob.
 */
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { and, eq, inArray, sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiKey, createTenant } from '../../api/tenants/service.ts';
import { auditEvents, documentChunks, documentClassifications, documents, documentTexts } from '../../db/schema/index.ts';
import { blobKeyFor, tenantBlobPrefix } from '../../domain/blob-store/blob-store.ts';
import { FilesystemBlobStore } from '../../domain/blob-store/filesystem.ts';
import { retentionScheduleId } from '../../workers/retention-schedule.ts';
import { problemType } from '../helpers/http.ts';
import { search, upload, uploadNew, waitForDocument, type Json } from '../helpers/documents.ts';
import { recordHistory } from '../helpers/record-history.ts';
import { startTestStack, type TestStack } from '../helpers/stack.ts';

const platformKey = `jpp_${randomBytes(24).toString('hex')}`;
let stack: TestStack;
let blobs: FilesystemBlobStore;
let other: { tenantId: string; admin: string; submitter: string };

beforeAll(async () => {
  stack = await startTestStack('doc-retention', { env: { JOBPLANE_PLATFORM_KEY: platformKey, JOBPLANE_DOCUMENT_RETENTION_INTERVAL_SECONDS: '2' } });
  blobs = new FilesystemBlobStore(stack.env.JOBPLANE_BLOB_DIR!);
  const t = await createTenant(stack.db, `retention-other-${Date.now()}`);
  other = {
    tenantId: t.id,
    admin: (await createApiKey(stack.db, t.id, { name: 'other admin', role: 'admin' })).key,
    submitter: (await createApiKey(stack.db, t.id, { name: 'other submitter', role: 'submitter' })).key,
  };
  await stack.spawnWorkerProcess();
});
afterAll(async () => {
  await stack?.close();
});

const asKey = (key: string, init: RequestInit = {}) => ({ ...init, role: null, headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' } });
const putRetention = (tenantId: string, days: unknown, init: RequestInit & { role?: 'admin' | 'operator' | null } = {}) =>
  stack.api(`/v1/tenants/${tenantId}/retention`, { method: 'PUT', body: JSON.stringify({ days }), ...init });

async function derivedRows(ids: string[]): Promise<number> {
  let n = 0;
  for (const table of [documentChunks, documentTexts, documentClassifications]) {
    const [row] = await stack.db.select({ n: sql<number>`count(*)::int` }).from(table).where(inArray(table.documentId, ids));
    n += row!.n;
  }
  return n;
}

async function blobKeys(tenantId: string): Promise<string[]> {
  const keys: string[] = [];
  for await (const k of blobs.list(tenantBlobPrefix(tenantId))) keys.push(k);
  return keys.sort();
}

/** No orphans either way: each blob belongs to a live document, each live document has its blob. */
async function expectNoOrphans(tenantId: string): Promise<void> {
  const live = await stack.db
    .select({ blobKey: documents.blobKey, status: documents.status })
    .from(documents)
    .where(and(eq(documents.tenantId, tenantId), sql`${documents.status} <> 'deleted'`));
  expect(await blobKeys(tenantId)).toEqual([...new Set(live.map((d) => d.blobKey!))].sort());
  const [tombstoneBlobs] = await stack.db
    .select({ n: sql<number>`count(*)::int` })
    .from(documents)
    .where(and(eq(documents.tenantId, tenantId), eq(documents.status, 'deleted'), sql`${documents.blobKey} is not null`));
  expect(tombstoneBlobs!.n).toBe(0);
}

describe('retention policy', () => {
  it('the tenant admin or the platform key sets it (audited); other roles and tenants cannot', async () => {
    const set = await putRetention(stack.tenantId, 30, { role: 'admin' });
    expect(set.status).toBe(200);
    expect(await set.json()).toEqual({ tenantId: stack.tenantId, days: 30 });
    expect(await (await stack.api(`/v1/tenants/${stack.tenantId}/retention`, { role: 'admin' })).json()).toEqual({ tenantId: stack.tenantId, days: 30 });
    expect((await putRetention(stack.tenantId, 7, { role: 'operator' })).status).toBe(403);
    expect((await putRetention(stack.tenantId, 7, asKey(other.admin))).status).toBe(404);
    expect((await putRetention(stack.tenantId, 0, { role: 'admin' })).status).toBe(400);
    expect((await putRetention(stack.tenantId, 'soon', { role: 'admin' })).status).toBe(400);
    const byPlatform = await putRetention(stack.tenantId, 1, asKey(platformKey));
    expect(byPlatform.status).toBe(200);
    const audit = await stack.db.select().from(auditEvents).where(and(eq(auditEvents.tenantId, stack.tenantId), eq(auditEvents.action, 'tenant.retention.set')));
    expect(audit.map((a) => [a.actorKeyId === 'platform', a.detail])).toEqual([
      [false, { days: 30, previous: null }],
      [true, { days: 1, previous: 30 }],
    ]);
  });
});

describe('delete and legal hold', () => {
  it('a held document cannot be deleted; released, DELETE removes its bytes and derived data and leaves an audited tombstone', async () => {
    const text = 'Contract draft. This Agreement between the parties. Governing law: Ontario. Wombatine clause.';
    const { id } = await uploadNew(stack, text, { filename: 'draft.txt', type: 'text/plain' });
    const doc = await waitForDocument(stack, id);
    const blobKey = `tenants/${stack.tenantId}/${String(doc.sha256).slice(0, 2)}/${doc.sha256}`;
    expect(existsSync(path.join(stack.env.JOBPLANE_BLOB_DIR!, blobKey))).toBe(true);

    expect((await stack.api(`/v1/documents/${id}/legal-hold`, { method: 'PUT', role: 'submitter', body: JSON.stringify({ hold: true }) })).status).toBe(403);
    const held = await stack.api(`/v1/documents/${id}/legal-hold`, { method: 'PUT', role: 'operator', body: JSON.stringify({ hold: true }) });
    expect(held.status).toBe(200);
    expect(await held.json()).toMatchObject({ id, legalHold: true });
    const refused = await stack.api(`/v1/documents/${id}`, { method: 'DELETE', role: 'submitter' });
    expect(refused.status).toBe(409);
    expect(await refused.json()).toMatchObject({ type: problemType('document-on-legal-hold') });
    expect((await search(stack, 'wombatine')).items.map((h) => h.documentId)).toEqual([id]);

    expect((await stack.api(`/v1/documents/${id}/legal-hold`, { method: 'PUT', role: 'operator', body: JSON.stringify({ hold: false }) })).status).toBe(200);
    expect((await stack.api(`/v1/documents/${id}`, { method: 'DELETE', role: 'submitter' })).status).toBe(204);
    const tombstone = await waitForDocument(stack, id, ['deleted']);
    expect(tombstone).toMatchObject({ status: 'deleted', deletionReason: 'request', sha256: null, title: null, filename: null, metadata: null, classification: null, lineage: [], legalHold: false });
    expect((await stack.api(`/v1/documents/${id}/content`, { role: 'viewer' })).status).toBe(404);
    expect((await search(stack, 'wombatine')).items).toEqual([]);
    expect(await derivedRows([id])).toBe(0);
    expect(existsSync(path.join(stack.env.JOBPLANE_BLOB_DIR!, blobKey))).toBe(false);
    // Deleting again changes nothing; a hold on a deleted document is refused.
    expect((await stack.api(`/v1/documents/${id}`, { method: 'DELETE', role: 'submitter' })).status).toBe(204);
    expect((await stack.api(`/v1/documents/${id}/legal-hold`, { method: 'PUT', role: 'operator', body: JSON.stringify({ hold: true }) })).status).toBe(409);

    const audit = await stack.db.select().from(auditEvents).where(and(eq(auditEvents.tenantId, stack.tenantId), eq(auditEvents.target, id)));
    expect(audit.filter((a) => a.outcome === 'succeeded').map((a) => a.action)).toEqual([
      'document.upload',
      'document.legal-hold.place',
      'document.legal-hold.release',
      'document.delete',
    ]);
    expect(audit.find((a) => a.action === 'document.delete')!.detail).toMatchObject({ reason: 'request', sha256: doc.sha256 });

    // The same bytes may come back: a new document, ingested anew.
    const again = await upload(stack, text, { filename: 'draft.txt', type: 'text/plain' });
    expect(again.status).toBe(202);
    const back = (await again.json()) as { id: string };
    expect(back.id).not.toBe(id);
    expect(await waitForDocument(stack, back.id)).toMatchObject({ status: 'ingested' });
    await expectNoOrphans(stack.tenantId);
  });
});

describe('retention on a Temporal Schedule', () => {
  it('deletes expired documents with all derived data and blobs, keeps held and fresh ones, audits each deletion', async () => {
    // The worker process ensured the schedule at start.
    const schedule = await stack.client.schedule.getHandle(retentionScheduleId(stack.config)).describe();
    expect(schedule.spec.intervals?.[0]?.every).toBe(2000);

    expect((await putRetention(stack.tenantId, 1, { role: 'admin' })).status).toBe(200);
    const expired = await uploadNew(stack, 'Old invoice. Amount due 5 EUR. Invoice number 1. Fennelwort.', { filename: 'old.txt', type: 'text/plain' });
    const held = await uploadNew(stack, 'Old report, held for litigation. Findings. Gloxinia.', { filename: 'held.txt', type: 'text/plain' });
    const fresh = await uploadNew(stack, 'New memo, uploaded today. Marjoram.', { filename: 'fresh.txt', type: 'text/plain' });
    const failed = await uploadNew(stack, '%PDF-1.4\nbroken and old\n%%EOF', { filename: 'old.pdf', type: 'application/pdf' });
    // The other tenant keeps documents forever (no retention set).
    const theirs = await fetch(`${stack.apiUrl}/v1/documents`, {
      method: 'POST',
      headers: { authorization: `Bearer ${other.submitter}` },
      body: (() => {
        const f = new FormData();
        f.set('file', new Blob(['Their old document. Tamarillo.'], { type: 'text/plain' }), 'theirs.txt');
        return f;
      })(),
    });
    expect(theirs.status).toBe(202);
    const theirId = ((await theirs.json()) as { id: string }).id;
    for (const id of [expired.id, held.id, fresh.id]) await waitForDocument(stack, id, ['ingested']);
    await waitForDocument(stack, failed.id, ['failed']);
    await expect.poll(async () => (await stack.db.select({ s: documents.status }).from(documents).where(eq(documents.id, theirId)))[0]?.s, { timeout: 60_000 }).toBe('ingested');
    expect((await stack.api(`/v1/documents/${held.id}/legal-hold`, { method: 'PUT', role: 'operator', body: JSON.stringify({ hold: true }) })).status).toBe(200);

    // A stranded upload: its row and bytes were stored, but its ingestion job never started (Temporal was
    // down and the client never retried). Made by hand, as the API would have left it.
    const strandedText = 'Stranded upload bytes.';
    const strandedSha = createHash('sha256').update(strandedText).digest('hex');
    const strandedKey = blobKeyFor(stack.tenantId, strandedSha);
    const stagedFile = path.join(blobs.stagingDir, 'stranded.part');
    mkdirSync(blobs.stagingDir, { recursive: true });
    writeFileSync(stagedFile, strandedText);
    await blobs.putFile(strandedKey, stagedFile);
    const strandedId = 'doc_0000000000stranded00000000';
    await stack.db.insert(documents).values({ id: strandedId, tenantId: stack.tenantId, contentType: 'text/plain', sizeBytes: strandedText.length, sha256: strandedSha, blobKey: strandedKey, title: 'stranded' });

    // Two days old against a one-day retention.
    await stack.db
      .update(documents)
      .set({ createdAt: sql`now() - interval '2 days'` })
      .where(inArray(documents.id, [expired.id, held.id, failed.id, theirId, strandedId]));

    // The schedule fires every 2 s: wait for the run that deletes them.
    const gone = await waitForDocument(stack, expired.id, ['deleted'], 60_000);
    expect(gone).toMatchObject({ deletionReason: 'retention', sha256: null, title: null });
    expect(await waitForDocument(stack, failed.id, ['deleted'], 30_000)).toMatchObject({ deletionReason: 'retention' });
    expect(await waitForDocument(stack, strandedId, ['deleted'], 30_000)).toMatchObject({ deletionReason: 'retention' });
    expect(await blobs.head(strandedKey)).toBeUndefined();
    expect(await waitForDocument(stack, held.id)).toMatchObject({ status: 'ingested', legalHold: true });
    expect(await waitForDocument(stack, fresh.id)).toMatchObject({ status: 'ingested' });
    const [theirRow] = await stack.db.select().from(documents).where(eq(documents.id, theirId));
    expect(theirRow!.status).toBe('ingested');

    expect((await search(stack, 'fennelwort')).items).toEqual([]);
    expect((await search(stack, 'gloxinia')).items.map((h) => h.documentId)).toEqual([held.id]);
    expect((await search(stack, 'marjoram')).items.map((h) => h.documentId)).toEqual([fresh.id]);
    expect(await derivedRows([expired.id, failed.id])).toBe(0);
    await expectNoOrphans(stack.tenantId);
    await expectNoOrphans(other.tenantId);

    const audit = await stack.db.select().from(auditEvents).where(and(eq(auditEvents.action, 'document.delete'), inArray(auditEvents.target, [expired.id, failed.id])));
    expect(audit).toHaveLength(2);
    for (const a of audit) expect(a).toMatchObject({ tenantId: stack.tenantId, actorKeyId: 'retention', outcome: 'succeeded', detail: expect.objectContaining({ reason: 'retention' }) });

    // The runs: the one that deleted them (it may still be finishing) counted the hold; later runs find nothing to delete.
    const completedRuns = async () => {
      const runs: { workflowId: string; runId: string; closeTime?: Date }[] = [];
      for await (const wf of stack.client.workflow.list({ query: `WorkflowType = 'documentRetentionWorkflow' AND ExecutionStatus = 'Completed'` })) runs.push(wf);
      const withResults = await Promise.all(runs.map(async (r) => ({ ...r, result: (await stack.client.workflow.getHandle(r.workflowId, r.runId).result()) as Json })));
      return withResults.sort((a, b) => (a.closeTime?.getTime() ?? 0) - (b.closeTime?.getTime() ?? 0));
    };
    await expect.poll(async () => (await completedRuns()).reduce((n, r) => n + (r.result.deleted as number), 0), { timeout: 30_000, interval: 500 }).toBe(3);
    const runs = await completedRuns();
    const deleting = runs.filter((r) => (r.result.deleted as number) > 0);
    expect(deleting.at(-1)!.result.held).toBeGreaterThanOrEqual(1);
    const handle = stack.client.schedule.getHandle(retentionScheduleId(stack.config));
    const before = runs.length;
    await handle.trigger();
    await expect.poll(async () => (await completedRuns()).length, { timeout: 30_000, interval: 500 }).toBeGreaterThan(before);
    expect((await completedRuns()).at(-1)!.result).toMatchObject({ deleted: 0, held: 1 });
    await recordHistory(stack.temporal.address, deleting.at(-1)!.workflowId, 'document-retention', 'deleted-expired-kept-held');
  });
});
