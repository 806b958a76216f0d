/**
 * An effect and its audit record never diverge. For every state-changing
 * route, Postgres is made to fail (as a server going away does) at the audit
 * write, and the outcome is checked against what actually happened:
 *
 * - before the effect (the record cannot be written): the request answers
 *   503 and nothing changed — no workflow signalled, cancelled, reset or
 *   terminated, no schedule touched, no row written;
 * - after the effect (a change outside Postgres is done, its record cannot be
 *   settled): the effect is there and so is its record, `pending`;
 * - a change inside Postgres writes its record in its own transaction: the
 *   failed record takes the change with it.
 *
 * Creates: a start whose claim cannot be marked leaves a claim the sweeper
 * settles, so the job and its `job.create` record end up existing once.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { and, eq, getTableName, sql, type SQL } from 'drizzle-orm';
import { PgDialect } from 'drizzle-orm/pg-core';
import { createApp } from '../../api/app.ts';
import { sweepJobClaims } from '../../api/jobs/claims.ts';
import type { Db } from '../../db/client.ts';
import { apiKeys, auditEvents, jobs, tenants, webhookSubscriptions } from '../../db/schema/index.ts';
import { createLogger } from '../../runtime/logger.ts';
import { startTestStack, waitForJob, type TestStack } from '../helpers/stack.ts';
import { createJob } from '../helpers/http.ts';

let stack: TestStack;

beforeAll(async () => {
  stack = await startTestStack('audit-integrity');
  await stack.startWorkers();
});
afterAll(async () => {
  await stack?.close();
});

type Table = typeof auditEvents | typeof jobs;

/** The error a driver raises when the server went away (mapped to 503 database-unavailable). */
function serverGone(): Error {
  return Object.assign(new Error('injected: terminating connection due to administrator command'), { code: '57P01' });
}

/**
 * The stack's database with a fault switch: while armed, writes of `op` to
 * `table` fail as they would with the server gone, inside transactions too.
 */
const dialect = new PgDialect();

function faultyDb(db: Db) {
  const fault: { op?: 'insert' | 'update'; table?: Table } = {};
  const wrap = <T extends object>(target: T): T =>
    new Proxy(target, {
      get(t, prop, receiver) {
        const value = Reflect.get(t, prop, receiver) as unknown;
        if ((prop === 'insert' || prop === 'update') && typeof value === 'function') {
          return (table: Table) => {
            if (fault.op === prop && fault.table === table) throw serverGone();
            return (value as (table: Table) => unknown).call(t, table);
          };
        }
        // A change and its audit record in one statement (db/audit.ts auditFromCte) fail as the insert would.
        if (prop === 'execute' && typeof value === 'function') {
          return (query: SQL) => {
            const statement = fault.op === 'insert' ? 'insert into' : 'update';
            if (fault.op && fault.table && dialect.sqlToQuery(query).sql.includes(`${statement} "${getTableName(fault.table)}"`)) throw serverGone();
            return (value as (q: SQL) => unknown).call(t, query);
          };
        }
        if (prop === 'transaction' && typeof value === 'function') {
          return (fn: (tx: object) => Promise<unknown>, ...rest: unknown[]) => (value as (...a: unknown[]) => unknown).call(t, (tx: object) => fn(wrap(tx)), ...rest);
        }
        return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(t) : value;
      },
    });
  return { db: wrap(db), fault };
}

async function request(app: ReturnType<typeof createApp>, method: string, path: string, body?: unknown, role: 'admin' | 'operator' | 'submitter' = 'admin') {
  const res = await app.request(path, {
    method,
    headers: { authorization: `Bearer ${stack.keys[role]}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  return { status: res.status, body: (await res.json().catch(() => ({}))) as Record<string, unknown> };
}

const approval = () => createJob(stack, { type: 'approval.request', input: { subject: 'audit integrity', approvers: ['a@example.com'] } });

async function records(action: string, target: string) {
  return await stack.db
    .select({ outcome: auditEvents.outcome })
    .from(auditEvents)
    .where(and(eq(auditEvents.action, action), eq(auditEvents.target, target)));
}

const statusOf = async (workflowId: string) => (await stack.client.workflow.getHandle(workflowId).describe()).status.name;

interface TemporalCase {
  name: string;
  action: string;
  /** Makes the thing to act on; returns its id (job or schedule) and workflow id. */
  setup(): Promise<{ id: string; workflowId: string }>;
  send(app: ReturnType<typeof createApp>, id: string): Promise<{ status: number }>;
  /** Whether the effect took place. */
  happened(subject: { id: string; workflowId: string }): Promise<boolean>;
}

const comments = async (workflowId: string) => ((await stack.client.workflow.getHandle(workflowId).query('status')) as { comments: unknown[] }).comments.length;

const temporalCases: TemporalCase[] = [
  {
    name: 'cancel',
    action: 'job.cancel',
    setup: approval,
    send: (app, id) => request(app, 'POST', `/v1/jobs/${id}/cancel`, undefined, 'submitter'),
    happened: async (s) => (await statusOf(s.workflowId)) === 'CANCELLED',
  },
  {
    name: 'signal',
    action: 'job.signal.comment',
    setup: approval,
    send: (app, id) => request(app, 'POST', `/v1/jobs/${id}/signals/comment`, { by: 'a@example.com', text: 'noted' }, 'submitter'),
    happened: async (s) => (await comments(s.workflowId)) > 0,
  },
  {
    name: 'update',
    action: 'job.update.approve',
    setup: approval,
    send: (app, id) => request(app, 'POST', `/v1/jobs/${id}/updates/approve`, { by: 'a@example.com' }, 'submitter'),
    happened: async (s) => (await statusOf(s.workflowId)) === 'COMPLETED',
  },
  {
    name: 'terminate',
    action: 'job.terminate',
    setup: approval,
    send: (app, id) => request(app, 'POST', `/v1/jobs/${id}/terminate`, { reason: 'audit integrity' }, 'operator'),
    happened: async (s) => (await statusOf(s.workflowId)) === 'TERMINATED',
  },
  {
    name: 'reset',
    action: 'job.reset',
    setup: approval,
    send: (app, id) => request(app, 'POST', `/v1/jobs/${id}/reset`, { reason: 'audit integrity', to: 'first-workflow-task' }, 'operator'),
    happened: async (s) => {
      const desc = await stack.client.workflow.getHandle(s.workflowId).describe();
      return desc.runId !== desc.raw.workflowExecutionInfo?.firstRunId;
    },
  },
  {
    name: 'schedule pause',
    action: 'schedule.pause',
    setup: async () => {
      const res = await stack.api('/v1/schedules', { method: 'POST', role: 'submitter', body: JSON.stringify({ type: 'noop', input: {}, interval: '1h' }) });
      expect(res.status).toBe(201);
      const { id } = (await res.json()) as { id: string };
      return { id, workflowId: '' };
    },
    send: (app, id) => request(app, 'POST', `/v1/schedules/${id}/pause`, {}, 'submitter'),
    happened: async (s) => ((await (await stack.api(`/v1/schedules/${s.id}`, { role: 'viewer' })).json()) as { paused: boolean }).paused,
  },
  {
    name: 'schedule delete',
    action: 'schedule.delete',
    setup: async () => {
      const res = await stack.api('/v1/schedules', { method: 'POST', role: 'submitter', body: JSON.stringify({ type: 'noop', input: {}, interval: '1h', paused: true }) });
      const { id } = (await res.json()) as { id: string };
      return { id, workflowId: '' };
    },
    send: (app, id) => request(app, 'DELETE', `/v1/schedules/${id}`, undefined, 'submitter'),
    happened: async (s) => (await stack.api(`/v1/schedules/${s.id}`, { role: 'viewer' })).status === 404,
  },
];

describe('changes made in Temporal', () => {
  for (const c of temporalCases) {
    it(`${c.name}: the record cannot be written → 503, nothing done; the record cannot be settled → done, recorded as pending`, async () => {
      const { db, fault } = faultyDb(stack.db);
      const app = createApp({ config: stack.config, db, client: stack.client, log: createLogger('audit-integrity', 'silent') });

      const before = await c.setup();
      fault.op = 'insert';
      fault.table = auditEvents;
      const refused = await c.send(app, before.id);
      fault.op = undefined;
      expect(refused.status).toBe(503);
      // Had the effect been sent, it would show by now.
      await new Promise((r) => setTimeout(r, 500));
      expect(await c.happened(before)).toBe(false);
      expect(await records(c.action, before.id)).toEqual([]);

      const after = await c.setup();
      fault.op = 'update';
      fault.table = auditEvents;
      const done = await c.send(app, after.id);
      fault.op = undefined;
      expect(done.status).toBeLessThan(300);
      await expect.poll(() => c.happened(after), { timeout: 10_000 }).toBe(true);
      expect(await records(c.action, after.id)).toEqual([{ outcome: 'pending' }]);

      // And with Postgres well, the record says succeeded.
      const normal = await c.setup();
      expect((await c.send(app, normal.id)).status).toBeLessThan(300);
      expect(await records(c.action, normal.id)).toEqual([{ outcome: 'succeeded' }]);
    });
  }
});

describe('changes made in Postgres', () => {
  const cases: { name: string; send(app: ReturnType<typeof createApp>): Promise<{ status: number; body: Record<string, unknown> }>; count(): Promise<number> }[] = [
    {
      name: 'API key created',
      send: (app) => request(app, 'POST', `/v1/tenants/${stack.tenantId}/api-keys`, { name: 'integrity', role: 'viewer' }),
      count: async () => (await stack.db.select().from(apiKeys).where(eq(apiKeys.tenantId, stack.tenantId))).length,
    },
    {
      name: 'retention set',
      send: (app) => request(app, 'PUT', `/v1/tenants/${stack.tenantId}/retention`, { days: 12 }),
      count: async () => ((await stack.db.select().from(tenants).where(eq(tenants.id, stack.tenantId)))[0]!.documentRetentionDays === 12 ? 1 : 0),
    },
    {
      name: 'webhook subscription created',
      // A public address, not a name: the SSRF check resolves names, and CI may have no DNS.
      send: (app) => request(app, 'POST', '/v1/webhook-subscriptions', { url: 'https://93.184.215.14/integrity', events: ['document.ingested'] }),
      count: async () => (await stack.db.select().from(webhookSubscriptions).where(eq(webhookSubscriptions.tenantId, stack.tenantId))).length,
    },
  ];
  for (const c of cases) {
    it(`${c.name}: the record cannot be written → 503 and the change is not there either`, async () => {
      const { db, fault } = faultyDb(stack.db);
      const app = createApp({ config: stack.config, db, client: stack.client, log: createLogger('audit-integrity', 'silent') });
      const before = await c.count();
      fault.op = 'insert';
      fault.table = auditEvents;
      const refused = await c.send(app);
      fault.op = undefined;
      expect(refused.status).toBe(503);
      expect(await c.count()).toBe(before);
    });
  }
});

describe('creates', () => {
  it('the claim cannot be written → 503, no workflow; the start cannot be recorded → the sweeper adopts it, audited once', async () => {
    const { db, fault } = faultyDb(stack.db);
    const app = createApp({ config: stack.config, db, client: stack.client, log: createLogger('audit-integrity', 'silent') });
    const send = (key: string) =>
      app.request('/v1/jobs', {
        method: 'POST',
        headers: { authorization: `Bearer ${stack.keys.submitter}`, 'content-type': 'application/json', 'idempotency-key': key },
        body: JSON.stringify({ type: 'noop', input: {} }),
      });
    const workflows = async () => (await stack.client.workflow.count(`TenantId = "${stack.tenantId}" AND JobType = "noop"`)).count;

    const before = await workflows();
    fault.op = 'insert';
    fault.table = jobs;
    expect((await send('integrity-claim')).status).toBe(503);
    fault.op = undefined;
    await new Promise((r) => setTimeout(r, 1000));
    expect(await workflows()).toBe(before);

    // The workflow starts, then the transaction that records it (with its audit) fails.
    fault.op = 'insert';
    fault.table = auditEvents;
    expect((await send('integrity-start')).status).toBe(503);
    fault.op = undefined;
    const [claim] = await stack.db.select().from(jobs).where(and(eq(jobs.tenantId, stack.tenantId), eq(jobs.idempotencyKey, 'integrity-start')));
    expect(claim!.firstRunId).toBeNull();
    const swept = await sweepJobClaims({ db: stack.db, client: stack.client, config: stack.config }, { olderThanMs: 0 });
    expect(swept.adopted).toBeGreaterThanOrEqual(1);
    const [adopted] = await stack.db.select().from(jobs).where(eq(jobs.id, claim!.id));
    expect(adopted!.firstRunId).not.toBeNull();
    const created = await stack.db.select({ outcome: auditEvents.outcome, detail: auditEvents.detail }).from(auditEvents).where(and(eq(auditEvents.action, 'job.create'), eq(auditEvents.target, claim!.id)));
    expect(created).toEqual([{ outcome: 'succeeded', detail: expect.objectContaining({ adopted: true }) }]);
    expect((await waitForJob(stack, claim!.id)).status).toBe('succeeded');
  });

  it('a keyed claim whose workflow never started waits for its retry, and is dropped after the keyed-claim time', async () => {
    const id = `job_${'0'.repeat(20)}${Date.now().toString(36).slice(-6)}`;
    await stack.db.insert(jobs).values({ id, tenantId: stack.tenantId, type: 'noop', idempotencyKey: `stranded-${id}`, requestHash: 'x', workflowId: `${stack.tenantId}:${id}` });
    await sweepJobClaims({ db: stack.db, client: stack.client, config: stack.config }, { olderThanMs: 0 });
    expect((await stack.db.select().from(jobs).where(eq(jobs.id, id))).length, 'kept for a retry of its key').toBe(1);
    const swept = await sweepJobClaims({ db: stack.db, client: stack.client, config: stack.config }, { olderThanMs: 0, keyedClaimTtlMs: 0 });
    expect(swept.deleted).toBeGreaterThanOrEqual(1);
    expect((await stack.db.select().from(jobs).where(eq(jobs.id, id))).length).toBe(0);
  });

  it('a keyless create whose start cannot be recorded: the sweeper terminates the run no caller can refer to, and records it', async () => {
    const { db, fault } = faultyDb(stack.db);
    const app = createApp({ config: stack.config, db, client: stack.client, log: createLogger('audit-integrity', 'silent') });
    fault.op = 'insert';
    fault.table = auditEvents;
    const res = await app.request('/v1/jobs', {
      method: 'POST',
      headers: { authorization: `Bearer ${stack.keys.submitter}`, 'content-type': 'application/json' },
      body: JSON.stringify({ type: 'approval.request', input: { subject: 'keyless' } }),
    });
    fault.op = undefined;
    expect(res.status).toBe(503);
    const [claim] = await stack.db
      .select()
      .from(jobs)
      .where(and(eq(jobs.tenantId, stack.tenantId), sql`${jobs.idempotencyKey} is null`, sql`${jobs.firstRunId} is null`));
    expect(claim).toBeDefined();
    expect(await statusOf(claim!.workflowId)).toBe('RUNNING');
    const swept = await sweepJobClaims({ db: stack.db, client: stack.client, config: stack.config }, { olderThanMs: 0 });
    expect(swept.terminated).toBeGreaterThanOrEqual(1);
    expect(await statusOf(claim!.workflowId)).toBe('TERMINATED');
    expect((await stack.db.select().from(jobs).where(eq(jobs.id, claim!.id))).length).toBe(0);
    expect(await records('job.abandoned', claim!.id)).toEqual([{ outcome: 'succeeded' }]);
  });
});
