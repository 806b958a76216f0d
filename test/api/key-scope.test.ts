/**
 * Scoped API keys on the real dev server and Postgres: every route of the
 * OpenAPI document × (an unscoped key of each role, an admin key scoped to
 * type A, one scoped to label L, one scoped to the action `read`), each
 * route classified by the rule docs/API.md states for it — so a route added
 * without a rule fails here. Then what only a running stack shows: lists and
 * schedule lists filtered by the scope with cursor paging intact, creates
 * outside the scope leaving no row and no workflow, and the audit records.
 */
import { and, eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiKey } from '../../api/tenants/service.ts';
import type { ScopeAction } from '../../api/http/key-scope.ts';
import { auditEvents, jobs, type ApiKeyScope } from '../../db/schema/index.ts';
import { callerWithKey, createJob, expectProblem, type Caller } from '../helpers/http.ts';
import { startTestStack, waitForJob, type TestStack } from '../helpers/stack.ts';

const roles = ['admin', 'operator', 'submitter', 'viewer'] as const;
type Role = (typeof roles)[number];
const rank: Record<Role, number> = { admin: 3, operator: 2, submitter: 1, viewer: 0 };

const scopes = {
  typeA: { jobTypes: ['approval.request'] },
  labelL: { labels: ['team=payments'] },
  readOnly: { actions: ['read'] },
} satisfies Record<string, ApiKeyScope>;
type ScopedName = keyof typeof scopes;

/**
 * How a route treats scoped keys (the table in docs/API.md):
 * - `job`, `schedule`: one job or schedule by id — outside the scope: 404 like an unknown id;
 * - `create`: makes jobs (a job, a schedule) — outside the scope's type or labels: 403;
 * - `list`: filtered to the scope (200);
 * - `documents`: need `document.ingest` in the scope and no labels, else 403;
 * - `batch-inputs`: need `batch.run` in the scope (labels do not narrow them), else 403;
 * - `tenant-wide`: settings and ops views: 403 for any scoped key;
 * - `platform`: the platform key's; 403 `forbidden` for every tenant key.
 * Every kind but `platform` and `tenant-wide` also checks the scope's `actions`.
 */
type Kind = 'job' | 'schedule' | 'create' | 'list' | 'documents' | 'batch-inputs' | 'tenant-wide' | 'platform';

interface RouteRule {
  kind: Kind;
  role: Role;
  action: ScopeAction;
  /** The request, against `target` (an id outside the scopes, or one that does not exist). */
  request: (target: { job: string; schedule: string }) => { path: string; body?: unknown; form?: true };
}

const unknown = { job: 'job_00000000000000000000000000', schedule: 'sch_00000000000000000000000000' };
const noopBody = { type: 'noop', input: { tag: 'scope matrix' } };
const jobRoute = (role: Role, action: ScopeAction, suffix: string, body?: unknown): RouteRule => ({ kind: 'job', role, action, request: (t) => ({ path: `/v1/jobs/${t.job}${suffix}`, body }) });
const scheduleRoute = (action: ScopeAction, suffix: string, body?: unknown, role: Role = action === 'read' ? 'viewer' : 'submitter'): RouteRule => ({
  kind: 'schedule',
  role,
  action,
  request: (t) => ({ path: `/v1/schedules/${t.schedule}${suffix}`, body }),
});
const fixed = (kind: Kind, role: Role, action: ScopeAction, path: string, body?: unknown): RouteRule => ({ kind, role, action, request: () => ({ path, body }) });

/** Keyed `METHOD /openapi/path`; TENANT is replaced by the stack's tenant id. */
const rules: Record<string, RouteRule> = {
  'POST /v1/jobs': fixed('create', 'submitter', 'create', '/v1/jobs', noopBody),
  'GET /v1/jobs': fixed('list', 'viewer', 'read', '/v1/jobs'),
  'GET /v1/jobs/{id}': jobRoute('viewer', 'read', ''),
  'GET /v1/jobs/{id}/result': jobRoute('viewer', 'read', '/result'),
  'POST /v1/jobs/{id}/cancel': jobRoute('submitter', 'cancel', '/cancel'),
  'POST /v1/jobs/{id}/signals/{name}': jobRoute('submitter', 'signal', '/signals/comment', { by: 'a', text: 'b' }),
  'POST /v1/jobs/{id}/updates/{name}': jobRoute('submitter', 'update', '/updates/approve', { by: 'a' }),
  'GET /v1/jobs/{id}/queries/{name}': jobRoute('viewer', 'read', '/queries/status'),
  'GET /v1/jobs/{id}/diagnosis': jobRoute('operator', 'read', '/diagnosis'),
  'POST /v1/jobs/{id}/reset': jobRoute('operator', 'reset', '/reset', { reason: 'scope matrix' }),
  'POST /v1/jobs/{id}/terminate': jobRoute('operator', 'terminate', '/terminate', { reason: 'scope matrix' }),
  'POST /v1/jobs/{id}/retry': jobRoute('operator', 'retry', '/retry'),
  'GET /v1/jobs/{id}/failed-items': jobRoute('viewer', 'read', '/failed-items'),
  'GET /v1/jobs/{id}/children': jobRoute('viewer', 'read', '/children'),
  'GET /v1/jobs/{id}/usage': jobRoute('viewer', 'read', '/usage'),
  'GET /v1/jobs/failures': fixed('list', 'viewer', 'read', '/v1/jobs/failures'),
  'POST /v1/jobs/retry': fixed('list', 'operator', 'retry', '/v1/jobs/retry', { filter: {}, dryRun: true }),
  'POST /v1/batch-inputs': fixed('batch-inputs', 'submitter', 'create', '/v1/batch-inputs?jobType=noop', [{ tag: 'scope matrix' }]),
  'GET /v1/batch-inputs/{id}': fixed('batch-inputs', 'viewer', 'read', '/v1/batch-inputs/bin_00000000000000000000000000'),
  'POST /v1/schedules': fixed('create', 'submitter', 'schedule', '/v1/schedules', { ...noopBody, interval: '1h', paused: true }),
  'GET /v1/schedules': fixed('list', 'viewer', 'read', '/v1/schedules'),
  'GET /v1/schedules/{id}': scheduleRoute('read', ''),
  'DELETE /v1/schedules/{id}': scheduleRoute('schedule', ''),
  'POST /v1/schedules/{id}/pause': scheduleRoute('schedule', '/pause', {}),
  'POST /v1/schedules/{id}/unpause': scheduleRoute('schedule', '/unpause', {}),
  'POST /v1/schedules/{id}/trigger': scheduleRoute('schedule', '/trigger'),
  'POST /v1/schedules/{id}/backfill': scheduleRoute('schedule', '/backfill', { from: '2026-01-01T00:00:00Z', to: '2026-01-01T02:00:00Z', dryRun: true }, 'operator'),
  'GET /v1/job-types': fixed('list', 'viewer', 'read', '/v1/job-types'),
  'POST /v1/tenants': fixed('platform', 'admin', 'read', '/v1/tenants', { name: 'nope' }),
  'GET /v1/tenants': fixed('platform', 'admin', 'read', '/v1/tenants'),
  'POST /v1/tenants/{tenantId}/api-keys': fixed('tenant-wide', 'admin', 'read', '/v1/tenants/TENANT/api-keys', { name: 'matrix', role: 'viewer' }),
  'GET /v1/tenants/{tenantId}/api-keys': fixed('tenant-wide', 'admin', 'read', '/v1/tenants/TENANT/api-keys'),
  'DELETE /v1/tenants/{tenantId}/api-keys/{keyId}': fixed('tenant-wide', 'admin', 'read', '/v1/tenants/TENANT/api-keys/nokey'),
  'GET /v1/tenants/{tenantId}/retention': fixed('tenant-wide', 'admin', 'read', '/v1/tenants/TENANT/retention'),
  'PUT /v1/tenants/{tenantId}/retention': fixed('tenant-wide', 'admin', 'read', '/v1/tenants/TENANT/retention', { days: 3650 }),
  'GET /v1/audit': fixed('tenant-wide', 'admin', 'read', '/v1/audit'),
  'GET /v1/usage': fixed('tenant-wide', 'admin', 'read', '/v1/usage'),
  'GET /v1/ops/stuck': fixed('tenant-wide', 'operator', 'read', '/v1/ops/stuck'),
  'POST /v1/ops/reset-batch': fixed('tenant-wide', 'operator', 'reset', '/v1/ops/reset-batch', { reason: 'scope matrix', jobType: 'webhook.deliver' }),
  'GET /v1/ops/batches/{batchJobId}': fixed('tenant-wide', 'operator', 'read', '/v1/ops/batches/nobatch'),
  'GET /v1/ops/task-queues': fixed('tenant-wide', 'operator', 'read', '/v1/ops/task-queues'),
  'POST /v1/documents': { kind: 'documents', role: 'submitter', action: 'create', request: () => ({ path: '/v1/documents', form: true }) },
  'GET /v1/documents': fixed('documents', 'viewer', 'read', '/v1/documents'),
  'GET /v1/documents/search': fixed('documents', 'viewer', 'read', '/v1/documents/search?q=scope'),
  'GET /v1/documents/{id}': fixed('documents', 'viewer', 'read', '/v1/documents/doc_00000000000000000000000000'),
  'DELETE /v1/documents/{id}': fixed('documents', 'submitter', 'document-delete', '/v1/documents/doc_00000000000000000000000000'),
  'GET /v1/documents/{id}/content': fixed('documents', 'viewer', 'read', '/v1/documents/doc_00000000000000000000000000/content'),
  'PUT /v1/documents/{id}/legal-hold': fixed('documents', 'operator', 'legal-hold', '/v1/documents/doc_00000000000000000000000000/legal-hold', { hold: false }),
  'POST /v1/webhook-subscriptions': fixed('tenant-wide', 'admin', 'read', '/v1/webhook-subscriptions', { url: 'https://example.com/hooks', events: ['document.ingested'] }),
  'GET /v1/webhook-subscriptions': fixed('tenant-wide', 'admin', 'read', '/v1/webhook-subscriptions'),
  'DELETE /v1/webhook-subscriptions/{id}': fixed('tenant-wide', 'admin', 'read', '/v1/webhook-subscriptions/whs_00000000000000000000000000'),
};

let stack: TestStack;
let spec: { paths: Record<string, Record<string, { security?: unknown }>> };
const keyIds = {} as Record<ScopedName, string>;
const as = {} as Record<ScopedName, Caller>;
/** Inside both type A and label L. */
let jobIn: string;
/** Outside both (a noop without labels). */
let jobOut: string;
let scheduleIn: string;
let scheduleOut: string;

const send = (caller: Caller, route: RouteRule, target: { job: string; schedule: string }) => {
  const { path, body, form } = route.request(target);
  const url = path.replace('TENANT', stack.tenantId);
  if (form) {
    const data = new FormData();
    data.set('file', new Blob([`scope matrix ${Math.random()}`], { type: 'text/plain' }), 'm.txt');
    return caller(url, { method: 'POST', body: data });
  }
  return caller(url, { method: methodOf(route), ...(body !== undefined ? { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } } : {}) });
};
const methodOf = (route: RouteRule) => Object.entries(rules).find(([, r]) => r === route)![0].split(' ')[0]!;

async function createSchedule(body: unknown): Promise<string> {
  const res = await stack.api('/v1/schedules', { method: 'POST', role: 'submitter', body: JSON.stringify(body) });
  expect(res.status, await res.clone().text()).toBe(201);
  return ((await res.json()) as { id: string }).id;
}

beforeAll(async () => {
  // The matrix lists jobs and schedules some 30 times in a few seconds: past the default budget of Temporal
  // list calls per API process (5/s), which would answer 503 temporal-throttled instead of the scope's answer.
  stack = await startTestStack('key_scope', { env: { JOBPLANE_VISIBILITY_RATE_PER_SECOND: '200' } });
  await stack.startWorkers();
  for (const [name, scope] of Object.entries(scopes) as [ScopedName, ApiKeyScope][]) {
    const issued = await createApiKey(stack.db, stack.tenantId, { name, role: 'admin', scope });
    keyIds[name] = issued.id;
    as[name] = callerWithKey(stack, issued.key);
  }
  jobIn = (await createJob(stack, { type: 'approval.request', input: { subject: 'in scope' }, labels: ['team=payments'] })).id;
  jobOut = (await createJob(stack, { type: 'noop', input: { tag: 'out of scope' } })).id;
  await waitForJob(stack, jobOut);
  scheduleIn = await createSchedule({ type: 'approval.request', input: { subject: 'scheduled' }, labels: ['team=payments'], interval: '1h', paused: true });
  scheduleOut = await createSchedule({ ...noopBody, interval: '1h', paused: true });
  spec = (await (await fetch(`${stack.apiUrl}/openapi.json`)).json()) as typeof spec;
}, 180_000);
afterAll(async () => {
  await stack?.close();
});

const specRoutes = () =>
  Object.entries(spec.paths).flatMap(([path, item]) =>
    Object.entries(item)
      .filter(([, op]) => op.security)
      .map(([method]) => `${method.toUpperCase()} ${path}`),
  );

describe('the matrix covers the OpenAPI document', () => {
  it('every authenticated route has a scope rule here (a new route needs one)', () => {
    expect(specRoutes().filter((r) => !rules[r])).toEqual([]);
  });
});

describe('role × scope on every route', () => {
  const cases = Object.keys(rules).flatMap((route) => [...roles.map((key) => ({ route, key: key as Role | ScopedName })), ...(Object.keys(scopes) as ScopedName[]).map((key) => ({ route, key }))]);

  it.each(cases)('$route as $key', async ({ route, key }) => {
    const rule = rules[route]!;
    // A rule for a route this build does not serve (one still being built elsewhere) has nothing to check.
    if (!specRoutes().includes(route)) return;
    if ((roles as readonly string[]).includes(key)) {
      // Unscoped: today's behaviour, the role alone decides (ids that do not exist: an allowed role gets past 403).
      const res = await send((p, init) => stack.api(p, { ...init, role: key as Role }), rule, unknown);
      if (rule.kind === 'platform' || rank[key as Role] < rank[rule.role]) await expectProblem(res, 403, 'forbidden');
      else {
        expect(res.status, await res.clone().text()).not.toBe(403);
        expect(res.status).toBeLessThan(500);
      }
      return;
    }
    const name = key as ScopedName;
    const res = await send(as[name], rule, { job: jobOut, schedule: scheduleOut });
    const text = await res.clone().text();
    if (rule.kind === 'platform') return void (await expectProblem(res, 403, 'forbidden'));
    if (rule.kind === 'tenant-wide') return void (await expectProblem(res, 403, 'scope-forbidden'));
    if (name === 'readOnly') {
      if (rule.action !== 'read') return void (await expectProblem(res, 403, 'scope-forbidden'));
      // Reads of everything the tenant has (it names no types or labels).
      expect(res.status, text).not.toBe(403);
      expect(res.status).toBeLessThan(500);
      if (route === 'GET /v1/jobs/{id}' || route === 'GET /v1/schedules/{id}') expect(res.status, text).toBe(200);
      return;
    }
    switch (rule.kind) {
      case 'job':
      case 'schedule':
        return void (await expectProblem(res, 404, 'not-found'));
      case 'create':
      case 'documents':
        return void (await expectProblem(res, 403, 'scope-forbidden'));
      case 'batch-inputs':
        if (name === 'typeA') return void (await expectProblem(res, 403, 'scope-forbidden'));
        expect(res.status, text).not.toBe(403);
        return void expect(res.status).toBeLessThan(500);
      case 'list':
        return void expect(res.status, text).toBe(200);
    }
  });

  it('scoped keys read what is inside their scope', async () => {
    for (const name of ['typeA', 'labelL'] as const) {
      for (const path of [`/v1/jobs/${jobIn}`, `/v1/jobs/${jobIn}/result`, `/v1/jobs/${jobIn}/queries/status`, `/v1/jobs/${jobIn}/diagnosis`, `/v1/schedules/${scheduleIn}`]) {
        const res = await as[name](path);
        expect(res.status, `${name} ${path}: ${await res.clone().text()}`).toBeLessThan(300);
      }
      // And act on it: a comment is a signal, inside both scopes.
      const signal = await as[name](`/v1/jobs/${jobIn}/signals/comment`, { method: 'POST', body: JSON.stringify({ by: name, text: 'in scope' }), headers: { 'content-type': 'application/json' } });
      expect(signal.status, await signal.clone().text()).toBe(202);
    }
  });
});

describe('lists show only what the key may see', () => {
  it('GET /v1/jobs filters by the scope’s types and labels in SQL; cursor paging still works', async () => {
    for (let i = 0; i < 2; i++) {
      await createJob(stack, { type: 'approval.request', input: { subject: `a${i}` }, labels: ['team=payments'] });
      await createJob(stack, { type: 'approval.request', input: { subject: `b${i}` } });
      await createJob(stack, { ...noopBody, labels: ['team=payments', 'env=prod'] });
    }
    const rows = await stack.db.select().from(jobs).where(eq(jobs.tenantId, stack.tenantId));
    const started = rows.filter((r) => r.firstRunId);
    const expected: Record<'typeA' | 'labelL' | 'readOnly', string[]> = {
      typeA: started.filter((r) => r.type === 'approval.request').map((r) => r.id),
      labelL: started.filter((r) => r.labels.includes('team=payments')).map((r) => r.id),
      readOnly: started.map((r) => r.id),
    };
    for (const name of ['typeA', 'labelL', 'readOnly'] as const) {
      const seen: string[] = [];
      let cursor: string | null = null;
      do {
        const res: Response = await as[name](`/v1/jobs?limit=2${cursor ? `&cursor=${cursor}` : ''}`);
        expect(res.status).toBe(200);
        const page = (await res.json()) as { items: { id: string }[]; nextCursor: string | null };
        expect(page.items.length).toBeLessThanOrEqual(2);
        seen.push(...page.items.map((j) => j.id));
        cursor = page.nextCursor;
      } while (cursor);
      expect(new Set(seen).size, name).toBe(seen.length);
      expect(seen.sort(), name).toEqual([...expected[name]].sort());
    }
    expect(expected.typeA.length).toBeGreaterThan(2);
    expect(expected.labelL).not.toEqual(expected.typeA);
    // A filter outside the scope finds nothing (it narrows, never widens).
    const other = (await (await as.typeA(`/v1/jobs?type=noop`)).json()) as { items: unknown[] };
    expect(other.items).toEqual([]);
    const label = (await (await as.labelL(`/v1/jobs?label=env=prod`)).json()) as { items: { id: string }[] };
    expect(label.items.length).toBe(2);
  });

  it('GET /v1/schedules shows only schedules of jobs inside the scope; the catalog only the scope’s types', async () => {
    const ids = async (name: ScopedName) => ((await (await as[name]('/v1/schedules')).json()) as { items: { id: string }[] }).items.map((s) => s.id);
    expect(await ids('typeA')).toContain(scheduleIn);
    expect(await ids('typeA')).not.toContain(scheduleOut);
    expect(await ids('labelL')).toContain(scheduleIn);
    expect(await ids('labelL')).not.toContain(scheduleOut);
    expect(await ids('readOnly')).toEqual(expect.arrayContaining([scheduleIn, scheduleOut]));
    const types = ((await (await as.typeA('/v1/job-types')).json()) as { items: { type: string }[] }).items.map((t) => t.type);
    expect(types).toEqual(['approval.request']);
  });
});

describe('creates outside the scope change nothing', () => {
  it('no job row, no workflow, no schedule', async () => {
    const rowsBefore = (await stack.db.select().from(jobs).where(eq(jobs.tenantId, stack.tenantId))).length;
    const count = async () => (await stack.client.workflow.count(`TenantId = "${stack.tenantId}"`)).count;
    const scheduleCount = async () => ((await (await stack.api('/v1/schedules', { role: 'viewer' })).json()) as { items: unknown[] }).items.length;
    // Visibility is eventually consistent: let the earlier tests' workflows show up first.
    await new Promise((resolve) => setTimeout(resolve, 1500));
    const workflowsBefore = await count();
    const schedulesBefore = await scheduleCount();
    const post = (caller: Caller, path: string, body: unknown, key: string) =>
      caller(path, { method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json', 'idempotency-key': key } });
    await expectProblem(await post(as.typeA, '/v1/jobs', noopBody, 'scope-refused-1'), 403, 'scope-forbidden');
    await expectProblem(await post(as.labelL, '/v1/jobs', { type: 'approval.request', input: { subject: 'no label' } }, 'scope-refused-2'), 403, 'scope-forbidden');
    await expectProblem(await post(as.labelL, '/v1/jobs', { type: 'approval.request', input: { subject: 'wrong label' }, labels: ['team=other'] }, 'scope-refused-3'), 403, 'scope-forbidden');
    await expectProblem(await post(as.typeA, '/v1/schedules', { ...noopBody, interval: '1h' }, 'scope-refused-4'), 403, 'scope-forbidden');
    const refusedKeys = await stack.db.select().from(jobs).where(and(eq(jobs.tenantId, stack.tenantId), eq(jobs.idempotencyKey, 'scope-refused-1')));
    expect(refusedKeys).toEqual([]);
    expect((await stack.db.select().from(jobs).where(eq(jobs.tenantId, stack.tenantId))).length).toBe(rowsBefore);
    // Give a workflow that should not exist the same time to show up.
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(await count()).toBe(workflowsBefore);
    expect(await scheduleCount()).toBe(schedulesBefore);
    // Inside the scope the same key creates (labels given): the refusal above was the scope, nothing else.
    const made = await post(as.labelL, '/v1/jobs', { type: 'approval.request', input: { subject: 'labelled' }, labels: ['team=payments'] }, 'scope-allowed');
    expect(made.status, await made.clone().text()).toBe(201);
  });
});

describe('audit', () => {
  it('every refusal by scope left one scope.refused record: key, route, job and reason', async () => {
    const refusals = async (name: ScopedName) =>
      await stack.db.select().from(auditEvents).where(and(eq(auditEvents.actorKeyId, keyIds[name]), eq(auditEvents.action, 'scope.refused')));
    const typeA = await refusals('typeA');
    const hidden = typeA.find((r) => (r.detail as { route: string }).route === 'GET /v1/jobs/:id');
    expect(hidden).toMatchObject({ outcome: 'denied', tenantId: stack.tenantId, target: jobOut, detail: { status: 404, jobId: jobOut, jobType: 'noop', reason: 'job type noop outside the scope' } });
    const settings = typeA.find((r) => (r.detail as { route: string }).route === 'GET /v1/audit');
    expect(settings).toMatchObject({ detail: { status: 403 } });
    const readOnly = await refusals('readOnly');
    expect(readOnly.find((r) => (r.detail as { route: string }).route === 'POST /v1/jobs/:id/cancel')).toMatchObject({ detail: { status: 403, reason: 'action cancel outside the scope' } });
    // One row per refusal, not two (the generic `denied` record of a failed POST is not written as well).
    const cancels = await stack.db.select().from(auditEvents).where(and(eq(auditEvents.actorKeyId, keyIds.readOnly), eq(auditEvents.action, 'POST /v1/jobs/:id/cancel')));
    expect(cancels).toEqual([]);
  });
});
