/**
 * Job-end events on the real dev server and Postgres: a job's `callbackUrl`
 * and the tenant's filtered subscriptions receive one signed
 * `webhook.deliver` per ended job — succeeded, failed, cancelled through the
 * API, terminated straight through Temporal — observed by the workers'
 * job-end watcher in Temporal visibility, never from workflow code. Handling
 * a window again (a reset cursor, a second emitter, a second watcher) sends
 * nothing twice, and the deliveries themselves are never announced.
 */
import '../fixtures/quiet-runtime.ts';
import { createHmac } from 'node:crypto';
import { NativeConnection } from '@temporalio/worker';
import { and, eq, sql } from 'drizzle-orm';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, inject, it, vi } from 'vitest';
import { auditEvents, jobEventCursors, jobs } from '../../db/schema/index.ts';
import { createLogger } from '../../runtime/logger.ts';
import { temporalConnectionOptions } from '../../runtime/temporal.ts';
import { connectListingClient } from '../../workers/job-events/closed-runs.ts';
import { startJobEventWatcher } from '../../workers/job-events/start.ts';
import { createJobEventWatcher, type JobEventWatcher } from '../../workers/job-events/watcher.ts';
import { createLeaderLock } from '../../workers/job-events/leader-lock.ts';
import { startJobWorkflow } from '../../domain/jobs/start.ts';
import { Client } from '@temporalio/client';
import { clientDataConverter, codecFrom } from '../../runtime/temporal.ts';
import { startReceiver, type ReceivedRequest, type Receiver } from '../helpers/receiver.ts';
import { watcherCaughtUp as caughtUp } from '../helpers/job-events.ts';
import { startTestStack, testSigningSecret, waitForJob, type TestStack } from '../helpers/stack.ts';

type Json = Record<string, unknown>;
const run = promisify(execFile);
let stack: TestStack;
let receiver: Receiver;
let connection: NativeConnection;
let watcher: JobEventWatcher;
const log = createLogger('job-events-test', 'error');

beforeAll(async () => {
  stack = await startTestStack('job-events', { env: { JOBPLANE_JOB_EVENTS_INTERVAL_MS: '250', JOBPLANE_JOB_EVENTS_OVERLAP_MS: '5000' } });
  receiver = await startReceiver(() => ({ status: 200 }));
  await stack.startWorkers();
  connection = await NativeConnection.connect(temporalConnectionOptions(stack.config));
  watcher = await startJobEventWatcher({ config: stack.config, databaseUrl: stack.env.DATABASE_URL!, db: stack.db, connection, log });
});
afterAll(async () => {
  await watcher?.stop();
  await connection?.close();
  await receiver?.close();
  await stack?.close();
});

const post = (path: string, body: unknown, headers: Record<string, string> = {}, role: 'admin' | 'submitter' = 'submitter') =>
  stack.api(path, { method: 'POST', role, headers, body: JSON.stringify(body) });

async function createJob(body: Json): Promise<string> {
  const res = await post('/v1/jobs', body);
  expect(res.status, await res.clone().text()).toBe(201);
  return String(((await res.json()) as Json).id);
}

/** The events about `jobId` the receiver got (every receiver shares it; the delivery job's labels tell them apart). */
const eventsFor = (jobId: string) => receiver.requests.filter((r) => (JSON.parse(r.body) as Json).jobId === jobId);
/** An endpoint on the receiver (the path names it for whoever reads a failure). */
const endpoint = (name: string) => `${receiver.url}/${name}`;

/** Waits until the watcher has handled every run that closed up to now. */
const watcherCaughtUp = () => caughtUp(stack);

async function deliveryJobsOf(jobId: string) {
  return await stack.db.select().from(jobs).where(and(eq(jobs.tenantId, stack.tenantId), sql`${`job=${jobId}`} = any(${jobs.labels})`));
}

function expectSigned(r: ReceivedRequest): void {
  const sig = String(r.headers['jobplane-signature']);
  const [, t, v1] = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(sig)!;
  expect(createHmac('sha256', testSigningSecret).update(`${t}.${r.body}`).digest('hex')).toBe(v1);
}

const allEvents = ['job.succeeded', 'job.failed', 'job.cancelled', 'job.terminated', 'job.timed_out'];
let filteredSub = '';
let everythingSub = '';

describe('subscriptions to job events and callbackUrl at create', () => {
  it('filters are validated, listed and audited; a blocked callbackUrl is a 400 that writes nothing; another callbackUrl under the same key is a 409', async () => {
    const unknownType = await post('/v1/webhook-subscriptions', { url: endpoint('x'), events: ['job.succeeded'], jobTypes: ['order.ship'] }, {}, 'admin');
    expect(unknownType.status).toBe(400);
    expect(unknownType.headers.get('content-type')).toContain('application/problem+json');
    expect(((await unknownType.json()) as { errors: { path: string }[] }).errors.map((e) => e.path)).toContain('jobTypes.0');
    const filterWithoutJobEvent = await post('/v1/webhook-subscriptions', { url: endpoint('x'), events: ['document.ingested'], labels: ['team=payments'] }, {}, 'admin');
    expect(filterWithoutJobEvent.status).toBe(400);
    expect(((await filterWithoutJobEvent.json()) as { errors: { path: string }[] }).errors[0]!.path).toBe('events');
    const badLabel = await post('/v1/webhook-subscriptions', { url: endpoint('x'), events: ['job.failed'], labels: ['team payments'] }, {}, 'admin');
    expect(badLabel.status).toBe(400);

    const filtered = await post(
      '/v1/webhook-subscriptions',
      { url: endpoint('filtered'), events: ['job.succeeded', 'job.failed'], jobTypes: ['noop'], labels: ['team=payments', 'tier=gold'] },
      {},
      'admin',
    );
    expect(filtered.status).toBe(201);
    filteredSub = String(((await filtered.json()) as Json).id);
    const everything = await post('/v1/webhook-subscriptions', { url: endpoint('everything'), events: allEvents }, {}, 'admin');
    everythingSub = String(((await everything.json()) as Json).id);
    const list = (await (await stack.api('/v1/webhook-subscriptions', { role: 'admin' })).json()) as { items: Json[] };
    expect(list.items.find((s) => s.id === filteredSub)).toMatchObject({ events: ['job.succeeded', 'job.failed'], jobTypes: ['noop'], labels: ['team=payments', 'tier=gold'] });
    expect(list.items.find((s) => s.id === everythingSub)).toMatchObject({ jobTypes: [], labels: [] });
    const [audit] = await stack.db.select().from(auditEvents).where(eq(auditEvents.target, filteredSub));
    expect(audit).toMatchObject({ action: 'webhook-subscription.create', outcome: 'succeeded', detail: { jobTypes: ['noop'], labels: ['team=payments', 'tier=gold'] } });

    const rowsBefore = (await stack.db.select().from(jobs).where(eq(jobs.tenantId, stack.tenantId))).length;
    const blocked = await post('/v1/jobs', { type: 'noop', input: {}, callbackUrl: 'http://10.20.30.40/done' }, { 'idempotency-key': 'blocked-cb' });
    expect(blocked.status).toBe(400);
    expect(((await blocked.json()) as { errors: { path: string; message: string }[] }).errors[0]).toMatchObject({ path: 'callbackUrl', message: expect.stringContaining('10.20.30.40') });
    expect((await post('/v1/jobs', { type: 'noop', input: {}, callbackUrl: 'ftp://example.com/x' })).status).toBe(400);
    expect((await stack.db.select().from(jobs).where(eq(jobs.tenantId, stack.tenantId))).length).toBe(rowsBefore);

    const first = await post('/v1/jobs', { type: 'noop', input: { tag: 'replay' }, callbackUrl: endpoint('replay-a') }, { 'idempotency-key': 'cb-replay' });
    expect(first.status).toBe(201);
    const job = (await first.json()) as Json;
    expect(job.callbackUrl).toBe(endpoint('replay-a'));
    const same = await post('/v1/jobs', { type: 'noop', input: { tag: 'replay' }, callbackUrl: endpoint('replay-a') }, { 'idempotency-key': 'cb-replay' });
    expect(same.status).toBe(200);
    const other = await post('/v1/jobs', { type: 'noop', input: { tag: 'replay' }, callbackUrl: endpoint('replay-b') }, { 'idempotency-key': 'cb-replay' });
    expect(other.status).toBe(409);
    expect(((await other.json()) as Json).type).toContain('idempotency-key-reused');
    expect(((await (await stack.api(`/v1/jobs/${String(job.id)}`, { role: 'viewer' })).json()) as Json).callbackUrl).toBe(endpoint('replay-a'));
  });
});

describe('job-end events', () => {
  const ids: Record<string, string> = {};

  it('a job with a callbackUrl that succeeds: exactly one signed job.succeeded to that URL, as a labelled delivery job', async () => {
    ids.succeeded = await createJob({ type: 'noop', input: { tag: 'cb' }, labels: ['team=payments', 'tier=gold'], callbackUrl: endpoint('callback') });
    await waitForJob(stack, ids.succeeded, ['succeeded']);
    await vi.waitFor(() => expect(eventsFor(ids.succeeded!).length).toBeGreaterThanOrEqual(3), { timeout: 20_000, interval: 100 });
    const [delivery] = (await deliveryJobsOf(ids.succeeded)).filter((j) => j.labels.includes('callback=url'));
    expect(delivery!.labels).toEqual(['event=job.succeeded', `job=${ids.succeeded}`, 'callback=url']);
    expect(await waitForJob(stack, delivery!.id, ['succeeded'])).toMatchObject({ type: 'webhook.deliver' });

    const toCallback = receiver.requests.filter((r) => r.headers['idempotency-key'] === delivery!.id);
    expect(toCallback).toHaveLength(1);
    const r = toCallback[0]!;
    expectSigned(r);
    expect(r.headers['jobplane-event-type']).toBe('job.succeeded');
    expect(JSON.parse(r.body)).toEqual({
      type: 'job.succeeded',
      jobId: ids.succeeded,
      tenantId: stack.tenantId,
      jobType: 'noop',
      status: 'succeeded',
      labels: ['team=payments', 'tier=gold'],
      closedAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
      links: { self: `${stack.apiUrl}/v1/jobs/${ids.succeeded}` },
    });
    // The same job matched the filtered subscription (noop, both labels) and the unfiltered one: three deliveries, no more.
    await watcherCaughtUp();
    expect((await deliveryJobsOf(ids.succeeded)).map((j) => j.labels[2]).sort()).toEqual(['callback=url', `subscription=${everythingSub}`, `subscription=${filteredSub}`].sort());
    expect(eventsFor(ids.succeeded)).toHaveLength(3);
  });

  it('a subscription filtered by job type and labels receives only the matching jobs’ events', async () => {
    const matching = await createJob({ type: 'noop', input: { fail: true }, labels: ['tier=gold', 'team=payments', 'extra'] });
    const oneLabel = await createJob({ type: 'noop', input: {}, labels: ['team=payments'] });
    const otherType = await createJob({ type: 'webhook.deliver', input: { url: endpoint('plain'), payload: { n: 1 } }, labels: ['team=payments', 'tier=gold'] });
    for (const id of [matching, oneLabel, otherType]) await waitForJob(stack, id);
    await watcherCaughtUp();
    const subOf = (id: string) => deliveryJobsOf(id).then((rows) => rows.map((j) => j.labels[2]).sort());
    expect(await subOf(matching)).toEqual([`subscription=${everythingSub}`, `subscription=${filteredSub}`].sort());
    expect(await subOf(oneLabel)).toEqual([`subscription=${everythingSub}`]);
    expect(await subOf(otherType)).toEqual([`subscription=${everythingSub}`]);
    await vi.waitFor(() => expect(eventsFor(matching)).toHaveLength(2), { timeout: 20_000, interval: 100 });
    expect(eventsFor(matching).map((r) => r.headers['jobplane-event-type'])).toEqual(['job.failed', 'job.failed']);
    expect(JSON.parse(eventsFor(matching)[0]!.body)).toMatchObject({ type: 'job.failed', status: 'failed' });
    ids.failed = matching;
    ids.plainWebhook = otherType;
  });

  it('a job terminated through Temporal → job.terminated; a job cancelled through the API → job.cancelled', async () => {
    const terminated = await createJob({ type: 'noop', input: { sleepMs: 30_000 }, callbackUrl: endpoint('callback') });
    const cancelled = await createJob({ type: 'noop', input: { sleepMs: 30_000 }, callbackUrl: endpoint('callback') });
    await waitForJob(stack, terminated, ['running']);
    await waitForJob(stack, cancelled, ['running']);
    await stack.client.workflow.getHandle(`${stack.tenantId}:${terminated}`).terminate('job-events test: straight through Temporal');
    expect((await stack.api(`/v1/jobs/${cancelled}/cancel`, { method: 'POST', role: 'submitter' })).status).toBe(202);
    await waitForJob(stack, terminated, ['terminated']);
    await waitForJob(stack, cancelled, ['cancelled']);
    await vi.waitFor(
      () => {
        expect(eventsFor(terminated).map((r) => r.headers['jobplane-event-type'])).toEqual(['job.terminated', 'job.terminated']);
        expect(eventsFor(cancelled).map((r) => r.headers['jobplane-event-type'])).toEqual(['job.cancelled', 'job.cancelled']);
      },
      { timeout: 20_000, interval: 100 },
    );
    expect(JSON.parse(eventsFor(terminated)[0]!.body)).toMatchObject({ status: 'terminated', jobId: terminated });
    ids.terminated = terminated;
    ids.cancelled = cancelled;
  });

  it('a reset of a running job (temporal CLI) terminates a run but does not end the job: no job.terminated', async () => {
    const id = await createJob({ type: 'noop', input: { sleepMs: 30_000 }, callbackUrl: endpoint('callback') });
    await waitForJob(stack, id, ['running']);
    const workflowId = `${stack.tenantId}:${id}`;
    const firstRun = (await stack.client.workflow.getHandle(workflowId).describe()).runId;
    await run(inject('temporalCli'), ['workflow', 'reset', '-w', workflowId, '--type', 'FirstWorkflowTask', '--reason', 'job-events test', '--address', stack.temporal.address], {
      timeout: 30_000,
    });
    const old = await stack.client.workflow.getHandle(workflowId, firstRun).describe();
    expect(old.status.name).toBe('TERMINATED');
    await waitForJob(stack, id, ['running']);
    // Seen by the watcher while the new run is still going: nothing to announce.
    await watcherCaughtUp();
    expect(eventsFor(id)).toEqual([]);
    expect((await stack.api(`/v1/jobs/${id}/cancel`, { method: 'POST', role: 'submitter' })).status).toBe(202);
    await waitForJob(stack, id, ['cancelled']);
    await vi.waitFor(() => expect(eventsFor(id)).toHaveLength(2), { timeout: 20_000, interval: 100 });
    await watcherCaughtUp();
    expect(eventsFor(id).map((r) => r.headers['jobplane-event-type'])).toEqual(['job.cancelled', 'job.cancelled']);
    ids.reset = id;
  });

  it('handling the same closed runs again — a reset cursor, a second emitter without the lock, a second watcher — sends nothing twice', async () => {
    await watcherCaughtUp();
    const deliveriesBefore = (await stack.db.select().from(jobs).where(and(eq(jobs.tenantId, stack.tenantId), eq(jobs.type, 'webhook.deliver')))).length;
    const requestsBefore = receiver.requests.length;

    // A second watcher with its own lock connection stands by while the first holds the lock.
    const listingClient = await connectListingClient(stack.config);
    const client = new Client({ connection, namespace: stack.config.temporalNamespace, dataConverter: clientDataConverter(codecFrom(stack.config)) });
    const second = createJobEventWatcher({
      config: stack.config,
      db: stack.db,
      listingClient,
      client,
      startJob: (contract, row, input) => startJobWorkflow({ client, config: stack.config }, contract, row, input),
      lock: createLeaderLock(stack.env.DATABASE_URL!, stack.config.temporalNamespace),
      log,
    });
    expect(await second.tick()).toEqual({ state: 'standby' });
    // An emitter that thinks it holds the lock (a lock lost mid-tick) re-handles the window at the same time as the watcher.
    const rogue = createJobEventWatcher({
      config: { ...stack.config, jobEventsOverlapMs: 10 * 60_000, jobEventsMaxWindowMs: 60 * 60_000 },
      db: stack.db,
      listingClient,
      client,
      startJob: (contract, row, input) => startJobWorkflow({ client, config: stack.config }, contract, row, input),
      lock: { held: async () => true, close: async () => {} },
      log,
    });
    // The cursor set back over every run of this file: the watcher handles all of them again.
    await stack.db.update(jobEventCursors).set({ handledUntil: new Date(Date.now() - 10 * 60_000) }).where(eq(jobEventCursors.namespace, stack.config.temporalNamespace));
    const [rogueTick] = await Promise.all([rogue.tick(), watcherCaughtUp()]);
    expect(rogueTick).toMatchObject({ state: 'handled', emitted: 0 });
    expect((rogueTick as { runs: number }).runs).toBeGreaterThanOrEqual(10);
    expect(await rogue.tick()).toMatchObject({ state: 'handled', emitted: 0 });
    await new Promise((r) => setTimeout(r, 1000));

    expect((await stack.db.select().from(jobs).where(and(eq(jobs.tenantId, stack.tenantId), eq(jobs.type, 'webhook.deliver')))).length).toBe(deliveriesBefore);
    expect(receiver.requests.length).toBe(requestsBefore);
    await second.stop();
    await listingClient.connection.close();
  });

  it('a delivery of an event never triggers another event; a webhook.deliver job of the tenant’s own does', async () => {
    await watcherCaughtUp();
    const everyEvent = receiver.requests.filter((r) => r.headers['idempotency-key'] && (JSON.parse(r.body) as Json).jobId);
    const announced = new Set(everyEvent.map((r) => String((JSON.parse(r.body) as Json).jobId)));
    const deliveries = await stack.db.select().from(jobs).where(and(eq(jobs.tenantId, stack.tenantId), sql`exists (select 1 from unnest(${jobs.labels}) as l where l like 'event=job.%')`));
    expect(deliveries.length).toBeGreaterThan(5);
    for (const d of deliveries) expect(announced.has(d.id), `delivery ${d.id} was announced`).toBe(false);
    // The plain webhook.deliver job (no event= label) is a job like any other.
    expect(announced.has(ids.plainWebhook!)).toBe(true);
    // Every announced job is one this file created, each announced once per receiver.
    for (const id of Object.values(ids)) expect(announced.has(id)).toBe(true);
    const perReceiver = new Map<string, number>();
    for (const r of everyEvent) perReceiver.set(String(r.headers['idempotency-key']), (perReceiver.get(String(r.headers['idempotency-key'])) ?? 0) + 1);
    expect([...perReceiver.values()].every((n) => n === 1)).toBe(true);
  });
});
