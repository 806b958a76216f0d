/**
 * Scoped API keys without Temporal (the unit tier): the pure rules of
 * api/http/key-scope.ts, and the real app through `app.request()` on real
 * Postgres for everything a scope decides before a request would reach
 * Temporal — key creation and its validation, tenant-wide routes refused,
 * jobs outside the scope answering 404 exactly like unknown ids, actions
 * outside it refused, creates outside it changing nothing, and the audit
 * records of the grant and of every refusal.
 */
import { and, eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { normalizeScope, outsideScope, scopeErrors } from '../../api/http/key-scope.ts';
import { createApiKey } from '../../api/tenants/service.ts';
import { jobCatalog } from '../../contracts/index.ts';
import { auditEvents, jobs, type ApiKeyRole, type ApiKeyScope } from '../../db/schema/index.ts';
import { newJobId } from '../../runtime/ids.ts';
import { startTestApp, type AppStack } from '../helpers/app.ts';
import { callerWithKey, expectProblem, type Caller } from '../helpers/http.ts';

const types = Object.keys(jobCatalog);

describe('scope rules (pure)', () => {
  it('validates types against the catalog and actions against the role, naming the field', () => {
    expect(scopeErrors('admin', { jobTypes: ['noop', 'nope.nope'] }, types).map((e) => e.path)).toEqual(['scope.jobTypes.1']);
    expect(scopeErrors('viewer', { actions: ['read', 'cancel'] }, types).map((e) => e.path)).toEqual(['scope.actions.1']);
    expect(scopeErrors('submitter', { actions: ['read', 'create', 'signal', 'update', 'cancel', 'schedule', 'document-delete'] }, types)).toEqual([]);
    expect(scopeErrors('submitter', { actions: ['reset'] }, types)[0]!.message).toMatch(/needs the operator role/);
    expect(scopeErrors('operator', { actions: ['reset', 'terminate', 'retry', 'legal-hold'] }, types)).toEqual([]);
    expect(scopeErrors('codec', { labels: ['a'] }, types).map((e) => e.path)).toEqual(['scope']);
  });

  it('a job is inside when its type is listed and it carries every label', () => {
    expect(outsideScope(undefined, 'noop', [])).toBeUndefined();
    expect(outsideScope({ jobTypes: ['noop'] }, 'noop', [])).toBeUndefined();
    expect(outsideScope({ jobTypes: ['noop'] }, 'batch.run', [])).toMatch(/job type batch.run/);
    expect(outsideScope({ labels: ['team=a', 'env=prod'] }, 'noop', ['env=prod', 'team=a', 'x'])).toBeUndefined();
    expect(outsideScope({ labels: ['team=a', 'env=prod'] }, 'noop', ['team=a'])).toMatch(/label env=prod missing/);
    expect(outsideScope({ actions: ['read'] }, 'noop', [])).toBeUndefined();
  });

  it('normalizes: duplicates dropped, an empty scope is no scope', () => {
    expect(normalizeScope({ jobTypes: ['noop', 'noop'] })).toEqual({ jobTypes: ['noop'] });
    expect(normalizeScope({})).toBeUndefined();
    expect(normalizeScope(null)).toBeUndefined();
  });
});

let stack: AppStack;
/** Jobs of this tenant as rows (no workflow: nothing here may reach Temporal). */
const jobOf: Record<'approval' | 'noopL' | 'noop', string> = { approval: newJobId(), noopL: newJobId(), noop: newJobId() };
const unknownJob = 'job_00000000000000000000000000';
const keyIds: Record<string, string> = {};
const as: Record<string, Caller> = {};

async function scopedKey(name: string, role: ApiKeyRole, scope: ApiKeyScope): Promise<void> {
  const issued = await createApiKey(stack.db, stack.tenantId, { name, role, scope });
  keyIds[name] = issued.id;
  as[name] = callerWithKey(stack, issued.key);
}

beforeAll(async () => {
  stack = await startTestApp('key_scope');
  const row = (id: string, type: string, labels: string[] = []) => ({ id, tenantId: stack.tenantId, type, labels, requestHash: 'unit', workflowId: `${stack.tenantId}:${id}`, firstRunId: 'unit-run' });
  await stack.db.insert(jobs).values([row(jobOf.approval, 'approval.request'), row(jobOf.noopL, 'noop', ['team=payments']), row(jobOf.noop, 'noop')]);
  await scopedKey('typeA', 'admin', { jobTypes: ['approval.request'] });
  await scopedKey('labelL', 'admin', { labels: ['team=payments'] });
  await scopedKey('readOnly', 'admin', { actions: ['read'] });
  await scopedKey('docs', 'admin', { jobTypes: ['document.ingest'] });
});
afterAll(async () => {
  await stack?.close();
});

const refusals = async (keyId: string) =>
  await stack.db.select().from(auditEvents).where(and(eq(auditEvents.actorKeyId, keyId), eq(auditEvents.action, 'scope.refused')));

describe('creating a scoped key', () => {
  const create = (body: unknown, role: ApiKeyRole = 'admin') =>
    stack.api(`/v1/tenants/${stack.tenantId}/api-keys`, { method: 'POST', role, body: JSON.stringify(body) });

  it('stores the scope, shows it when listed, and records it in the grant’s audit record', async () => {
    const scope = { jobTypes: ['webhook.deliver'], labels: ['team=payments'], actions: ['read', 'cancel'] };
    const res = await create({ name: 'payments hooks', role: 'submitter', scope });
    expect(res.status, await res.clone().text()).toBe(201);
    const made = (await res.json()) as { id: string; scope: unknown };
    expect(made.scope).toEqual(scope);
    const listed = (await (await stack.api(`/v1/tenants/${stack.tenantId}/api-keys`)).json()) as { items: { id: string; scope: unknown }[] };
    expect(listed.items.find((k) => k.id === made.id)!.scope).toEqual(scope);
    expect(listed.items.find((k) => k.id === keyIds.typeA)!.scope).toEqual({ jobTypes: ['approval.request'] });
    const [grant] = await stack.db.select().from(auditEvents).where(and(eq(auditEvents.action, 'api-key.create'), eq(auditEvents.target, made.id)));
    expect(grant).toMatchObject({ outcome: 'succeeded', detail: { name: 'payments hooks', role: 'submitter', scope } });
  });

  it('an unscoped key lists with scope null', async () => {
    const res = await create({ name: 'plain', role: 'viewer' });
    expect(((await res.json()) as { scope: unknown }).scope).toBeNull();
  });

  it.each([
    ['an unknown job type', { name: 'x', role: 'viewer', scope: { jobTypes: ['noop', 'mail.send'] } }, 'scope.jobTypes.1'],
    ['an unknown action', { name: 'x', role: 'viewer', scope: { actions: ['delete-everything'] } }, 'scope.actions.0'],
    ['an action beyond the role', { name: 'x', role: 'viewer', scope: { actions: ['read', 'cancel'] } }, 'scope.actions.1'],
    ['an operator action for a submitter', { name: 'x', role: 'submitter', scope: { actions: ['terminate'] } }, 'scope.actions.0'],
    ['an empty scope', { name: 'x', role: 'viewer', scope: {} }, 'scope'],
    ['an empty list', { name: 'x', role: 'viewer', scope: { labels: [] } }, 'scope.labels'],
    ['a bad label', { name: 'x', role: 'viewer', scope: { labels: ['has space'] } }, 'scope.labels.0'],
    ['a scoped codec key', { name: 'x', role: 'codec', scope: { jobTypes: ['noop'] } }, 'scope'],
    ['an unknown field', { name: 'x', role: 'viewer', scope: { tenants: ['t'] } }, 'scope'],
  ])('%s: 400 naming the field, and no key made', async (_label, body, path) => {
    const before = (await stack.db.select().from(auditEvents).where(eq(auditEvents.action, 'api-key.create'))).length;
    const problem = await expectProblem(await create(body), 400, 'validation-error');
    expect(problem.errors!.map((e) => e.path)).toContain(path);
    expect((await stack.db.select().from(auditEvents).where(eq(auditEvents.action, 'api-key.create'))).length).toBe(before);
  });

  it('a scoped admin key cannot issue keys (not even scoped ones): 403 scope-forbidden', async () => {
    for (const name of ['typeA', 'labelL', 'readOnly']) {
      await expectProblem(await as[name]!(`/v1/tenants/${stack.tenantId}/api-keys`, { method: 'POST', body: JSON.stringify({ name: 'escalate', role: 'admin' }) }), 403, 'scope-forbidden');
    }
  });
});

describe('tenant-wide routes refuse every scoped key (403 scope-forbidden), and audit it', () => {
  const routes: [string, string, unknown?][] = [
    ['GET', '/v1/tenants/TENANT/api-keys'],
    ['DELETE', '/v1/tenants/TENANT/api-keys/nokey'],
    ['GET', '/v1/tenants/TENANT/retention'],
    ['PUT', '/v1/tenants/TENANT/retention', { days: 30 }],
    ['GET', '/v1/audit'],
    ['GET', '/v1/usage'],
    ['GET', '/v1/webhook-subscriptions'],
    ['POST', '/v1/webhook-subscriptions', { url: 'https://example.com/hook', events: ['job.succeeded'] }],
    ['DELETE', '/v1/webhook-subscriptions/whs_00000000000000000000000000'],
    ['GET', '/v1/ops/stuck'],
    ['POST', '/v1/ops/reset-batch', { reason: 'scope' }],
    ['GET', '/v1/ops/batches/x'],
    ['GET', '/v1/ops/task-queues'],
  ];
  it.each(routes)('%s %s', async (method, path, body) => {
    for (const name of ['typeA', 'labelL', 'readOnly']) {
      const before = (await refusals(keyIds[name]!)).length;
      await expectProblem(await as[name]!(path.replace('TENANT', stack.tenantId), { method, ...(body ? { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } } : {}) }), 403, 'scope-forbidden');
      const after = await refusals(keyIds[name]!);
      expect(after).toHaveLength(before + 1);
      expect(after.at(-1)).toMatchObject({ outcome: 'denied', tenantId: stack.tenantId, detail: { status: 403, route: expect.stringMatching(new RegExp(`^${method} /v1/`)) } });
    }
  });
});

describe('jobs outside the scope answer 404 exactly like unknown ids', () => {
  const perJob: [string, string, unknown?][] = [
    ['GET', '/v1/jobs/ID'],
    ['GET', '/v1/jobs/ID/result'],
    ['POST', '/v1/jobs/ID/cancel'],
    ['POST', '/v1/jobs/ID/signals/comment', { by: 'a', text: 'b' }],
    ['POST', '/v1/jobs/ID/updates/approve', { by: 'a' }],
    ['GET', '/v1/jobs/ID/queries/status'],
    ['GET', '/v1/jobs/ID/failed-items'],
    ['GET', '/v1/jobs/ID/usage'],
    ['GET', '/v1/jobs/ID/diagnosis'],
    ['POST', '/v1/jobs/ID/reset', { reason: 'probe' }],
    ['POST', '/v1/jobs/ID/terminate', { reason: 'probe' }],
    ['POST', '/v1/jobs/ID/retry'],
  ];
  const strip = (p: object) => ({ ...p, detail: undefined, instance: undefined, requestId: undefined });

  it.each(perJob)('%s %s', async (method, path, body) => {
    const init = { method, ...(body ? { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } } : {}) };
    // typeA sees approval.request only; labelL sees team=payments only.
    for (const [name, outside] of [['typeA', jobOf.noop], ['typeA', jobOf.noopL], ['labelL', jobOf.approval], ['labelL', jobOf.noop]] as const) {
      const before = (await refusals(keyIds[name]!)).length;
      const hidden = await expectProblem(await as[name]!(path.replace('ID', outside), init), 404, 'not-found');
      const unknown = await expectProblem(await as[name]!(path.replace('ID', unknownJob), init), 404, 'not-found');
      expect(strip(hidden)).toEqual(strip(unknown));
      expect(hidden.detail).toBe(`no job ${outside}`);
      const after = await refusals(keyIds[name]!);
      // One record for the job outside the scope; none for the id that does not exist.
      expect(after).toHaveLength(before + 1);
      expect(after.at(-1)).toMatchObject({ outcome: 'denied', target: outside, detail: { jobId: outside, status: 404, reason: expect.any(String) } });
    }
  });
});

describe('actions outside the scope: 403 scope-forbidden before the job is looked at', () => {
  it('a read-only admin key may not cancel, signal, update, reset, terminate, retry, create or schedule', async () => {
    const tries: [string, string, unknown?][] = [
      ['POST', `/v1/jobs/${jobOf.approval}/cancel`],
      ['POST', `/v1/jobs/${jobOf.approval}/signals/comment`, { by: 'a', text: 'b' }],
      ['POST', `/v1/jobs/${jobOf.approval}/updates/approve`, { by: 'a' }],
      ['POST', `/v1/jobs/${jobOf.approval}/reset`, { reason: 'r' }],
      ['POST', `/v1/jobs/${jobOf.approval}/terminate`, { reason: 'r' }],
      ['POST', `/v1/jobs/${jobOf.approval}/retry`],
      ['POST', '/v1/jobs', { type: 'noop', input: {} }],
      ['POST', '/v1/schedules', { type: 'noop', input: {}, interval: '1h' }],
      ['POST', '/v1/batch-inputs?jobType=noop', [{ tag: 'x' }]],
      ['DELETE', '/v1/documents/doc_00000000000000000000000000'],
      ['PUT', '/v1/documents/doc_00000000000000000000000000/legal-hold', { hold: true }],
    ];
    for (const [method, path, body] of tries) {
      const problem = await expectProblem(await as.readOnly!(path, { method, ...(body ? { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } } : {}) }), 403, 'scope-forbidden');
      expect(problem.detail).toMatch(/is not among its actions/);
    }
    // Reads still pass the scope (to the 404 of an id that does not exist).
    await expectProblem(await as.readOnly!(`/v1/jobs/${unknownJob}`), 404, 'not-found');
  });
});

describe('creates outside the scope are refused and change nothing', () => {
  const jobRows = async () => (await stack.db.select().from(jobs).where(eq(jobs.tenantId, stack.tenantId))).length;

  it('another type, or without the scope’s labels: 403, no row, no token spent', async () => {
    const before = await jobRows();
    const noop = (labels?: string[]) => JSON.stringify({ type: 'noop', input: { tag: 'scope' }, ...(labels ? { labels } : {}) });
    const typeRefused = await expectProblem(await as.typeA!('/v1/jobs', { method: 'POST', body: noop(), headers: { 'content-type': 'application/json', 'idempotency-key': 'scope-1' } }), 403, 'scope-forbidden');
    expect(typeRefused.detail).toMatch(/job type noop outside the scope/);
    await expectProblem(await as.labelL!('/v1/jobs', { method: 'POST', body: noop(['team=other']), headers: { 'content-type': 'application/json' } }), 403, 'scope-forbidden');
    await expectProblem(await as.labelL!('/v1/schedules', { method: 'POST', body: JSON.stringify({ type: 'noop', input: {}, interval: '1h' }), headers: { 'content-type': 'application/json' } }), 403, 'scope-forbidden');
    expect(await jobRows()).toBe(before);
    const audited = await refusals(keyIds.typeA!);
    expect(audited.at(-1)).toMatchObject({ detail: { route: 'POST /v1/jobs', jobType: 'noop', status: 403 } });
  });

  it('an unknown type is still a 400 first (validation before scope)', async () => {
    await expectProblem(await as.typeA!('/v1/jobs', { method: 'POST', body: JSON.stringify({ type: 'nope', input: {} }), headers: { 'content-type': 'application/json' } }), 400, 'validation-error');
  });
});

describe('documents and batch item lists follow the types they run', () => {
  it('a key whose scope does not admit document.ingest (or names labels) gets 403 on document routes', async () => {
    for (const name of ['typeA', 'labelL']) {
      await expectProblem(await as[name]!('/v1/documents'), 403, 'scope-forbidden');
      await expectProblem(await as[name]!('/v1/documents/search?q=x'), 403, 'scope-forbidden');
      await expectProblem(await as[name]!('/v1/documents/doc_00000000000000000000000000'), 403, 'scope-forbidden');
      const form = new FormData();
      form.set('file', new Blob(['scoped upload'], { type: 'text/plain' }), 's.txt');
      await expectProblem(await as[name]!('/v1/documents', { method: 'POST', body: form }), 403, 'scope-forbidden');
    }
    // Scoped to document.ingest: the routes are open (an unknown id is a plain 404).
    expect((await as.docs!('/v1/documents')).status).toBe(200);
    await expectProblem(await as.docs!('/v1/documents/doc_00000000000000000000000000'), 404, 'not-found');
  });

  it('batch item lists need batch.run in the scope', async () => {
    await expectProblem(await as.typeA!('/v1/batch-inputs?jobType=noop', { method: 'POST', body: JSON.stringify([{ tag: 'x' }]), headers: { 'content-type': 'application/json' } }), 403, 'scope-forbidden');
    await expectProblem(await as.typeA!('/v1/batch-inputs/bin_00000000000000000000000000'), 403, 'scope-forbidden');
    // A label scope does not narrow item lists (they carry no labels; the batch.run job that uses one must).
    await expectProblem(await as.labelL!('/v1/batch-inputs/bin_00000000000000000000000000'), 404, 'not-found');
  });

  it('the job-type catalog shows only the scope’s types', async () => {
    const seen = (await (await as.typeA!('/v1/job-types')).json()) as { items: { type: string }[] };
    expect(seen.items.map((t) => t.type)).toEqual(['approval.request']);
    const all = (await (await as.labelL!('/v1/job-types')).json()) as { items: unknown[] };
    expect(all.items).toHaveLength(types.length);
  });

  it('the codec endpoint refuses a scoped key (payloads do not say which job they are of)', async () => {
    const res = await as.readOnly!('/codec/decode', { method: 'POST', body: JSON.stringify({ payloads: [] }), headers: { 'content-type': 'application/json' } });
    await expectProblem(res, 403, 'scope-forbidden');
    expect((await refusals(keyIds.readOnly!)).at(-1)).toMatchObject({ detail: { reason: 'codec endpoint', status: 403 } });
  });
});

describe('a flood of refusals', () => {
  it('is answered (403, never 5xx), one audit row per refusal, behind the tenant’s in-flight gate', async () => {
    const before = (await refusals(keyIds.labelL!)).length;
    const other = await stack.api(`/v1/tenants/${stack.tenantId}/retention`);
    expect(other.status).toBe(200);
    const answers = await Promise.all(Array.from({ length: 200 }, (_, i) => as.labelL!(i % 2 ? '/v1/audit' : `/v1/jobs/${jobOf.noop}`)));
    const statuses = answers.map((r) => r.status);
    expect(statuses.filter((s) => s >= 500)).toEqual([]);
    expect(new Set(statuses)).toEqual(new Set([403, 404]));
    expect((await refusals(keyIds.labelL!)).length).toBe(before + 200);
    // The tenant's unscoped keys are still served at once afterwards.
    expect((await stack.api(`/v1/jobs/${unknownJob}`, { role: 'viewer' })).status).toBe(404);
  });
});
