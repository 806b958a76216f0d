/**
 * `POST /v1/schedules/{id}/backfill` against real Temporal Schedules: the
 * runs of a past range start (as workflows `<tenant>:<schedule>-<time>` that
 * really run), a dry run only counts, a repeat with the same Idempotency-Key
 * starts nothing more, a range over the cap or in the future is a 400 that
 * starts nothing, roles and tenants are enforced, and the backfill is audited.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WorkflowNotFoundError } from '@temporalio/client';
import { and, eq } from 'drizzle-orm';
import { maxBackfillRuns } from '../../api/schedules/backfill.ts';
import { JobplaneClient } from '../../client/jobplane-client.ts';
import { temporalScheduleIdFor } from '../../contracts/workflow-ids.ts';
import { auditEvents } from '../../db/schema/index.ts';
import { createOtherTenant, expectProblem, retryWhileTemporalUnavailable, type OtherTenant } from '../helpers/http.ts';
import { startTestStack, type TestStack } from '../helpers/stack.ts';

let stack: TestStack;
let other: OtherTenant;
const hour = 3600_000;

beforeAll(async () => {
  stack = await startTestStack('schedule-backfill');
  await stack.startWorkers();
  other = await createOtherTenant(stack, { role: 'admin' });
});
afterAll(async () => {
  if (stack) {
    for await (const s of stack.client.schedule.list({ query: `TenantId = "${stack.tenantId}"` })) {
      await stack.client.schedule.getHandle(s.scheduleId).delete().catch(() => {});
    }
  }
  await stack?.close();
});

/** A paused hourly `noop` schedule: it never runs by itself during the test, so every run seen is a backfilled one. */
async function hourlySchedule(interval = '1h'): Promise<string> {
  const res = await stack.api('/v1/schedules', { method: 'POST', role: 'submitter', body: JSON.stringify({ type: 'noop', input: {}, interval, paused: true }) });
  expect(res.status, await res.clone().text()).toBe(201);
  return ((await res.json()) as { id: string }).id;
}

function backfill(id: string, body: unknown, opts: { role?: 'operator' | 'submitter' | 'viewer'; key?: string } = {}) {
  const send = () =>
    stack.api(`/v1/schedules/${id}/backfill`, {
      method: 'POST',
      role: opts.role ?? 'operator',
      body: JSON.stringify(body),
      ...(opts.key ? { headers: { 'idempotency-key': opts.key } } : {}),
    });
  // Without a key, a call refused at its first Temporal call (describing the schedule) is repeated as a client would;
  // keyed calls are not, since their replay is what those tests check.
  return opts.key ? send() : retryWhileTemporalUnavailable(send);
}

/** Hour boundaries in (from, to]: what an hourly interval schedule would have run. */
function hoursIn(from: number, to: number): string[] {
  const times: string[] = [];
  for (let t = Math.floor(from / hour) * hour + hour; t <= to; t += hour) times.push(new Date(t).toISOString());
  return times;
}

const runWorkflowId = (scheduleId: string, time: string) => `${temporalScheduleIdFor(stack.tenantId, scheduleId)}-${time.replace('.000Z', 'Z')}`;

async function runOf(scheduleId: string, time: string): Promise<{ runId: string; status: string } | undefined> {
  try {
    const d = await stack.client.workflow.getHandle(runWorkflowId(scheduleId, time)).describe();
    return { runId: d.runId, status: d.status.name };
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return undefined;
    throw err;
  }
}

const backfillAudits = (scheduleId: string) =>
  stack.db.select().from(auditEvents).where(and(eq(auditEvents.target, scheduleId), eq(auditEvents.action, 'schedule.backfill')));

describe('POST /v1/schedules/{id}/backfill', () => {
  it('starts every run of the range, each a workflow that really runs; audited once', async () => {
    const id = await hourlySchedule();
    const to = Date.now();
    const from = to - 5 * hour;
    const res = await backfill(id, { from: new Date(from).toISOString(), to: new Date(to).toISOString(), overlap: 'allow_all' });
    expect(res.status, await res.clone().text()).toBe(202);
    const body = (await res.json()) as { runs: number; runTimes: string[]; overlap: string; replay: boolean };
    expect(body).toMatchObject({ overlap: 'allow_all', replay: false, dryRun: false });
    expect(body.runTimes).toEqual(hoursIn(from, to));
    expect(body.runs).toBe(body.runTimes.length);

    for (const time of body.runTimes) {
      await expect.poll(async () => (await runOf(id, time))?.status, { timeout: 30_000, interval: 250 }).toBe('COMPLETED');
    }
    const audits = await backfillAudits(id);
    expect(audits).toHaveLength(1);
    expect(audits[0]).toMatchObject({ outcome: 'succeeded', tenantId: stack.tenantId, detail: expect.objectContaining({ runs: body.runs, overlap: 'allow_all' }) });
  });

  it('a dry run counts and starts nothing; an empty range starts nothing', async () => {
    const id = await hourlySchedule();
    const to = Date.now();
    const from = to - 3 * hour;
    const client = new JobplaneClient({ baseUrl: stack.apiUrl, apiKey: stack.keys.operator });
    const body = await client.backfillSchedule(id, { from: new Date(from).toISOString(), to: new Date(to).toISOString(), dryRun: true });
    expect(body).toMatchObject({ dryRun: true, overlap: 'skip', runs: 3 });
    await new Promise((r) => setTimeout(r, 2000));
    for (const time of body.runTimes) expect(await runOf(id, time)).toBeUndefined();

    // Ten minutes that hold no hour boundary: nothing to run.
    const quarter = Math.floor(to / hour) * hour - hour + 60_000;
    const empty = await backfill(id, { from: new Date(quarter).toISOString(), to: new Date(quarter + 10 * 60_000).toISOString() });
    expect(empty.status).toBe(200);
    expect(await empty.json()).toMatchObject({ runs: 0, runTimes: [] });
    expect(await backfillAudits(id)).toHaveLength(0);
  });

  it('a repeat with the same Idempotency-Key starts nothing more; the key for another range is 409', async () => {
    const id = await hourlySchedule();
    const to = Date.now();
    const range = { from: new Date(to - 2 * hour).toISOString(), to: new Date(to).toISOString(), overlap: 'allow_all' };
    const first = await backfill(id, range, { key: 'backfill-once' });
    expect(first.status).toBe(202);
    const { runTimes } = (await first.json()) as { runTimes: string[] };
    const runIds: string[] = [];
    for (const time of runTimes) {
      await expect.poll(async () => (await runOf(id, time))?.status, { timeout: 30_000, interval: 250 }).toBe('COMPLETED');
      runIds.push((await runOf(id, time))!.runId);
    }

    const again = await backfill(id, range, { key: 'backfill-once' });
    expect(again.status).toBe(200);
    expect(await again.json()).toMatchObject({ replay: true, runs: runTimes.length });
    await new Promise((r) => setTimeout(r, 2000));
    // The same runs, not new runs of the same ids.
    for (const [i, time] of runTimes.entries()) expect((await runOf(id, time))?.runId).toBe(runIds[i]);
    expect(await backfillAudits(id)).toHaveLength(1);

    await expectProblem(await backfill(id, { ...range, from: new Date(to - 3 * hour).toISOString() }, { key: 'backfill-once' }), 409, 'idempotency-key-reused');
  });

  it('bad ranges are a 400 naming the field and start nothing', async () => {
    const everySecond = await hourlySchedule('1s');
    const now = Date.now();
    const tooMany = await expectProblem(await backfill(everySecond, { from: new Date(now - hour).toISOString(), to: new Date(now).toISOString() }), 400, 'validation-error');
    expect(tooMany.errors!.map((e) => e.path)).toEqual(['to']);
    expect(tooMany.detail).toContain(String(maxBackfillRuns));

    const future = await expectProblem(await backfill(everySecond, { from: new Date(now).toISOString(), to: new Date(now + hour).toISOString() }), 400, 'validation-error');
    expect(future.errors!.map((e) => e.path)).toContain('to');
    const backwards = await expectProblem(await backfill(everySecond, { from: new Date(now).toISOString(), to: new Date(now - hour).toISOString() }), 400, 'validation-error');
    expect(backwards.errors!.map((e) => e.path)).toContain('to');
    await expectProblem(await backfill(everySecond, { from: 'yesterday', to: new Date(now).toISOString() }), 400, 'validation-error');
    expect(await backfillAudits(everySecond)).toHaveLength(0);
  });

  it('needs the operator role; another tenant’s schedule is 404 like an unknown one', async () => {
    const id = await hourlySchedule();
    const to = Date.now();
    const range = { from: new Date(to - hour).toISOString(), to: new Date(to).toISOString() };
    await expectProblem(await backfill(id, range, { role: 'submitter' }), 403, 'forbidden');
    await expectProblem(await backfill(id, range, { role: 'viewer' }), 403, 'forbidden');
    await expectProblem(await other.asOther(`/v1/schedules/${id}/backfill`, { method: 'POST', body: JSON.stringify(range) }), 404, 'not-found');
    await expectProblem(await backfill('sch_00000000000000000000000000', range), 404, 'not-found');
    expect(await backfillAudits(id)).toHaveLength(0);
  });
});
