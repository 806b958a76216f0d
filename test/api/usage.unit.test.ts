/**
 * `GET /v1/usage` and `GET /v1/jobs/{id}/usage` without Temporal (the unit
 * tier): the real app through `app.request()` on real Postgres, with known
 * rows inserted into `usage_daily` and `job_run_usage` (what the job-end
 * watcher writes) for two tenants. Totals and groupings equal the inserted
 * sums; the other tenant's rows never show and its job ids answer 404 like
 * unknown ones; roles, scopes, the date range and its validation; a job with
 * no closed run answers no runs and zeros; both routes are in /openapi.json.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiKey } from '../../api/tenants/service.ts';
import { JobplaneClient, JobplaneProblemError } from '../../client/index.ts';
import { jobRunUsage, jobs, usageDaily, type ApiKeyScope } from '../../db/schema/index.ts';
import { newJobId } from '../../runtime/ids.ts';
import { startTestApp, type AppStack } from '../helpers/app.ts';
import { callerWithKey, createOtherTenant, expectProblem, type Caller, type OtherTenant } from '../helpers/http.ts';

type Figures = { runs: number; actions: number; historyBytes: number; activityAttempts: number; activityWallMs: number; activityCpuUs: number; storageBytes: number };
type Daily = Figures & { jobType: string; day: string };

const dayMs = 86_400_000;
const dayOf = (ms: number) => new Date(ms).toISOString().slice(0, 10);
const today = dayOf(Date.now());
const daysAgo = (n: number) => dayOf(Date.parse(`${today}T00:00:00Z`) - n * dayMs);

/** Big enough that a 32-bit sum or a numeric-as-string would show. */
const big = 5_000_000_000;

const fig = (n: number, extra: Partial<Figures> = {}): Figures => ({
  runs: n,
  actions: 10 * n,
  historyBytes: big + n,
  activityAttempts: 3 * n,
  activityWallMs: 1000 * n,
  activityCpuUs: 1234 * n + 7,
  storageBytes: 100 * n,
  ...extra,
});

/** This tenant's daily rows: January 2025, and around today for the default range. */
const mine: Daily[] = [
  { jobType: 'webhook.deliver', day: '2025-01-05', ...fig(2) },
  { jobType: 'webhook.deliver', day: '2025-01-20', ...fig(5) },
  { jobType: 'batch.run', day: '2025-01-05', ...fig(1, { storageBytes: 7_000_000_000 }) },
  { jobType: 'approval.request', day: '2025-01-31', ...fig(4) },
  // Outside January: must not count in it.
  { jobType: 'webhook.deliver', day: '2024-12-31', ...fig(50) },
  { jobType: 'webhook.deliver', day: '2025-02-01', ...fig(60) },
  // The default range is today and the 29 days before.
  { jobType: 'noop', day: today, ...fig(3) },
  { jobType: 'noop', day: daysAgo(29), ...fig(6) },
  { jobType: 'noop', day: daysAgo(30), ...fig(70) },
];
/** The other tenant's: same types and days, other figures. */
const theirs: Daily[] = [
  { jobType: 'webhook.deliver', day: '2025-01-05', ...fig(900) },
  { jobType: 'document.ingest', day: '2025-01-10', ...fig(800) },
  { jobType: 'noop', day: today, ...fig(700) },
];

/** The API's shape of summed figures (CPU in ms). */
function expected(rows: readonly Figures[]) {
  const sum = (k: keyof Figures) => rows.reduce((n, r) => n + r[k], 0);
  return {
    runs: sum('runs'),
    actions: sum('actions'),
    historyBytes: sum('historyBytes'),
    activityAttempts: sum('activityAttempts'),
    activityWallMs: sum('activityWallMs'),
    activityCpuMs: sum('activityCpuUs') / 1000,
    storageBytes: sum('storageBytes'),
  };
}
const inJanuary = mine.filter((r) => r.day >= '2025-01-01' && r.day <= '2025-01-31');

let stack: AppStack;
let other: OtherTenant;
let otherViewer: Caller;
const scoped = {} as Record<'typeWebhook' | 'typeNoop' | 'readOnly', Caller>;
/** Jobs of this tenant: one with two closed runs, one with none, a batch; and one of the other tenant. */
const job = { billed: newJobId(), empty: newJobId(), batch: newJobId(), theirs: newJobId() };

const runRow = (tenantId: string, jobId: string, jobType: string, runId: string, closedAt: string, f: Partial<typeof jobRunUsage.$inferInsert> = {}) => ({
  workflowId: `${tenantId}:${jobId}`,
  runId,
  tenantId,
  jobId,
  jobType,
  day: closedAt.slice(0, 10),
  closedAt: new Date(closedAt),
  executionStatus: 'COMPLETED',
  actions: 4,
  actionsByKind: { workflow: 1, activity: 3 },
  historyBytes: 2048,
  historyEvents: 17,
  activityAttempts: 3,
  activityWallMs: 250,
  activityCpuUs: 1_234_567,
  storageBytes: 0,
  ...f,
});

beforeAll(async () => {
  stack = await startTestApp('usage');
  other = await createOtherTenant(stack, { role: 'admin' });
  otherViewer = callerWithKey(stack, (await createApiKey(stack.db, other.tenantId, { name: 'other viewer', role: 'viewer' })).key);
  const scopes: Record<keyof typeof scoped, ApiKeyScope> = { typeWebhook: { jobTypes: ['webhook.deliver'] }, typeNoop: { jobTypes: ['noop'] }, readOnly: { actions: ['read'] } };
  for (const [name, scope] of Object.entries(scopes) as [keyof typeof scoped, ApiKeyScope][]) {
    scoped[name] = callerWithKey(stack, (await createApiKey(stack.db, stack.tenantId, { name, role: 'admin', scope })).key);
  }

  await stack.db.insert(usageDaily).values([...mine.map((r) => ({ tenantId: stack.tenantId, ...r })), ...theirs.map((r) => ({ tenantId: other.tenantId, ...r }))]);

  const jobRow = (id: string, tenantId: string, type: string) => ({ id, tenantId, type, requestHash: 'unit', workflowId: `${tenantId}:${id}`, firstRunId: `${id}-run-1` });
  await stack.db.insert(jobs).values([jobRow(job.billed, stack.tenantId, 'webhook.deliver'), jobRow(job.empty, stack.tenantId, 'noop'), jobRow(job.batch, stack.tenantId, 'batch.run'), jobRow(job.theirs, other.tenantId, 'webhook.deliver')]);
  await stack.db.insert(jobRunUsage).values([
    // Inserted out of order: the answer is by closedAt.
    runRow(stack.tenantId, job.billed, 'webhook.deliver', 'run-2', '2025-01-21T00:00:05.000Z', {
      executionStatus: 'FAILED',
      actions: 9,
      actionsByKind: { workflow: 1, activity: 6, timer: 2 },
      historyBytes: big,
      historyEvents: 40,
      activityAttempts: 6,
      activityWallMs: 9_000,
      activityCpuUs: 1,
      storageBytes: 12,
    }),
    runRow(stack.tenantId, job.billed, 'webhook.deliver', 'run-1', '2025-01-20T23:59:59.000Z'),
    runRow(other.tenantId, job.theirs, 'webhook.deliver', 'their-run', '2025-01-20T10:00:00.000Z', { actions: 1000 }),
    // A row of the other tenant that names this tenant's job id: only the tenant's own rows count.
    runRow(other.tenantId, job.billed, 'webhook.deliver', 'spoof-run', '2025-01-20T12:00:00.000Z', { actions: 5000 }),
  ]);
});
afterAll(async () => {
  await stack?.close();
});

const get = async (caller: (path: string) => Promise<Response>, path: string) => {
  const res = await caller(path);
  const text = await res.text();
  expect(res.status, text).toBe(200);
  return JSON.parse(text) as Record<string, unknown> & { items: Record<string, unknown>[]; total: Record<string, number> };
};
const asAdmin = (p: string) => stack.api(p, { role: 'admin' });
const asViewer = (p: string) => stack.api(p, { role: 'viewer' });

describe('GET /v1/usage', () => {
  it('by job type (the default): one item per type, by name, each the sum of its rows; the total of them all', async () => {
    const body = await get(asAdmin, '/v1/usage?from=2025-01-01&to=2025-01-31');
    expect(body).toMatchObject({ from: '2025-01-01', to: '2025-01-31', groupBy: 'type' });
    const types = [...new Set(inJanuary.map((r) => r.jobType))].sort();
    expect(body.items).toEqual(types.map((jobType) => ({ jobType, ...expected(inJanuary.filter((r) => r.jobType === jobType)) })));
    expect(body.items.map((i) => i.jobType)).toEqual(['approval.request', 'batch.run', 'webhook.deliver']);
    expect(body.total).toEqual(expected(inJanuary));
    // Figures are JSON numbers, past 2^32 too.
    expect(body.total.historyBytes).toBe(4 * big + 12);
    expect(body.total.storageBytes).toBe(7_000_000_000 + 200 + 500 + 400);
  });

  it('by day: only days that have rows, oldest first', async () => {
    const body = await get(asAdmin, '/v1/usage?from=2025-01-01&to=2025-01-31&groupBy=day');
    expect(body.groupBy).toBe('day');
    expect(body.items).toEqual([
      { day: '2025-01-05', ...expected(inJanuary.filter((r) => r.day === '2025-01-05')) },
      { day: '2025-01-20', ...expected(inJanuary.filter((r) => r.day === '2025-01-20')) },
      { day: '2025-01-31', ...expected(inJanuary.filter((r) => r.day === '2025-01-31')) },
    ]);
    expect(body.total).toEqual(expected(inJanuary));
  });

  it('both ends are included; a range with no rows answers no items and zeros', async () => {
    const one = await get(asAdmin, '/v1/usage?from=2025-01-31&to=2025-01-31');
    expect(one.items).toEqual([{ jobType: 'approval.request', ...expected([mine[3]!]) }]);
    const none = await get(asAdmin, '/v1/usage?from=2023-01-01&to=2023-12-31&groupBy=day');
    expect(none.items).toEqual([]);
    expect(none.total).toEqual({ runs: 0, actions: 0, historyBytes: 0, activityAttempts: 0, activityWallMs: 0, activityCpuMs: 0, storageBytes: 0 });
  });

  it('defaults: to = today (UTC), from = to − 29 days; only from, only to', async () => {
    const body = await get(asAdmin, '/v1/usage');
    expect(body).toMatchObject({ from: daysAgo(29), to: today, groupBy: 'type' });
    expect(body.items).toEqual([{ jobType: 'noop', ...expected([mine[6]!, mine[7]!]) }]);
    const onlyTo = await get(asAdmin, '/v1/usage?to=2025-01-30');
    expect(onlyTo).toMatchObject({ from: '2025-01-01', to: '2025-01-30' });
    expect(onlyTo.total).toEqual(expected(inJanuary.filter((r) => r.day <= '2025-01-30')));
    const onlyFrom = await get(asAdmin, `/v1/usage?from=${daysAgo(30)}`);
    expect(onlyFrom).toMatchObject({ from: daysAgo(30), to: today });
    expect(onlyFrom.total).toEqual(expected([mine[6]!, mine[7]!, mine[8]!]));
  });

  it('a range of 366 days (both ends counted) is answered; 367 is not', async () => {
    const leapYear = await get(asAdmin, '/v1/usage?from=2024-02-01&to=2025-01-31');
    expect(leapYear.total).toEqual(expected(mine.filter((r) => r.day >= '2024-02-01' && r.day <= '2025-01-31')));
    const tooLong = await expectProblem(await asAdmin('/v1/usage?from=2024-01-31&to=2025-01-31'), 400, 'validation-error');
    expect(tooLong.errors).toEqual([{ path: 'query.to', message: expect.stringMatching(/at most 366 days.*spans 367/) }]);
    // to left out (today): the field the caller gave is named.
    const fromTooEarly = await expectProblem(await asAdmin(`/v1/usage?from=${daysAgo(366)}`), 400, 'validation-error');
    expect(fromTooEarly.errors!.map((e) => e.path)).toEqual(['query.from']);
    expect((await asAdmin(`/v1/usage?from=${daysAgo(365)}`)).status).toBe(200);
  });

  it('a malformed date, a reversed range or an unknown grouping: 400 problem+json naming the field', async () => {
    const cases: [string, string][] = [
      ['from=2025-13-01&to=2025-12-31', 'query.from'],
      ['from=2025-1-5', 'query.from'],
      ['from=yesterday', 'query.from'],
      ['from=2025-01-01T00:00:00Z', 'query.from'],
      ['to=2025-02-30', 'query.to'],
      ['to=2023-02-29', 'query.to'],
      ['to=0000-01-01', 'query.to'],
      ['from=2025-02-01&to=2025-01-31', 'query.to'],
      [`from=${dayOf(Date.now() + 2 * dayMs)}`, 'query.from'],
      ['groupBy=week', 'query.groupBy'],
    ];
    for (const [query, path] of cases) {
      const problem = await expectProblem(await asAdmin(`/v1/usage?${query}`), 400, 'validation-error');
      expect(problem.errors?.map((e) => e.path), query).toEqual([path]);
    }
    // A leap day is a day.
    expect((await asAdmin('/v1/usage?from=2024-02-29&to=2024-02-29')).status).toBe(200);
  });

  it('tenant isolation: each tenant sees only its own rows', async () => {
    const body = await get(other.asOther, '/v1/usage?from=2025-01-01&to=2025-01-31');
    expect(body.items).toEqual([
      { jobType: 'document.ingest', ...expected([theirs[1]!]) },
      { jobType: 'webhook.deliver', ...expected([theirs[0]!]) },
    ]);
    const mineNow = await get(asAdmin, '/v1/usage?groupBy=day');
    expect(mineNow.items.find((i) => i.day === today)).toEqual({ day: today, ...expected([mine[6]!]) });
  });

  it('admin only; a scoped key, admin included, gets 403 scope-forbidden (tenant-wide)', async () => {
    for (const role of ['operator', 'submitter', 'viewer'] as const) await expectProblem(await stack.api('/v1/usage', { role }), 403, 'forbidden');
    await expectProblem(await stack.api('/v1/usage', { role: null }), 401, 'unauthenticated');
    for (const caller of Object.values(scoped)) await expectProblem(await caller('/v1/usage'), 403, 'scope-forbidden');
  });
});

describe('GET /v1/jobs/{id}/usage', () => {
  it('each closed run in the order they closed, and their total; the other tenant’s rows never count', async () => {
    const body = await get(asViewer, `/v1/jobs/${job.billed}/usage`);
    expect(body).toEqual({
      jobId: job.billed,
      jobType: 'webhook.deliver',
      runs: [
        {
          runId: 'run-1',
          closedAt: '2025-01-20T23:59:59.000Z',
          status: 'COMPLETED',
          day: '2025-01-20',
          actions: 4,
          actionsByKind: { workflow: 1, activity: 3 },
          historyBytes: 2048,
          historyEvents: 17,
          activityAttempts: 3,
          activityWallMs: 250,
          activityCpuMs: 1234.567,
          storageBytes: 0,
        },
        {
          runId: 'run-2',
          closedAt: '2025-01-21T00:00:05.000Z',
          status: 'FAILED',
          day: '2025-01-21',
          actions: 9,
          actionsByKind: { workflow: 1, activity: 6, timer: 2 },
          historyBytes: big,
          historyEvents: 40,
          activityAttempts: 6,
          activityWallMs: 9000,
          activityCpuMs: 0.001,
          storageBytes: 12,
        },
      ],
      total: { actions: 13, historyBytes: big + 2048, historyEvents: 57, activityAttempts: 9, activityWallMs: 9250, activityCpuMs: 1234.568, storageBytes: 12 },
    });
  });

  it('a job with no closed run yet: 200, no runs, zeros', async () => {
    const body = await get(asViewer, `/v1/jobs/${job.empty}/usage`);
    expect(body).toEqual({
      jobId: job.empty,
      jobType: 'noop',
      runs: [],
      total: { actions: 0, historyBytes: 0, historyEvents: 0, activityAttempts: 0, activityWallMs: 0, activityCpuMs: 0, storageBytes: 0 },
    });
  });

  it('another tenant’s job, an unknown or malformed id: 404 with the body an unknown id gets', async () => {
    const strip = (p: Record<string, unknown>) => ({ ...p, detail: undefined, instance: undefined, requestId: undefined });
    const foreign = await expectProblem(await stack.api(`/v1/jobs/${job.theirs}/usage`, { role: 'admin' }), 404, 'not-found');
    const unknown = await expectProblem(await stack.api('/v1/jobs/job_00000000000000000000000000/usage', { role: 'admin' }), 404, 'not-found');
    expect(strip(foreign)).toEqual(strip(unknown));
    await expectProblem(await stack.api('/v1/jobs/nope/usage', { role: 'admin' }), 404, 'not-found');
    // And the other way round: this tenant's job is not the other tenant's to read, whatever rows name it.
    await expectProblem(await otherViewer(`/v1/jobs/${job.billed}/usage`), 404, 'not-found');
    const theirOwn = await get(otherViewer, `/v1/jobs/${job.theirs}/usage`);
    expect((theirOwn.runs as { runId: string }[]).map((r) => r.runId)).toEqual(['their-run']);
  });

  it('scoped keys: a job outside the scope is a 404 like an unknown id; inside it, read is enough', async () => {
    await expectProblem(await scoped.typeNoop(`/v1/jobs/${job.billed}/usage`), 404, 'not-found');
    expect((await scoped.typeWebhook(`/v1/jobs/${job.billed}/usage`)).status).toBe(200);
    expect((await scoped.readOnly(`/v1/jobs/${job.billed}/usage`)).status).toBe(200);
    const noRead = callerWithKey(stack, (await createApiKey(stack.db, stack.tenantId, { name: 'cancel only', role: 'submitter', scope: { actions: ['cancel'] } })).key);
    await expectProblem(await noRead(`/v1/jobs/${job.billed}/usage`), 403, 'scope-forbidden');
  });

  it('does not shadow the other /v1/jobs routes: `failures` is not a job id here', async () => {
    await expectProblem(await stack.api('/v1/jobs/failures/usage', { role: 'admin' }), 404, 'not-found');
    // The sub-app beside it still answers its own `/{id}/…` route.
    const failedItems = await stack.api(`/v1/jobs/${job.batch}/failed-items`, { role: 'viewer' });
    expect(failedItems.status, await failedItems.clone().text()).toBe(200);
    expect(await failedItems.json()).toEqual({ items: [], nextCursor: null });
  });
});

describe('the typed client', () => {
  // Its transport is `app.request()`: the same requests a product service sends, without a socket.
  const client = (key: string) => new JobplaneClient({ baseUrl: 'http://api.test', apiKey: key, fetch: (input, init) => Promise.resolve(stack.app.request(String(input), init)) });

  it('usage(params) and jobUsage(jobId) answer what the routes answer', async () => {
    const byType = await client(stack.keys.admin).usage({ from: '2025-01-01', to: '2025-01-31' });
    expect(byType.items.map((i) => i.jobType)).toEqual(['approval.request', 'batch.run', 'webhook.deliver']);
    expect(byType.total).toEqual(expected(inJanuary));
    const byDay = await client(stack.keys.admin).usage({ from: '2025-01-01', to: '2025-01-31', groupBy: 'day' });
    expect(byDay.items.map((i) => i.day)).toEqual(['2025-01-05', '2025-01-20', '2025-01-31']);
    const ofJob = await client(stack.keys.viewer).jobUsage(job.billed);
    expect(ofJob.runs.map((r) => r.runId)).toEqual(['run-1', 'run-2']);
    expect(ofJob.total.activityCpuMs).toBe(1234.568);
  });

  it('problems are thrown as JobplaneProblemError', async () => {
    const refused = await client(stack.keys.viewer).usage().catch((err: unknown) => err);
    expect(refused).toBeInstanceOf(JobplaneProblemError);
    expect(refused).toMatchObject({ status: 403, slug: 'forbidden' });
    const invalid = await client(stack.keys.admin).usage({ from: '2025-02-01', to: '2025-01-01' }).catch((err: unknown) => err);
    expect(invalid).toMatchObject({ status: 400, slug: 'validation-error' });
  });
});

describe('/openapi.json', () => {
  it('documents both routes with their answers and problem responses', async () => {
    const spec = (await (await stack.app.request('/openapi.json')).json()) as { paths: Record<string, Record<string, { tags: string[]; security: unknown; responses: Record<string, { content: Record<string, unknown> }> }>> };
    for (const path of ['/v1/usage', '/v1/jobs/{id}/usage']) {
      const op = spec.paths[path]?.get;
      expect(op, path).toBeDefined();
      expect(op!.security).toEqual([{ bearerAuth: [] }]);
      expect(op!.responses['200']!.content['application/json']).toBeDefined();
      for (const status of ['400', '401', '403', '404']) expect(op!.responses[status]!.content['application/problem+json'], `${path} ${status}`).toBeDefined();
    }
  });
});
