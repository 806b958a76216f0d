/**
 * Tenancy over a real socket: the platform key manages tenants, tenant admins
 * manage their keys, every role is checked on every route (allowed or 403),
 * another tenant's ids answer 404 exactly like unknown ones and change
 * nothing, and every change (and every refused change) is in the audit log.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { and, eq } from 'drizzle-orm';
import { auditEvents } from '../../db/schema/index.ts';
import { callerWithKey, type Caller } from '../helpers/http.ts';
import { startTestStack, waitForJob, type TestStack } from '../helpers/stack.ts';

const platformKey = `jpp_${randomBytes(24).toString('hex')}`;
let stack: TestStack;
let other: { tenantId: string; admin: string };
let approvalJobId: string;
let documentId: string;

const roles = ['admin', 'operator', 'submitter', 'viewer'] as const;
type Role = (typeof roles)[number];

beforeAll(async () => {
  stack = await startTestStack('tenancy', { env: { JOBPLANE_PLATFORM_KEY: platformKey } });
  await stack.startWorkers();
  // A second tenant, made through the API with the platform key.
  const t = await asPlatform('/v1/tenants', { method: 'POST', body: JSON.stringify({ name: `other-${Date.now()}` }) });
  const tenant = (await t.json()) as { id: string };
  const k = await asPlatform(`/v1/tenants/${tenant.id}/api-keys`, { method: 'POST', body: JSON.stringify({ name: 'other admin', role: 'admin' }) });
  other = { tenantId: tenant.id, admin: ((await k.json()) as { key: string }).key };
  const job = await stack.api('/v1/jobs', {
    method: 'POST',
    role: 'submitter',
    body: JSON.stringify({ type: 'approval.request', input: { subject: 'tenancy probe' } }),
  });
  approvalJobId = ((await job.json()) as { id: string }).id;
  const form = new FormData();
  form.set('file', new Blob(['tenancy probe document'], { type: 'text/plain' }), 'probe.txt');
  const doc = await stack.api('/v1/documents', { method: 'POST', role: 'submitter', body: form });
  expect(doc.status).toBe(202);
  documentId = ((await doc.json()) as { id: string }).id;
});
afterAll(async () => {
  await stack?.close();
});

const asPlatform: Caller = (path, init) => callerWithKey(stack, platformKey)(path, init);
const asOther: Caller = (path, init) => callerWithKey(stack, other.admin)(path, init);

describe('tenants and API keys', () => {
  it('the platform key creates and lists tenants; tenant keys cannot', async () => {
    const created = await asPlatform('/v1/tenants', { method: 'POST', body: JSON.stringify({ name: `acme-${Date.now()}` }) });
    expect(created.status).toBe(201);
    const tenant = (await created.json()) as { id: string; name: string };
    expect(tenant.id).toMatch(/^ten_/);
    const listed = (await (await asPlatform('/v1/tenants')).json()) as { items: { id: string }[] };
    expect(listed.items.map((t) => t.id)).toContain(tenant.id);
    expect((await stack.api('/v1/tenants', { role: 'admin' })).status).toBe(403);
    const dup = await asPlatform('/v1/tenants', { method: 'POST', body: JSON.stringify({ name: tenant.name }) });
    expect(dup.status).toBe(409);
  });

  it('a tenant admin issues, lists and revokes its keys; the key is shown once and works until revoked', async () => {
    const res = await stack.api(`/v1/tenants/${stack.tenantId}/api-keys`, { method: 'POST', role: 'admin', body: JSON.stringify({ name: 'ci bot', role: 'submitter' }) });
    expect(res.status).toBe(201);
    const key = (await res.json()) as { id: string; key: string; role: string };
    expect(key.key).toMatch(/^jp_[a-z0-9]{16}_/);
    const listed = (await (await stack.api(`/v1/tenants/${stack.tenantId}/api-keys`, { role: 'admin' })).json()) as { items: Record<string, unknown>[] };
    const row = listed.items.find((k) => k.id === key.id)!;
    expect(row).toMatchObject({ name: 'ci bot', role: 'submitter', revokedAt: null });
    expect(JSON.stringify(listed)).not.toContain(key.key.split('_')[2]);

    const withKey = (path: string) => stack.api(path, { role: null, headers: { authorization: `Bearer ${key.key}` } });
    expect((await withKey('/v1/job-types')).status).toBe(200);
    expect((await stack.api(`/v1/tenants/${stack.tenantId}/api-keys/${key.id}`, { method: 'DELETE', role: 'admin' })).status).toBe(204);
    expect((await withKey('/v1/job-types')).status).toBe(401);
    expect((await stack.api(`/v1/tenants/${stack.tenantId}/api-keys/${key.id}`, { method: 'DELETE', role: 'admin' })).status).toBe(404);
  });

  it('rejects keys that expire in the past and bad roles with field paths', async () => {
    const past = await stack.api(`/v1/tenants/${stack.tenantId}/api-keys`, {
      method: 'POST',
      role: 'admin',
      body: JSON.stringify({ name: 'x', role: 'viewer', expiresAt: '2000-01-01T00:00:00Z' }),
    });
    expect(past.status).toBe(400);
    const badRole = await stack.api(`/v1/tenants/${stack.tenantId}/api-keys`, { method: 'POST', role: 'admin', body: JSON.stringify({ name: 'x', role: 'root' }) });
    expect(((await badRole.json()) as { errors: { path: string }[] }).errors.map((e) => e.path)).toEqual(['role']);
  });
});

describe('isolation: another tenant’s ids answer 404 like unknown ones and change nothing', () => {
  const unknownJob = 'job_00000000000000000000000000';
  const jobRoutes = (id: string): [string, string, unknown?][] => [
    ['GET', `/v1/jobs/${id}`],
    ['GET', `/v1/jobs/${id}/result`],
    ['POST', `/v1/jobs/${id}/cancel`],
    ['POST', `/v1/jobs/${id}/signals/comment`, { by: 'mallory', text: 'hi' }],
    ['POST', `/v1/jobs/${id}/updates/approve`, { by: 'mallory' }],
    ['GET', `/v1/jobs/${id}/queries/status`],
    ['GET', `/v1/jobs/${id}/failed-items`],
  ];

  it.each(jobRoutes('ID').map(([m, p]) => `${m} ${p}`))('%s', async (label) => {
    const i = jobRoutes('ID').findIndex(([m, p]) => `${m} ${p}` === label);
    const [method, foreignPath, body] = jobRoutes(approvalJobId)[i]!;
    const [, unknownPath] = jobRoutes(unknownJob)[i]!;
    const init = { method, ...(body ? { body: JSON.stringify(body) } : {}) };
    const foreign = await asOther(foreignPath, init);
    const unknown = await asOther(unknownPath!, init);
    expect(foreign.status).toBe(404);
    expect(unknown.status).toBe(404);
    const [a, b] = (await Promise.all([foreign.json(), unknown.json()])) as Record<string, unknown>[];
    expect({ ...a, detail: undefined, instance: undefined, requestId: undefined }).toEqual({ ...b, detail: undefined, instance: undefined, requestId: undefined });
  });

  it('tenant routes: another tenant’s admin gets 404 on keys of this tenant', async () => {
    expect((await asOther(`/v1/tenants/${stack.tenantId}/api-keys`)).status).toBe(404);
    expect((await asOther(`/v1/tenants/${stack.tenantId}/api-keys`, { method: 'POST', body: JSON.stringify({ name: 'x', role: 'admin' }) })).status).toBe(404);
    expect((await asOther(`/v1/tenants/${stack.tenantId}/api-keys/whatever`, { method: 'DELETE' })).status).toBe(404);
  });

  it('the probed job is untouched: still pending, no comment, no decision', async () => {
    const status = await stack.api(`/v1/jobs/${approvalJobId}/queries/status`, { role: 'viewer' });
    expect(((await status.json()) as { result: unknown }).result).toMatchObject({ state: 'pending', comments: [] });
    expect((await waitForJob(stack, approvalJobId, ['running'])).status).toBe('running');
  });
});

describe('role matrix: every route × every role', () => {
  // [method, path, body, least role]; ids that do not exist are fine: a role that may call the route gets past 403.
  const matrix: [string, string, unknown, Role][] = [
    ['GET', '/v1/job-types', undefined, 'viewer'],
    ['GET', '/v1/jobs', undefined, 'viewer'],
    ['GET', '/v1/jobs/ID', undefined, 'viewer'],
    ['GET', '/v1/jobs/ID/result', undefined, 'viewer'],
    ['GET', '/v1/jobs/ID/queries/status', undefined, 'viewer'],
    ['POST', '/v1/jobs', { type: 'approval.request', input: { subject: 'role matrix' } }, 'submitter'],
    ['POST', '/v1/jobs/ID/cancel', undefined, 'submitter'],
    ['POST', '/v1/jobs/ID/signals/comment', { by: 'a', text: 'b' }, 'submitter'],
    ['POST', '/v1/jobs/ID/updates/approve', { by: 'a' }, 'submitter'],
    ['GET', '/v1/jobs/ID/failed-items', undefined, 'viewer'],
    ['GET', '/v1/batch-inputs/bin_00000000000000000000000000', undefined, 'viewer'],
    ['POST', '/v1/batch-inputs?jobType=noop', [{ tag: 'role matrix' }], 'submitter'],
    ['GET', '/v1/audit', undefined, 'admin'],
    ['GET', '/v1/tenants/TENANT/api-keys', undefined, 'admin'],
    ['POST', '/v1/tenants/TENANT/api-keys', { name: 'm', role: 'viewer' }, 'admin'],
    ['DELETE', '/v1/tenants/TENANT/api-keys/nokey', undefined, 'admin'],
    ['GET', '/v1/tenants/TENANT/retention', undefined, 'admin'],
    ['PUT', '/v1/tenants/TENANT/retention', { days: 3650 }, 'admin'],
    ['GET', '/v1/documents', undefined, 'viewer'],
    ['GET', '/v1/documents/search?q=probe', undefined, 'viewer'],
    ['GET', '/v1/documents/DOC', undefined, 'viewer'],
    ['GET', '/v1/documents/DOC/content', undefined, 'viewer'],
    ['PUT', '/v1/documents/DOC/legal-hold', { hold: false }, 'operator'],
    ['DELETE', '/v1/documents/doc_00000000000000000000000000', undefined, 'submitter'],
    ['GET', '/v1/webhook-subscriptions', undefined, 'admin'],
    ['POST', '/v1/webhook-subscriptions', { url: 'https://example.com/hooks', events: ['document.ingested'] }, 'admin'],
    ['DELETE', '/v1/webhook-subscriptions/whs_00000000000000000000000000', undefined, 'admin'],
  ];
  const rank: Record<Role, number> = { admin: 3, operator: 2, submitter: 1, viewer: 0 };
  const cases = matrix.flatMap(([method, path, body, least]) => roles.map((role) => ({ method, path, body, least, role })));

  it('POST /v1/documents (multipart) as every role', async () => {
    for (const role of roles) {
      const form = new FormData();
      form.set('file', new Blob([`role matrix upload by ${role}`], { type: 'text/plain' }), 'm.txt');
      const res = await stack.api('/v1/documents', { method: 'POST', role, body: form });
      if (rank[role] >= rank.submitter) expect(res.status, role).not.toBe(403);
      else expect(res.status, role).toBe(403);
    }
  });

  it.each(cases)('$method $path as $role', async ({ method, path, body, least, role }) => {
    const url = path.replace('ID', approvalJobId).replace('TENANT', stack.tenantId).replace('DOC', documentId);
    const res = await stack.api(url, { method, role, ...(body ? { body: JSON.stringify(body) } : {}) });
    if (rank[role] >= rank[least]) expect(res.status).not.toBe(403);
    else expect(res.status).toBe(403);
  });
});

describe('audit log', () => {
  it('records changes and refusals with who, what, request id and outcome, filterable and paginated', async () => {
    const denied = await stack.api('/v1/jobs', { method: 'POST', role: 'viewer', body: JSON.stringify({ type: 'approval.request', input: { subject: 'x' } }) });
    expect(denied.status).toBe(403);
    const rows = await stack.db.select().from(auditEvents).where(and(eq(auditEvents.tenantId, stack.tenantId), eq(auditEvents.outcome, 'denied'))).orderBy(auditEvents.id);
    expect(rows.length).toBeGreaterThan(0);
    expect(rows.at(-1)).toMatchObject({ action: 'POST /v1/jobs', detail: { status: 403 } });
    expect(rows.at(-1)!.requestId).toBeTruthy();

    const page1 = (await (await stack.api('/v1/audit?limit=2', { role: 'admin' })).json()) as { items: { id: number }[]; nextCursor: string };
    expect(page1.items).toHaveLength(2);
    const page2 = (await (await stack.api(`/v1/audit?limit=2&cursor=${page1.nextCursor}`, { role: 'admin' })).json()) as { items: { id: number }[] };
    expect(page2.items[0]!.id).toBeLessThan(page1.items[1]!.id);
    const creates = (await (await stack.api('/v1/audit?action=job.create', { role: 'admin' })).json()) as { items: { action: string; target: string }[] };
    expect(creates.items.map((e) => e.target)).toContain(approvalJobId);
    expect(new Set(creates.items.map((e) => e.action))).toEqual(new Set(['job.create']));
    expect((await stack.api('/v1/audit?cursor=%%%', { role: 'admin' })).status).toBe(400);
  });

  it('the platform key cannot read or start a tenant’s jobs', async () => {
    expect((await asPlatform('/v1/jobs')).status).toBe(403);
    expect((await asPlatform(`/v1/jobs/${approvalJobId}`)).status).toBe(403);
  });
});
