/**
 * The jobs API beyond create/get: lists with filters and stable cursors,
 * long-polled results, contract-defined messages, delayed starts, job types,
 * and a corpus of bad requests that must each get the right 4xx while
 * Temporal's workflow count stays unchanged.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ProblemSlug } from '../../api/http/problems.ts';
import { expectProblem } from '../helpers/http.ts';
import { startReceiver, type Receiver } from '../helpers/receiver.ts';
import { startTestStack, waitForJob, type TestStack } from '../helpers/stack.ts';

let stack: TestStack;
let receiver: Receiver;

beforeAll(async () => {
  stack = await startTestStack('features');
  await stack.startWorkers();
  receiver = await startReceiver(() => ({ status: 200 }));
});
afterAll(async () => {
  await receiver?.close();
  await stack?.close();
});

type Job = { id: string; status: string; labels: string[]; result?: unknown; startAt?: string; finishedAt?: string };

async function create(body: Record<string, unknown>, status = 201): Promise<Job> {
  const res = await stack.api('/v1/jobs', { method: 'POST', role: 'submitter', body: JSON.stringify(body) });
  expect(res.status, JSON.stringify(await res.clone().json())).toBe(status);
  return (await res.json()) as Job;
}
const approval = (subject: string, extra: Record<string, unknown> = {}) => ({ type: 'approval.request', input: { subject }, ...extra });
const webhook = (extra: Record<string, unknown> = {}) => ({ type: 'webhook.deliver', input: { url: receiver.url, payload: { n: 1 } }, ...extra });

async function workflowCount(): Promise<number> {
  return (await stack.client.workflow.count(`TenantId = "${stack.tenantId}"`)).count;
}

describe('GET /v1/jobs', () => {
  it('pages newest first with a stable cursor while jobs keep being created', async () => {
    const made: Job[] = [];
    for (let i = 0; i < 7; i++) made.push(await create(approval(`page ${i}`, { labels: ['batch=pages'] })));
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const res = await stack.api(`/v1/jobs?label=batch=pages&limit=3${cursor ? `&cursor=${cursor}` : ''}`, { role: 'viewer' });
      const page = (await res.json()) as { items: Job[]; nextCursor: string | null };
      seen.push(...page.items.map((j) => j.id));
      cursor = page.nextCursor;
      // Inserts between pages land before the cursor and never shift what follows.
      await create(approval('interloper', { labels: ['batch=pages'] }));
    } while (cursor);
    const original = made.map((j) => j.id).reverse();
    expect(seen.filter((id) => original.includes(id))).toEqual(original);
    expect(new Set(seen).size).toBe(seen.length);
  });

  it('filters by type, label, status and creation time', async () => {
    const hook = await create(webhook({ labels: ['team=billing'] }));
    await waitForJob(stack, hook.id);
    const pending = await create(approval('filter me', { labels: ['team=billing'] }));
    const byLabel = (await (await stack.api('/v1/jobs?label=team=billing', { role: 'viewer' })).json()) as { items: Job[] };
    expect(byLabel.items.map((j) => j.id)).toEqual([pending.id, hook.id]);
    const byType = (await (await stack.api('/v1/jobs?label=team=billing&type=webhook.deliver', { role: 'viewer' })).json()) as { items: Job[] };
    expect(byType.items.map((j) => j.id)).toEqual([hook.id]);
    const succeeded = (await (await stack.api('/v1/jobs?label=team=billing&status=succeeded', { role: 'viewer' })).json()) as { items: Job[] };
    expect(succeeded.items.map((j) => [j.id, j.status])).toEqual([[hook.id, 'succeeded']]);
    const future = new Date(Date.now() + 60_000).toISOString();
    const none = (await (await stack.api(`/v1/jobs?createdAfter=${future}`, { role: 'viewer' })).json()) as { items: Job[] };
    expect(none.items).toEqual([]);
  });
});

describe('results, messages and delayed starts', () => {
  it('long-polls: 202 after the wait while pending, 200 with the result once decided', async () => {
    const job = await create(approval('ship it?', { priority: 1 }));
    const t0 = Date.now();
    const waiting = await stack.api(`/v1/jobs/${job.id}/result?waitSeconds=1`, { role: 'viewer' });
    expect(waiting.status).toBe(202);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(900);

    const comment = await stack.api(`/v1/jobs/${job.id}/signals/comment`, { method: 'POST', role: 'submitter', body: JSON.stringify({ by: 'ann', text: 'looks good' }) });
    expect(comment.status).toBe(202);
    const status = (await (await stack.api(`/v1/jobs/${job.id}/queries/status`, { role: 'viewer' })).json()) as { result: { state: string; comments: { text: string }[] } };
    expect(status.result.state).toBe('pending');
    expect(status.result.comments.map((c) => c.text)).toEqual(['looks good']);

    const longPoll = stack.api(`/v1/jobs/${job.id}/result?waitSeconds=20`, { role: 'viewer' });
    const approved = await stack.api(`/v1/jobs/${job.id}/updates/approve`, { method: 'POST', role: 'submitter', body: JSON.stringify({ by: 'ann', comment: 'go' }) });
    expect(approved.status).toBe(200);
    expect(((await approved.json()) as { result: unknown }).result).toMatchObject({ decision: 'approved', decidedBy: 'ann' });
    const done = await longPoll;
    expect(done.status).toBe(200);
    expect(await done.json()).toMatchObject({ status: 'succeeded', priority: 1, result: { decision: 'approved', decidedBy: 'ann', comment: 'go' } });

    const again = await stack.api(`/v1/jobs/${job.id}/updates/reject`, { method: 'POST', role: 'submitter', body: JSON.stringify({ by: 'bob' }) });
    expect(again.status).toBe(409);
  });

  it('message validation: 400 with field paths, 403 for a non-approver, 404 for unknown names', async () => {
    const job = await create(approval('gated', { input: { subject: 'gated', approvers: ['carol'] } }));
    const bad = await stack.api(`/v1/jobs/${job.id}/updates/approve`, { method: 'POST', role: 'submitter', body: JSON.stringify({ by: '' }) });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { errors: { path: string }[] }).errors.map((e) => e.path)).toEqual(['by']);
    const stranger = await stack.api(`/v1/jobs/${job.id}/updates/approve`, { method: 'POST', role: 'submitter', body: JSON.stringify({ by: 'mallory' }) });
    expect(stranger.status).toBe(403);
    for (const path of ['updates/explode', 'signals/explode']) {
      expect((await stack.api(`/v1/jobs/${job.id}/${path}`, { method: 'POST', role: 'submitter', body: '{}' })).status).toBe(404);
    }
    expect((await stack.api(`/v1/jobs/${job.id}/queries/explode`, { role: 'viewer' })).status).toBe(404);
    const status = (await (await stack.api(`/v1/jobs/${job.id}/queries/status`, { role: 'viewer' })).json()) as { result: { state: string } };
    expect(status.result.state).toBe('pending');
  });

  it('a delayed job stays queued with its start time, then runs', async () => {
    const job = await create(webhook({ delay: '2s' }));
    expect(job.status).toBe('queued');
    expect(Date.parse(job.startAt!)).toBeGreaterThan(Date.now() + 1000);
    expect((await (await stack.api(`/v1/jobs/${job.id}`, { role: 'viewer' })).json()) as Job).toMatchObject({ status: 'queued' });
    const done = await waitForJob(stack, job.id);
    expect(done.status).toBe('succeeded');
    expect(Date.parse(String(done.finishedAt))).toBeGreaterThanOrEqual(Date.parse(job.startAt!));
  });

  it('GET /v1/job-types describes every type with JSON Schemas of input, output and messages', async () => {
    const res = await stack.api('/v1/job-types', { role: 'viewer' });
    const { items } = (await res.json()) as { items: { type: string; input: { properties: Record<string, unknown> }; updates: Record<string, unknown> }[] };
    const types = Object.fromEntries(items.map((t) => [t.type, t]));
    expect(Object.keys(types).sort()).toEqual(['approval.request', 'batch.run', 'document.ingest', 'noop', 'webhook.deliver']);
    expect(Object.keys(types['webhook.deliver']!.input.properties)).toEqual(expect.arrayContaining(['url', 'payload', 'eventType']));
    expect(Object.keys(types['approval.request']!.updates).sort()).toEqual(['approve', 'reject']);
    // batch.run's messages are in the catalog too, so clients and OpenAPI readers find them.
    const batch = items.find((t) => t.type === 'batch.run') as unknown as { updates: object; signals: object; queries: object; input: { properties: { jobType: { enum: string[] } } } };
    expect(Object.keys(batch.updates)).toEqual(['retry-failed']);
    expect(Object.keys(batch.signals).sort()).toEqual(['finish', 'pause', 'resume']);
    expect(Object.keys(batch.queries)).toEqual(['progress']);
    expect(batch.input.properties.jobType.enum.sort()).toEqual(['approval.request', 'noop', 'webhook.deliver']);
  });
});

describe('bad requests', () => {
  // Built as text: 3,000 levels is deeper than any sane payload (and than recursive code likes).
  const deepJson = '{"a":'.repeat(3000) + '1' + '}'.repeat(3000);
  const corpus: [string, RequestInit & { role?: 'submitter' | 'viewer' | null }, number, ProblemSlug][] = [
    ['malformed JSON', { method: 'POST', body: '{"type":' }, 400, 'malformed-json'],
    ['not JSON', { method: 'POST', body: 'type=webhook', headers: { 'content-type': 'application/x-www-form-urlencoded' } }, 415, 'unsupported-media-type'],
    ['unknown job type', { method: 'POST', body: JSON.stringify({ type: 'nope', input: {} }) }, 400, 'validation-error'],
    ['schema violation', { method: 'POST', body: JSON.stringify({ type: 'webhook.deliver', input: { url: 42 } }) }, 400, 'validation-error'],
    ['unknown field', { method: 'POST', body: JSON.stringify({ type: 'webhook.deliver', input: {}, extra: 1 }) }, 400, 'validation-error'],
    ['priority out of range', { method: 'POST', body: JSON.stringify({ ...{ type: 'approval.request', input: { subject: 'x' } }, priority: 9 }) }, 400, 'validation-error'],
    ['startAt and delay', { method: 'POST', body: JSON.stringify({ type: 'approval.request', input: { subject: 'x' }, delay: 5, startAt: new Date().toISOString() }) }, 400, 'validation-error'],
    ['oversized body', { method: 'POST', body: JSON.stringify({ type: 'webhook.deliver', input: { url: 'https://example.com', payload: 'x'.repeat(1_100_000) } }) }, 413, 'payload-too-large'],
    ['deeply nested input', { method: 'POST', body: `{"type":"approval.request","input":{"subject":"x","details":${deepJson}}}` }, 400, 'validation-error'],
    ['bad cursor', { method: 'GET', role: 'viewer', path: '/v1/jobs?cursor=not-a-cursor' } as never, 400, 'validation-error'],
    ['bad limit', { method: 'GET', role: 'viewer', path: '/v1/jobs?limit=100000' } as never, 400, 'validation-error'],
    ['bad status filter', { method: 'GET', role: 'viewer', path: '/v1/jobs?status=exploded' } as never, 400, 'validation-error'],
    ['bad id', { method: 'GET', role: 'viewer', path: '/v1/jobs/..%2F..%2Fetc' } as never, 404, 'not-found'],
    ['wrong method', { method: 'DELETE', path: '/v1/jobs' } as never, 405, 'method-not-allowed'],
    ['bad waitSeconds', { method: 'GET', role: 'viewer', path: '/v1/jobs/job_00000000000000000000000000/result?waitSeconds=999' } as never, 400, 'validation-error'],
  ];

  it.each(corpus)('%s → %i %s, and nothing starts', async (_name, init, status, slug) => {
    const before = await workflowCount();
    const { path = '/v1/jobs', role = 'submitter', ...rest } = init as RequestInit & { path?: string; role?: 'submitter' | 'viewer' };
    const res = await stack.api(path, { role, ...rest });
    const body = await expectProblem(res, status, slug);
    if (slug === 'validation-error') expect(body.errors?.length).toBeGreaterThan(0);
    if (status === 405) expect(res.headers.get('allow')).toContain('POST');
    expect(await workflowCount()).toBe(before);
  });
});
