/**
 * The API's route matrices without Temporal (the unit tier): the real app
 * through `app.request()` on real Postgres, answering before any request
 * would reach Temporal. Authentication (missing, malformed, forged, revoked,
 * expired key → 401), roles (every route × every role: a weaker role → 403,
 * a strong enough one gets past it), and another tenant's ids → 404 exactly
 * like unknown ones (rows are looked up in Postgres, by tenant, first).
 */
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiKey } from '../../api/tenants/service.ts';
import { apiKeys, jobs } from '../../db/schema/index.ts';
import { newJobId } from '../../runtime/ids.ts';
import { startTestApp, type AppStack } from '../helpers/app.ts';
import { createOtherTenant, expectProblem, type OtherTenant } from '../helpers/http.ts';

const roles = ['admin', 'operator', 'submitter', 'viewer'] as const;
type Role = (typeof roles)[number];
const rank: Record<Role, number> = { admin: 3, operator: 2, submitter: 1, viewer: 0 };

const unknownJob = 'job_00000000000000000000000000';
const unknownBatchInput = 'bin_00000000000000000000000000';

let stack: AppStack;
let other: OtherTenant;
/** A started job of this tenant, as its row in Postgres (no workflow exists: nothing here may reach Temporal). */
let jobId: string;
let batchInputId: string;

beforeAll(async () => {
  stack = await startTestApp('routes');
  other = await createOtherTenant(stack);
  jobId = newJobId();
  await stack.db.insert(jobs).values({ id: jobId, tenantId: stack.tenantId, type: 'approval.request', requestHash: 'unit', workflowId: `${stack.tenantId}:${jobId}`, firstRunId: 'unit-run' });
  const list = await stack.api('/v1/batch-inputs?jobType=noop', { method: 'POST', role: 'submitter', body: JSON.stringify([{ tag: 'routes' }]) });
  expect(list.status, await list.clone().text()).toBe(201);
  batchInputId = ((await list.json()) as { id: string }).id;
});
afterAll(async () => {
  await stack?.close();
});

describe('authentication', () => {
  const probe = (authorization?: string) => stack.api('/v1/jobs/job_x', { role: null, headers: authorization ? { authorization } : {} });

  it('401 without a key, with a malformed, forged, revoked or expired key', async () => {
    await expectProblem(await probe(), 401, 'unauthenticated');
    await expectProblem(await probe('Bearer nope'), 401, 'unauthenticated');
    await expectProblem(await probe(`Basic ${stack.keys.viewer}`), 401, 'unauthenticated');
    await expectProblem(await probe(`Bearer ${stack.keys.viewer.slice(0, -4)}AAAA`), 401, 'unauthenticated');

    const revoked = await createApiKey(stack.db, stack.tenantId, { name: 'to revoke', role: 'admin' });
    await stack.db.update(apiKeys).set({ revokedAt: new Date() }).where(eq(apiKeys.id, revoked.id));
    await expectProblem(await probe(`Bearer ${revoked.key}`), 401, 'unauthenticated');

    const expired = await createApiKey(stack.db, stack.tenantId, { name: 'expired', role: 'admin', expiresAt: new Date(Date.now() - 1000) });
    await expectProblem(await probe(`Bearer ${expired.key}`), 401, 'unauthenticated');
  });

  it('a key revoked through the API stops working at once', async () => {
    const issued = await stack.api(`/v1/tenants/${stack.tenantId}/api-keys`, { method: 'POST', role: 'admin', body: JSON.stringify({ name: 'short-lived', role: 'viewer' }) });
    expect(issued.status).toBe(201);
    const { id, key } = (await issued.json()) as { id: string; key: string };
    expect((await stack.api(`/v1/jobs/${unknownJob}`, { role: null, headers: { authorization: `Bearer ${key}` } })).status).toBe(404);
    expect((await stack.api(`/v1/tenants/${stack.tenantId}/api-keys/${id}`, { method: 'DELETE', role: 'admin' })).status).toBeLessThan(300);
    await expectProblem(await stack.api(`/v1/jobs/${unknownJob}`, { role: null, headers: { authorization: `Bearer ${key}` } }), 401, 'unauthenticated');
  });

  it('the codec key may not call /v1', async () => {
    await expectProblem(await stack.api(`/v1/jobs/${unknownJob}`, { role: 'codec' }), 403, 'forbidden');
  });
});

describe('role matrix: every route × every role', () => {
  /**
   * [method, path, body, least role, whether a role allowed past 403 would reach Temporal].
   * Ids that do not exist: an allowed role gets past 403 to a 404 from Postgres.
   */
  const matrix: [string, string, unknown, Role, ('temporal' | undefined)?][] = [
    ['GET', '/v1/job-types', undefined, 'viewer'],
    ['GET', '/v1/jobs', undefined, 'viewer', 'temporal'],
    ['GET', `/v1/jobs/${unknownJob}`, undefined, 'viewer'],
    ['GET', `/v1/jobs/${unknownJob}/result`, undefined, 'viewer'],
    ['GET', `/v1/jobs/${unknownJob}/queries/status`, undefined, 'viewer'],
    ['POST', '/v1/jobs', { type: 'approval.request', input: { subject: 'role matrix' } }, 'submitter', 'temporal'],
    ['POST', `/v1/jobs/${unknownJob}/cancel`, undefined, 'submitter'],
    ['POST', `/v1/jobs/${unknownJob}/signals/comment`, { by: 'a', text: 'b' }, 'submitter'],
    ['POST', `/v1/jobs/${unknownJob}/updates/approve`, { by: 'a' }, 'submitter'],
    ['GET', `/v1/jobs/${unknownJob}/failed-items`, undefined, 'viewer'],
    ['GET', `/v1/jobs/${unknownJob}/usage`, undefined, 'viewer'],
    ['POST', `/v1/jobs/${unknownJob}/reset`, { reason: 'role matrix' }, 'operator'],
    ['POST', `/v1/jobs/${unknownJob}/terminate`, { reason: 'role matrix' }, 'operator'],
    ['POST', `/v1/jobs/${unknownJob}/retry`, undefined, 'operator'],
    ['GET', `/v1/batch-inputs/${unknownBatchInput}`, undefined, 'viewer'],
    ['POST', '/v1/batch-inputs?jobType=noop', [{ tag: 'role matrix' }], 'submitter'],
    ['GET', '/v1/ops/stuck', undefined, 'operator', 'temporal'],
    ['GET', '/v1/ops/task-queues', undefined, 'operator', 'temporal'],
    ['POST', '/v1/schedules', { type: 'noop', input: {}, interval: '1h' }, 'submitter', 'temporal'],
    ['GET', '/v1/audit', undefined, 'admin'],
    ['GET', '/v1/usage', undefined, 'admin'],
    ['GET', '/v1/tenants/TENANT/api-keys', undefined, 'admin'],
    ['POST', '/v1/tenants/TENANT/api-keys', { name: 'm', role: 'viewer' }, 'admin'],
    ['DELETE', '/v1/tenants/TENANT/api-keys/nokey', undefined, 'admin'],
    ['GET', '/v1/tenants/TENANT/retention', undefined, 'admin'],
    ['PUT', '/v1/tenants/TENANT/retention', { days: 3650 }, 'admin'],
    ['GET', '/v1/documents', undefined, 'viewer'],
    ['GET', '/v1/documents/search?q=probe', undefined, 'viewer'],
    ['GET', '/v1/documents/doc_00000000000000000000000000', undefined, 'viewer'],
    ['GET', '/v1/documents/doc_00000000000000000000000000/content', undefined, 'viewer'],
    ['PUT', '/v1/documents/doc_00000000000000000000000000/legal-hold', { hold: false }, 'operator'],
    ['DELETE', '/v1/documents/doc_00000000000000000000000000', undefined, 'submitter'],
    ['GET', '/v1/webhook-subscriptions', undefined, 'admin'],
    ['DELETE', '/v1/webhook-subscriptions/whs_00000000000000000000000000', undefined, 'admin'],
  ];
  // A role allowed on a route that reaches Temporal is left to the dev-server suite (test/api/tenancy.test.ts).
  const cases = matrix.flatMap(([method, path, body, least, temporal]) =>
    roles.filter((role) => !temporal || rank[role] < rank[least]).map((role) => ({ method, path, body, least, role })),
  );

  it.each(cases)('$method $path as $role', async ({ method, path, body, least, role }) => {
    const res = await stack.api(path.replace('TENANT', stack.tenantId), { method, role, ...(body ? { body: JSON.stringify(body) } : {}) });
    if (rank[role] < rank[least]) {
      await expectProblem(res, 403, 'forbidden');
    } else {
      expect(res.status, await res.text()).not.toBe(403);
      expect(res.status).toBeLessThan(500);
    }
  });

  it('POST /v1/documents (multipart) as a viewer: 403', async () => {
    const form = new FormData();
    form.set('file', new Blob(['role matrix upload'], { type: 'text/plain' }), 'm.txt');
    await expectProblem(await stack.api('/v1/documents', { method: 'POST', role: 'viewer', body: form }), 403, 'forbidden');
  });
});

describe('isolation: another tenant’s ids answer 404 like unknown ones', () => {
  const routes: [string, string, unknown?][] = [
    ['GET', '/v1/jobs/ID'],
    ['GET', '/v1/jobs/ID/result'],
    ['POST', '/v1/jobs/ID/cancel'],
    ['POST', '/v1/jobs/ID/signals/comment', { by: 'mallory', text: 'hi' }],
    ['POST', '/v1/jobs/ID/updates/approve', { by: 'mallory' }],
    ['GET', '/v1/jobs/ID/queries/status'],
    ['GET', '/v1/jobs/ID/failed-items'],
    ['GET', '/v1/jobs/ID/usage'],
    ['GET', '/v1/jobs/ID/diagnosis'],
    ['POST', '/v1/jobs/ID/reset', { reason: 'probe' }],
    ['POST', '/v1/jobs/ID/terminate', { reason: 'probe' }],
    ['POST', '/v1/jobs/ID/retry'],
  ];

  it.each(routes.map(([method, path]) => `${method} ${path}`))('%s', async (label) => {
    const [method, path, body] = routes.find(([m, p]) => `${m} ${p}` === label)!;
    const init = { method, ...(body ? { body: JSON.stringify(body) } : {}) };
    const foreign = await expectProblem(await other.asOther(path.replace('ID', jobId), init), 404, 'not-found');
    const unknown = await expectProblem(await other.asOther(path.replace('ID', unknownJob), init), 404, 'not-found');
    expect({ ...foreign, detail: undefined, instance: undefined, requestId: undefined }).toEqual({ ...unknown, detail: undefined, instance: undefined, requestId: undefined });
  });

  it('a stored batch item list: 404 to another tenant, and not theirs to reference', async () => {
    await expectProblem(await other.asOther(`/v1/batch-inputs/${batchInputId}`), 404, 'not-found');
    await expectProblem(await other.asOther(`/v1/batch-inputs/${unknownBatchInput}`), 404, 'not-found');
    expect((await stack.api(`/v1/batch-inputs/${batchInputId}`, { role: 'viewer' })).status).toBe(200);
    const stolen = await expectProblem(await other.asOther('/v1/jobs', { method: 'POST', body: JSON.stringify({ type: 'batch.run', input: { jobType: 'noop', itemsRef: batchInputId } }) }), 400, 'validation-error');
    expect(stolen.errors!.map((e) => e.path)).toEqual(['input.itemsRef']);
  });

  it('tenant routes: another tenant’s admin gets 404 on this tenant’s keys and retention', async () => {
    await expectProblem(await other.asOther(`/v1/tenants/${stack.tenantId}/api-keys`), 404, 'not-found');
    await expectProblem(await other.asOther(`/v1/tenants/${stack.tenantId}/api-keys`, { method: 'POST', body: JSON.stringify({ name: 'x', role: 'admin' }) }), 404, 'not-found');
    await expectProblem(await other.asOther(`/v1/tenants/${stack.tenantId}/api-keys/whatever`, { method: 'DELETE' }), 404, 'not-found');
    await expectProblem(await other.asOther(`/v1/tenants/${stack.tenantId}/retention`), 404, 'not-found');
  });

  it('another tenant’s audit log and lists do not show this tenant’s rows', async () => {
    const audit = (await (await other.asOther('/v1/audit')).json()) as { items: { target: string }[] };
    expect(audit.items.map((e) => e.target)).not.toContain(batchInputId);
  });
});
