/**
 * `debounce: { key, delay, maxWait? }` on `POST /v1/jobs`, against real
 * Temporal and Postgres: a burst of creates answers one job id (202) and
 * starts that one job, once, with the latest create's input after the burst
 * goes quiet; 50 concurrent creates make one job; `maxWait` caps a burst that
 * never goes quiet; the next create after a burst opens a new one; keys are
 * per tenant; bad requests change nothing; every create is audited and the
 * job's `job.create` record says how many creates it collapsed.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client, Connection, WorkflowNotFoundError } from '@temporalio/client';
import { createApp } from '../../api/app.ts';
import { createLogger } from '../../runtime/logger.ts';
import { and, eq, sql } from 'drizzle-orm';
import { JobplaneClient } from '../../client/jobplane-client.ts';
import { debounceWorkflowIdFor } from '../../contracts/workflow-ids.ts';
import { auditEvents, jobs } from '../../db/schema/index.ts';
import { createOtherTenant, expectProblem, type OtherTenant } from '../helpers/http.ts';
import { recordHistory } from '../helpers/record-history.ts';
import { startTestStack, type TestStack } from '../helpers/stack.ts';

let stack: TestStack;
let other: OtherTenant;

beforeAll(async () => {
  stack = await startTestStack('debounce');
  await stack.startWorkers();
  other = await createOtherTenant(stack, { role: 'submitter' });
});
afterAll(async () => {
  await stack?.close();
});

interface Debounced {
  id: string;
  status: string;
  debounce: { key: string; creates: number; delaySeconds: number };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The id once `getJob` finds the job (404 while its burst is still open). */
async function waitStarted(client: JobplaneClient, id: string): Promise<string> {
  await expect.poll(() => client.getJob(id).then(() => true, () => false), { timeout: 20_000, interval: 200 }).toBe(true);
  return id;
}

async function debounced(key: string, tag: string, debounce: Record<string, unknown> = { delay: '1500ms' }, headers?: Record<string, string>): Promise<Debounced> {
  const res = await stack.api('/v1/jobs', { method: 'POST', role: 'submitter', headers, body: JSON.stringify({ type: 'noop', input: { tag }, labels: [`burst=${key}`], debounce: { key, ...debounce } }) });
  expect(res.status, await res.clone().text()).toBe(202);
  return (await res.json()) as Debounced;
}

/** The job once started and finished: its row and its result's tag. */
async function finishedJob(id: string, timeoutMs = 30_000): Promise<{ status: string; result?: { tag?: string } }> {
  let last: { status: string; result?: { tag?: string } } = { status: 'missing' };
  await expect
    .poll(
      async () => {
        const res = await stack.api(`/v1/jobs/${id}`, { role: 'viewer' });
        if (res.status !== 200) return 'missing';
        last = (await res.json()) as typeof last;
        return last.status;
      },
      { timeout: timeoutMs, interval: 200 },
    )
    .toBe('succeeded');
  return last;
}

const jobsOfBurst = async (key: string) =>
  (await stack.db.select({ id: jobs.id }).from(jobs).where(and(eq(jobs.tenantId, stack.tenantId), sql`${jobs.labels} @> array[${`burst=${key}`}]::text[]`))).map((r) => r.id);

async function debouncerExists(tenantId: string, key: string): Promise<boolean> {
  try {
    await stack.client.workflow.getHandle(debounceWorkflowIdFor(tenantId, key)).describe();
    return true;
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return false;
    throw err;
  }
}

describe('debounced creates', () => {
  it('a burst answers one job id and starts that job once, with the latest input, after it goes quiet', async () => {
    const answers: Debounced[] = [];
    for (let i = 0; i < 5; i++) {
      answers.push(await debounced('seq', `seq-${i}`));
      await sleep(200);
    }
    const id = answers[0]!.id;
    expect(answers.map((a) => a.id)).toEqual(Array(5).fill(id));
    expect(answers.map((a) => a.debounce.creates)).toEqual([1, 2, 3, 4, 5]);
    expect(answers[0]).toMatchObject({ status: 'debouncing', debounce: { key: 'seq', delaySeconds: 1.5 } });
    // Not yet: the burst is still inside its delay.
    expect((await stack.api(`/v1/jobs/${id}`, { role: 'viewer' })).status).toBe(404);

    const job = await finishedJob(id);
    expect(job.result?.tag).toBe('seq-4');
    expect(await jobsOfBurst('seq')).toEqual([id]);
    const audit = await stack.db.select().from(auditEvents).where(and(eq(auditEvents.tenantId, stack.tenantId), eq(auditEvents.target, id)));
    expect(audit.map((a) => a.action)).toEqual(['job.create']);
    expect(audit[0]!.detail).toMatchObject({ debounce: { key: 'seq', creates: 5 } });
    const perCreate = await stack.db.select().from(auditEvents).where(and(eq(auditEvents.tenantId, stack.tenantId), eq(auditEvents.action, 'job.debounce'), eq(auditEvents.target, 'seq')));
    expect(perCreate.map((a) => a.outcome)).toEqual(Array(5).fill('succeeded'));
    await recordHistory(stack.temporal.address, debounceWorkflowIdFor(stack.tenantId, 'seq'), 'debounce', 'burst-of-five');

    // After the burst: a new create opens a new burst, a new job.
    const next = await debounced('seq', 'seq-next', { delay: '300ms' });
    expect(next.id).not.toBe(id);
    expect(next.debounce.creates).toBe(1);
    expect((await finishedJob(next.id)).result?.tag).toBe('seq-next');
    expect((await jobsOfBurst('seq')).sort()).toEqual([id, next.id].sort());
  });

  it('with Temporal unreachable a debounced create is a 503 temporal-unavailable with Retry-After, without waiting out the update timeout, that starts nothing; sent again, it opens the burst', async () => {
    // An API process on the same database whose Temporal is not there (nothing listens on the port).
    const unreachable = new Client({ connection: Connection.lazy({ address: '127.0.0.1:1' }), namespace: stack.config.temporalNamespace });
    const downApp = createApp({ config: stack.config, db: stack.db, client: unreachable, log: createLogger('down', 'silent') });
    const body = JSON.stringify({ type: 'noop', input: { tag: 'after-outage' }, labels: ['burst=down'], debounce: { key: 'down', delay: '300ms' } });
    const sentAt = Date.now();
    const refused = await downApp.request('/v1/jobs', { method: 'POST', headers: { authorization: `Bearer ${stack.keys.submitter}`, 'content-type': 'application/json' }, body });
    // Not after the update's message timeout (30 s): the health probe answers first (its calls 1.5 s at most; this
    // process's first connection attempt comes on top).
    expect(Date.now() - sentAt).toBeLessThan(10_000);
    expect(refused.headers.get('retry-after')).toBeTruthy();
    await expectProblem(refused, 503, 'temporal-unavailable');
    expect(await debouncerExists(stack.tenantId, 'down')).toBe(false);
    expect(await jobsOfBurst('down')).toEqual([]);
    // Refused before anything was attempted: no record of a change.
    const audit = () => stack.db.select().from(auditEvents).where(and(eq(auditEvents.tenantId, stack.tenantId), eq(auditEvents.action, 'job.debounce'), eq(auditEvents.target, 'down')));
    expect(await audit()).toEqual([]);

    // The same create through a process that reaches Temporal: the burst starts with it, counted once.
    const answer = await debounced('down', 'after-outage', { delay: '300ms' });
    expect(answer.debounce.creates).toBe(1);
    expect((await finishedJob(answer.id)).result?.tag).toBe('after-outage');
    expect(await jobsOfBurst('down')).toEqual([answer.id]);
    expect((await audit()).map((a) => a.outcome)).toEqual(['succeeded']);
  }, 60_000);

  it('50 concurrent creates with one key make exactly one job', async () => {
    const answers = await Promise.all(Array.from({ length: 50 }, (_, i) => debounced('c50', `c50-${i}`, { delay: '2s' })));
    const ids = new Set(answers.map((a) => a.id));
    expect(ids.size).toBe(1);
    // Each create was counted once: the counts are 1..50 in some order.
    expect(answers.map((a) => a.debounce.creates).sort((a, b) => a - b)).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
    const [id] = [...ids];
    const job = await finishedJob(id!);
    // The latest input is the one the 50th accepted create carried.
    const last = answers.find((a) => a.debounce.creates === 50)!;
    expect(job.result?.tag).toBe(`c50-${answers.indexOf(last)}`);
    expect(await jobsOfBurst('c50')).toEqual([id]);
  });

  it('maxWait starts the job although creates keep coming; later creates open the next burst', async () => {
    const answers: Debounced[] = [];
    const started = Date.now();
    while (Date.now() - started < 3500) {
      answers.push(await debounced('never-quiet', `nq-${answers.length}`, { delay: '1s', maxWait: '1500ms' }));
      await sleep(250);
    }
    const ids = [...new Set(answers.map((a) => a.id))];
    expect(ids.length).toBeGreaterThanOrEqual(2);
    for (const id of ids) await finishedJob(id);
    expect((await jobsOfBurst('never-quiet')).sort()).toEqual([...ids].sort());
  });

  it('an Idempotency-Key repeated within the burst counts once', async () => {
    const first = await debounced('idem', 'idem-a', { delay: '1s' }, { 'idempotency-key': 'debounce-idem-1' });
    const again = await debounced('idem', 'idem-a', { delay: '1s' }, { 'idempotency-key': 'debounce-idem-1' });
    expect(again).toMatchObject({ id: first.id, debounce: { creates: 1 } });
    await finishedJob(first.id);
  });

  it('the typed client makes debounced creates', async () => {
    const client = new JobplaneClient({ baseUrl: stack.apiUrl, apiKey: stack.keys.submitter });
    const first = await client.createDebouncedJob({ type: 'noop', input: { tag: 'client-1' }, debounce: { key: 'client', delay: '500ms' } });
    const second = await client.createDebouncedJob({ type: 'noop', input: { tag: 'client-2' }, debounce: { key: 'client', delay: '500ms' } });
    expect(second).toMatchObject({ id: first.id, status: 'debouncing', debounce: { creates: 2 } });
    expect((await client.waitForResult(await waitStarted(client, first.id))).result).toEqual({ ok: true, tag: 'client-2' });
  });

  it('keys are per tenant', async () => {
    const mine = await debounced('shared-key', 'mine', { delay: '500ms' });
    const res = await other.asOther('/v1/jobs', { method: 'POST', body: JSON.stringify({ type: 'noop', input: { tag: 'theirs' }, debounce: { key: 'shared-key', delay: '500ms' } }) });
    expect(res.status).toBe(202);
    const theirs = (await res.json()) as Debounced;
    expect(theirs.id).not.toBe(mine.id);
    expect(theirs.debounce.creates).toBe(1);
    expect((await finishedJob(mine.id)).result?.tag).toBe('mine');
    expect((await stack.api(`/v1/jobs/${theirs.id}`, { role: 'viewer' })).status).toBe(404);
  });

  it('bad requests are 400 naming the field and start no debouncer', async () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ type: 'noop', input: { tag: 1 }, debounce: { key: 'bad-input', delay: '1s' } }, 'input.tag'],
      [{ type: 'noop', input: {}, debounce: { key: 'bad-delay', delay: '0s' } }, 'debounce.delay'],
      [{ type: 'noop', input: {}, debounce: { key: 'bad-delay2', delay: '2d' } }, 'debounce.delay'],
      [{ type: 'noop', input: {}, debounce: { key: 'has space', delay: '1s' } }, 'debounce.key'],
      [{ type: 'noop', input: {}, debounce: { key: 'with-dedupe', delay: '1s' }, dedupe: { key: 'x', window: '1m' } }, 'debounce'],
      [{ type: 'noop', input: {}, debounce: { key: 'with-delay', delay: '1s' }, delay: '5s' }, 'debounce'],
      [{ type: 'nope', input: {}, debounce: { key: 'bad-type', delay: '1s' } }, 'type'],
    ];
    for (const [body, path] of cases) {
      const problem = await expectProblem(await stack.api('/v1/jobs', { method: 'POST', role: 'submitter', body: JSON.stringify(body) }), 400, 'validation-error');
      expect(problem.errors!.map((e) => e.path), JSON.stringify(body)).toContain(path);
      const key = (body.debounce as { key: string }).key;
      expect(await debouncerExists(stack.tenantId, key)).toBe(false);
    }
    await expectProblem(
      await stack.api('/v1/jobs', { method: 'POST', role: 'viewer', body: JSON.stringify({ type: 'noop', input: {}, debounce: { key: 'as-viewer', delay: '1s' } }) }),
      403,
      'forbidden',
    );
    expect(await debouncerExists(stack.tenantId, 'as-viewer')).toBe(false);
  });
});
