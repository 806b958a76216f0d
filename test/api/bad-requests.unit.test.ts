/**
 * The bad-request corpus without Temporal (the unit tier): hostile bodies
 * (deep JSON, duplicate keys, NUL bytes, lone surrogates, numbers past
 * finite), bad query and path parameters, dates out of range, wrong content
 * types and oversized bodies, through `app.request()` on real Postgres. Each
 * answers 400, 405, 413 or 415 problem+json naming what is wrong, and
 * nothing is stored: no row, no audit record of a change, no blob.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ProblemSlug } from '../../api/http/problems.ts';
import type { ApiKeyRole } from '../../db/schema/index.ts';
import { startTestApp, type AppStack } from '../helpers/app.ts';
import { expectProblem } from '../helpers/http.ts';
import { storedState } from '../helpers/stored-state.ts';

let stack: AppStack;

beforeAll(async () => {
  stack = await startTestApp('bad-requests');
});
afterAll(async () => {
  await stack?.close();
});

/** What a refused request must not have changed (test/helpers/stored-state.ts); staged files count as blobs, as they always did here. */
async function fingerprint(): Promise<string> {
  const { blobs, staged, ...rows } = await storedState(stack.db, stack.config.blobDir);
  return JSON.stringify({ ...rows, blobs: blobs! + staged! });
}

const deep = (n: number) => '['.repeat(n) + ']'.repeat(n);
const approval = (extra: Record<string, unknown> = {}) => JSON.stringify({ type: 'approval.request', input: { subject: 'x' }, ...extra });
const inDays = (days: number) => new Date(Date.now() + days * 86_400_000).toISOString();
const json = { 'content-type': 'application/json' };

type Case = [name: string, init: RequestInit & { path?: string; role?: ApiKeyRole }, status: number, slug: ProblemSlug, field?: string];

const corpus: Case[] = [
  // Bodies that are not JSON, or not what the route takes.
  ['malformed JSON', { method: 'POST', body: '{"type":' }, 400, 'malformed-json'],
  ['form-encoded body', { method: 'POST', body: 'type=noop', headers: { 'content-type': 'application/x-www-form-urlencoded' } }, 415, 'unsupported-media-type'],
  ['text body', { method: 'POST', body: '{}', headers: { 'content-type': 'text/plain' } }, 415, 'unsupported-media-type'],
  ['unknown job type', { method: 'POST', body: JSON.stringify({ type: 'nope', input: {} }) }, 400, 'validation-error', 'type'],
  ['schema violation', { method: 'POST', body: JSON.stringify({ type: 'approval.request', input: { subject: 42 } }) }, 400, 'validation-error', 'input.subject'],
  ['unknown field', { method: 'POST', body: approval({ extra: 1 }) }, 400, 'validation-error'],
  ['priority out of range', { method: 'POST', body: approval({ priority: 9 }) }, 400, 'validation-error', 'priority'],
  ['array instead of object', { method: 'POST', body: '[]' }, 400, 'validation-error'],
  ['internal job type', { method: 'POST', body: JSON.stringify({ type: 'document.ingest', input: {} }) }, 400, 'job-type-internal'],
  // Hostile JSON.
  ['10,000-level nesting', { method: 'POST', body: deep(10_000) }, 400, 'validation-error'],
  ['3,000-level nesting inside the input', { method: 'POST', body: `{"type":"approval.request","input":{"subject":"x","details":${'{"a":'.repeat(3000)}1${'}'.repeat(3000)}}}` }, 400, 'validation-error'],
  ['duplicate keys', { method: 'POST', body: '{"type":"noop","type":"approval.request","input":{"subject":"x"}}' }, 400, 'validation-error'],
  ['NUL in a string', { method: 'POST', body: '{"type":"approval.request","input":{"subject":"a\\u0000b"}}' }, 400, 'validation-error'],
  ['lone surrogate in a string', { method: 'POST', body: '{"type":"approval.request","input":{"subject":"\\ud800"}}' }, 400, 'validation-error'],
  ['lone surrogate in a key', { method: 'POST', body: '{"type":"approval.request","input":{"subject":"x","\\udc00":1}}' }, 400, 'validation-error'],
  ['a number past finite', { method: 'POST', body: '{"type":"approval.request","input":{"subject":"x"},"priority":1e400}' }, 400, 'validation-error'],
  ['NUL in a tenant key name', { method: 'POST', path: '/v1/tenants/TENANT/api-keys', role: 'admin', body: '{"name":"a\\u0000","role":"viewer"}' }, 400, 'validation-error'],
  ['NUL in a batch item', { method: 'POST', path: '/v1/batch-inputs?jobType=noop', body: '[{"tag":"\\u0000"}]' }, 400, 'validation-error'],
  // Dates out of range.
  ['startAt before 1970', { method: 'POST', body: approval({ startAt: '1969-12-31T23:59:59Z' }) }, 400, 'validation-error', 'startAt'],
  ['startAt past year 9999', { method: 'POST', body: approval({ startAt: '+275760-09-13T00:00:00.000Z' }) }, 400, 'validation-error', 'startAt'],
  ['startAt more than 365 days ahead', { method: 'POST', body: approval({ startAt: inDays(400) }) }, 400, 'validation-error', 'startAt'],
  ['startAt not a date', { method: 'POST', body: approval({ startAt: '2026-13-45T25:61:61Z' }) }, 400, 'validation-error', 'startAt'],
  ['startAt and delay', { method: 'POST', body: approval({ delay: 5, startAt: inDays(1) }) }, 400, 'validation-error', 'delay'],
  ['key expiry out of range', { method: 'POST', path: '/v1/tenants/TENANT/api-keys', role: 'admin', body: JSON.stringify({ name: 'k', role: 'viewer', expiresAt: '0000-01-01T00:00:00Z' }) }, 400, 'validation-error'],
  // Query parameters.
  ['bad cursor', { method: 'GET', role: 'viewer', path: '/v1/jobs?cursor=not-a-cursor' }, 400, 'validation-error'],
  ['limit too large', { method: 'GET', role: 'viewer', path: '/v1/jobs?limit=100000' }, 400, 'validation-error'],
  ['negative limit', { method: 'GET', role: 'viewer', path: '/v1/jobs?limit=-1' }, 400, 'validation-error'],
  ['bad status filter', { method: 'GET', role: 'viewer', path: '/v1/jobs?status=exploded' }, 400, 'validation-error'],
  ['createdAfter out of range', { method: 'GET', role: 'viewer', path: '/v1/jobs?createdAfter=0000-01-01T00:00:00Z' }, 400, 'validation-error'],
  ['createdBefore past year 9999', { method: 'GET', role: 'viewer', path: '/v1/jobs?createdBefore=%2B275760-09-13T00:00:00.000Z' }, 400, 'validation-error'],
  ['NUL in a query value', { method: 'GET', role: 'viewer', path: '/v1/jobs?label=a%00b' }, 400, 'validation-error', 'query.label'],
  ['NUL in a query name', { method: 'GET', role: 'viewer', path: '/v1/jobs?a%00=1' }, 400, 'validation-error'],
  ['bad waitSeconds', { method: 'GET', role: 'viewer', path: '/v1/jobs/job_00000000000000000000000000/result?waitSeconds=999' }, 400, 'validation-error'],
  ['bad audit cursor', { method: 'GET', role: 'admin', path: '/v1/audit?cursor=%25%25%25' }, 400, 'validation-error'],
  ['batch input without jobType', { method: 'POST', path: '/v1/batch-inputs', body: '[{"tag":"x"}]' }, 400, 'validation-error'],
  // Paths.
  ['NUL in the path', { method: 'GET', role: 'viewer', path: '/v1/jobs/job%00x' }, 400, 'validation-error', 'path'],
  ['path traversal as an id', { method: 'GET', role: 'viewer', path: '/v1/jobs/..%2F..%2Fetc' }, 404, 'not-found'],
  ['wrong method', { method: 'DELETE', path: '/v1/jobs' }, 405, 'method-not-allowed'],
  // Size.
  ['oversized body', { method: 'POST', body: JSON.stringify({ type: 'approval.request', input: { subject: 'x', details: 'x'.repeat(1_100_000) } }) }, 413, 'payload-too-large'],
  ['oversized body, declared only', { method: 'POST', body: approval(), headers: { ...json, 'content-length': String(2 * 1024 * 1024) } }, 413, 'payload-too-large'],
];

describe('bad requests: a problem naming the field, and nothing stored', () => {
  const cases = corpus.map(([name, init, status, slug, field]) => ({ name, init, status, slug, field }));

  it.each(cases)('$name → $status $slug', async ({ init, status, slug, field }) => {
    const { path = '/v1/jobs', role = 'submitter', ...rest } = init;
    const before = await fingerprint();
    const res = await stack.api(path.replace('TENANT', stack.tenantId), { role, ...rest });
    const body = await expectProblem(res, status, slug);
    if (slug === 'validation-error') expect(body.errors?.length ?? (body.detail ? 1 : 0)).toBeGreaterThan(0);
    if (field) expect(body.errors?.map((e) => e.path)).toContain(field);
    if (status === 405) expect(res.headers.get('allow')).toContain('POST');
    if (status === 413) expect(res.headers.get('connection')).toBe('close');
    expect(await fingerprint()).toBe(before);
  });
});
