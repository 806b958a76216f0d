/**
 * `/v1/schedules` over a real socket, with real Temporal Schedules firing real
 * `webhook.deliver` runs at a local receiver: runs arrive on the timetable,
 * pause stops them, trigger runs one now, bad timetables and inputs create
 * nothing, viewers cannot create, another tenant sees 404s, every change is
 * audited.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OpenAPIHono } from '@hono/zod-openapi';
import { and, eq } from 'drizzle-orm';
import { scheduleRoutes } from '../../api/schedules/routes.ts';
import { auditEvents } from '../../db/schema/index.ts';
import { createOtherTenant, expectProblem, retryWhileTemporalUnavailable, type OtherTenant } from '../helpers/http.ts';
import { startReceiver, type Receiver } from '../helpers/receiver.ts';
import { startTestStack, type TestStack } from '../helpers/stack.ts';

let stack: TestStack;
let receiver: Receiver;
let otherTenant: OtherTenant;

beforeAll(async () => {
  stack = await startTestStack('schedules');
  await stack.startWorkers();
  receiver = await startReceiver(() => ({ status: 200 }));
  otherTenant = await createOtherTenant(stack, { role: 'submitter' });
});
afterAll(async () => {
  // Leave nothing firing: delete every schedule of both tenants before the stack goes away.
  if (stack) {
    for (const tenantId of [stack.tenantId, otherTenant?.tenantId]) {
      for await (const s of stack.client.schedule.list({ query: `TenantId = "${tenantId}"` })) {
        await stack.client.schedule.getHandle(s.scheduleId).delete().catch(() => {});
      }
    }
  }
  await receiver?.close();
  await stack?.close();
});

type ScheduleBody = Record<string, unknown> & { id: string; nextRunTimes: string[]; recentRuns: { workflowId: string }[] };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A schedule body delivering `{ tag }` to the receiver, so each test counts only its own deliveries. */
function scheduleBody(tag: string, timetable: Record<string, unknown>) {
  return { type: 'webhook.deliver', input: { url: receiver.url, payload: { tag }, eventType: 'schedule.tick' }, ...timetable };
}
const deliveries = (tag: string) => receiver.requests.filter((r) => (JSON.parse(r.body) as { tag?: string }).tag === tag);

/** How many deliveries `tag` has had, polled every 100 ms for `timeoutMs`. */
const deliveryCount = (tag: string, timeoutMs: number) => expect.poll(() => deliveries(tag).length, { timeout: timeoutMs, interval: 100 });

async function post(path: string, body?: unknown, role: 'submitter' | 'viewer' = 'submitter', headers?: Record<string, string>) {
  const send = () => stack.api(path, { method: 'POST', role, headers, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
  // Operations on a schedule (pause, unpause, trigger) are safe to repeat after a 503; creates are retried by their own test, with a key.
  return path === '/v1/schedules' ? await send() : await retryWhileTemporalUnavailable(send);
}
async function created(body: unknown): Promise<ScheduleBody> {
  const res = await post('/v1/schedules', body);
  expect(res.status, await res.clone().text()).toBe(201);
  return (await res.json()) as ScheduleBody;
}
async function listIds(key?: string): Promise<string[]> {
  const res = key
    ? await fetch(`${stack.apiUrl}/v1/schedules`, { headers: { authorization: `Bearer ${key}` } })
    : await stack.api('/v1/schedules', { role: 'viewer' });
  expect(res.status).toBe(200);
  return ((await res.json()) as { items: { id: string }[] }).items.map((s) => s.id);
}

describe('/v1/schedules', () => {
  let every2s: ScheduleBody;

  it('an interval schedule fires runs that deliver, each as its own job of the tenant', async () => {
    every2s = await created(scheduleBody('every-2s', { interval: '2s', note: 'heartbeat' }));
    expect(every2s).toMatchObject({
      id: expect.stringMatching(/^sch_[0-9a-z]{26}$/),
      type: 'webhook.deliver',
      input: { url: receiver.url, payload: { tag: 'every-2s' } },
      spec: { interval: 2, offset: 0, timezone: 'UTC' },
      overlap: 'skip',
      paused: false,
      note: 'heartbeat',
      links: { self: `${stack.apiUrl}/v1/schedules/${every2s.id}` },
    });
    expect(every2s.nextRunTimes.length).toBeGreaterThan(0);
    await deliveryCount('every-2s', 8000).toBeGreaterThanOrEqual(2);

    // Each run delivers under its own idempotency key: runs are separate jobs, not retries of one.
    const keys = deliveries('every-2s').map((r) => r.headers['idempotency-key']);
    expect(new Set(keys).size).toBe(keys.length);

    const described = (await (await stack.api(`/v1/schedules/${every2s.id}`, { role: 'viewer' })).json()) as ScheduleBody;
    expect(described.recentRuns.length).toBeGreaterThanOrEqual(2);
    expect(described.recentRuns[0]!.workflowId.startsWith(`${stack.tenantId}:${every2s.id}-`)).toBe(true);
    expect(Date.parse(described.nextRunTimes[0]!)).toBeGreaterThan(Date.now() - 1000);
    expect(await listIds()).toContain(every2s.id);

    // The runs carry the tenant's search attributes, so Temporal visibility shows them as the tenant's.
    const runs = await stack.client.workflow.count(`TenantId = "${stack.tenantId}" AND TemporalScheduledById = "${stack.tenantId}:${every2s.id}"`);
    expect(runs.count).toBeGreaterThanOrEqual(2);
  });

  it('pause stops runs, unpause resumes them', async () => {
    const paused = await post(`/v1/schedules/${every2s.id}/pause`, { note: 'maintenance' });
    expect(paused.status).toBe(200);
    expect(await paused.json()).toMatchObject({ paused: true, note: 'maintenance', nextRunTimes: [] });
    await sleep(1000); // a run started just before the pause may still be delivering
    const before = deliveries('every-2s').length;
    await sleep(4000);
    expect(deliveries('every-2s').length).toBe(before);

    const resumed = await post(`/v1/schedules/${every2s.id}/unpause`);
    expect(resumed.status).toBe(200);
    expect(await resumed.json()).toMatchObject({ paused: false });
    await deliveryCount('every-2s', 5000).toBeGreaterThan(before);
  });

  it('a cron schedule in a time zone computes its next runs, and trigger runs it now', async () => {
    const cron = await created(scheduleBody('cron', { cron: '0 9 1 1 *', timezone: 'america/new_york', overlap: 'buffer_one', priority: 2, labels: ['team=ops'] }));
    expect(cron).toMatchObject({ spec: { cron: ['0 9 1 1 *'], timezone: 'America/New_York' }, overlap: 'buffer_one', priority: 2, labels: ['team=ops'] });
    // 09:00 in New York on 1 January is 14:00 UTC.
    expect(cron.nextRunTimes[0]).toMatch(/-01-01T14:00:00\.000Z$/);

    const started = Date.now();
    const res = await post(`/v1/schedules/${cron.id}/trigger`);
    expect(res.status).toBe(202);
    await deliveryCount('cron', 5000).toBeGreaterThanOrEqual(1);
    expect(deliveries('cron')).toHaveLength(1);
    expect(deliveries('cron')[0]!.at - started).toBeLessThan(5000);
  });

  it('invalid input, cron, timezone, or not exactly one of cron/interval → 400 with paths; nothing created', async () => {
    const before = (await listIds()).length;
    const cases: [Record<string, unknown>, string[]][] = [
      [{ type: 'webhook.deliver', input: { url: 'ftp://x', payload: 1 }, interval: 60 }, ['input.url']],
      [scheduleBody('bad', { cron: '61 * * * *' }), ['cron']],
      [scheduleBody('bad', { cron: ['0 9 * * *', '* * *'] }), ['cron.1']],
      [scheduleBody('bad', { cron: '0 9 * * *', timezone: 'Mars/Olympus' }), ['timezone']],
      [scheduleBody('bad', { cron: '0 9 * * *', interval: '1h' }), ['interval']],
      [scheduleBody('bad', {}), ['cron']],
      [scheduleBody('bad', { interval: '5x' }), ['interval']],
      [scheduleBody('bad', { interval: '1m', offset: '2m' }), ['offset']],
      [{ ...scheduleBody('bad', { interval: 60 }), type: 'nope' }, ['type']],
    ];
    for (const [body, paths] of cases) {
      const problem = await expectProblem(await post('/v1/schedules', body), 400, 'validation-error');
      expect(problem.errors!.map((e) => e.path), JSON.stringify(body)).toEqual(paths);
    }
    expect((await listIds()).length).toBe(before);
  });

  it('viewers cannot create; Idempotency-Key replays the same schedule and refuses another body', async () => {
    await expectProblem(await post('/v1/schedules', scheduleBody('viewer', { interval: '1h' }), 'viewer'), 403, 'forbidden');
    const headers = { 'idempotency-key': 'nightly-report' };
    // A create Temporal answers too late is a 503 (temporal-unavailable, Retry-After) that may still have
    // created the schedule; a client retries it with the same key, and so does this test on a loaded machine.
    let first = await post('/v1/schedules', scheduleBody('idem', { cron: '@daily' }), 'submitter', headers);
    let retried = false;
    for (let attempt = 1; first.status === 503 && attempt < 4; attempt++) {
      await expectProblem(first, 503, 'temporal-unavailable');
      retried = true;
      first = await post('/v1/schedules', scheduleBody('idem', { cron: '@daily' }), 'submitter', headers);
    }
    expect(first.status).toBe(retried && first.status === 200 ? 200 : 201);
    const again = await post('/v1/schedules', scheduleBody('idem', { cron: '@daily' }), 'submitter', headers);
    expect(again.status).toBe(200);
    expect(((await again.json()) as ScheduleBody).id).toBe(((await first.json()) as ScheduleBody).id);
    await expectProblem(await post('/v1/schedules', scheduleBody('idem', { cron: '@hourly' }), 'submitter', headers), 409, 'idempotency-key-reused');
  });

  it('another tenant gets 404 for every operation and does not see the schedule', async () => {
    const asOther = (path: string, method: string) => otherTenant.asOther(path, { method });
    const id = every2s.id;
    await expectProblem(await asOther(`/v1/schedules/${id}`, 'GET'), 404, 'not-found');
    for (const op of ['pause', 'unpause', 'trigger']) await expectProblem(await asOther(`/v1/schedules/${id}/${op}`, 'POST'), 404, 'not-found');
    await expectProblem(await asOther(`/v1/schedules/${id}`, 'DELETE'), 404, 'not-found');
    expect(await listIds(otherTenant.key)).not.toContain(id);
    // Unknown and malformed ids answer exactly the same.
    await expectProblem(await stack.api('/v1/schedules/sch_00000000000000000000000000', { role: 'viewer' }), 404, 'not-found');
    await expectProblem(await stack.api('/v1/schedules/not-an-id', { role: 'viewer' }), 404, 'not-found');
    // The first tenant's schedule still runs.
    expect((await (await stack.api(`/v1/schedules/${id}`, { role: 'viewer' })).json()) as ScheduleBody).toMatchObject({ paused: false });
  });

  it('delete → 204, then 404; create, pause and delete are audited', async () => {
    const res = await stack.api(`/v1/schedules/${every2s.id}`, { method: 'DELETE', role: 'submitter' });
    expect(res.status).toBe(204);
    await expectProblem(await stack.api(`/v1/schedules/${every2s.id}`, { role: 'viewer' }), 404, 'not-found');
    await expectProblem(await stack.api(`/v1/schedules/${every2s.id}`, { method: 'DELETE', role: 'submitter' }), 404, 'not-found');

    const rows = await stack.db
      .select({ action: auditEvents.action, outcome: auditEvents.outcome })
      .from(auditEvents)
      .where(and(eq(auditEvents.tenantId, stack.tenantId), eq(auditEvents.target, every2s.id)));
    expect(rows.filter((r) => r.outcome === 'succeeded').map((r) => r.action)).toEqual(
      expect.arrayContaining(['schedule.create', 'schedule.pause', 'schedule.unpause', 'schedule.delete']),
    );
  });

  it('declares every route in OpenAPI under the Schedules tag', () => {
    // The router on its own: its part of /openapi.json must generate whatever the other routers do.
    const router = new OpenAPIHono();
    router.route('/v1/schedules', scheduleRoutes({ db: stack.db, client: stack.client, config: stack.config }));
    const doc = router.getOpenAPI31Document({ openapi: '3.1.0', info: { title: 'schedules', version: '1' } });
    const ops = Object.entries(doc.paths ?? {}).flatMap(([path, item]) =>
      Object.entries(item as Record<string, { tags?: string[]; security?: unknown[] }>).map(([method, op]) => ({ route: `${method} ${path}`, ...op })),
    );
    expect(ops.map((o) => o.route).sort()).toEqual([
      'delete /v1/schedules/{id}',
      'get /v1/schedules',
      'get /v1/schedules/{id}',
      'post /v1/schedules',
      'post /v1/schedules/{id}/pause',
      'post /v1/schedules/{id}/trigger',
      'post /v1/schedules/{id}/unpause',
    ]);
    for (const op of ops) expect(op, op.route).toMatchObject({ tags: ['Schedules'], security: [{ bearerAuth: [] }] });
  });
});
