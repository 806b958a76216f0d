/**
 * The pure pieces of job-end events: which closed runs end a job and with
 * which event, label selectors and subscription filters, which jobs are
 * never announced (event deliveries), and the derived delivery ids that
 * make every re-handling land on the same job.
 */
import { describe, expect, it } from 'vitest';
import { catalogTaskQueues, isEventDelivery, jobEventTypeOf, labelsMatch, subscriptionWants, terminalStatusOf, webhookEventTypes } from '../../contracts/index.ts';
import type { JobRow, WebhookSubscriptionRow } from '../../db/schema/index.ts';
import { closedRunsQuery, type ClosedRun } from '../../workers/job-events/closed-runs.ts';
import { deliveryJobId, jobOfWorkflowId, owedDeliveries } from '../../workers/job-events/deliveries.ts';

const created = new Date('2026-12-04T10:00:00.000Z');
const job = (over: Partial<JobRow> = {}): JobRow => ({
  id: 'job_01m81ksmy97xeysea3jw5pzzq4',
  tenantId: 'ten_0123456789abcdef',
  type: 'noop',
  idempotencyKey: null,
  requestHash: 'h',
  workflowId: 'ten_0123456789abcdef:job_01m81ksmy97xeysea3jw5pzzq4',
  firstRunId: 'run-1',
  createdByKeyId: null,
  labels: ['team=payments', 'urgent'],
  priority: null,
  retryOf: null,
  scheduleId: null,
  callbackUrl: null,
  parentWorkflowId: null,
  parentJobId: null,
  createdAt: created,
  ...over,
});
const sub = (over: Partial<WebhookSubscriptionRow> = {}): WebhookSubscriptionRow => ({
  id: 'whs_01m81ksmy97xeysea3jw5pzzq5',
  tenantId: 'ten_0123456789abcdef',
  url: 'https://hooks.example.com/a',
  events: ['job.succeeded', 'job.failed'],
  jobTypes: [],
  labels: [],
  description: null,
  createdByKeyId: null,
  createdAt: created,
  ...over,
});
const run = (executionStatus: string, over: Partial<ClosedRun> = {}): ClosedRun => ({
  workflowId: job().workflowId,
  runId: 'run-1',
  executionStatus,
  closedAt: new Date('2026-12-04T10:01:00.000Z'),
  historySizeBytes: 0,
  historyLength: 0,
  ...over,
});

describe('event mapping from the workflow status', () => {
  it('every terminal status has its event; running and continued-as-new runs end nothing', () => {
    expect(
      Object.fromEntries(['COMPLETED', 'FAILED', 'CANCELLED', 'TERMINATED', 'TIMED_OUT'].map((s) => [s, jobEventTypeOf(terminalStatusOf(s)!)])),
    ).toEqual({ COMPLETED: 'job.succeeded', FAILED: 'job.failed', CANCELLED: 'job.cancelled', TERMINATED: 'job.terminated', TIMED_OUT: 'job.timed_out' });
    for (const s of ['RUNNING', 'CONTINUED_AS_NEW', 'UNSPECIFIED', 'toString', '__proto__']) expect(terminalStatusOf(s)).toBeUndefined();
  });

  it('subscriptions may name the document event and every job event', () => {
    expect(webhookEventTypes).toEqual(['document.ingested', 'job.succeeded', 'job.failed', 'job.cancelled', 'job.terminated', 'job.timed_out']);
  });
});

describe('label selectors and subscription filters', () => {
  it('every selector must be one of the job labels, whole; no selector matches all', () => {
    expect(labelsMatch([], [])).toBe(true);
    expect(labelsMatch(['team=payments'], ['team=payments', 'urgent'])).toBe(true);
    expect(labelsMatch(['team=payments', 'urgent'], ['team=payments', 'urgent'])).toBe(true);
    expect(labelsMatch(['team=payments', 'region=eu'], ['team=payments'])).toBe(false);
    expect(labelsMatch(['team=pay'], ['team=payments'])).toBe(false);
    expect(labelsMatch(['team'], ['team=payments'])).toBe(false);
  });

  it('a subscription wants its events, of its job types, with its labels', () => {
    const j = { type: 'noop', labels: ['team=payments'] };
    expect(subscriptionWants({ events: ['job.succeeded'], jobTypes: [], labels: [] }, 'job.succeeded', j)).toBe(true);
    expect(subscriptionWants({ events: ['job.failed'], jobTypes: [], labels: [] }, 'job.succeeded', j)).toBe(false);
    expect(subscriptionWants({ events: ['job.succeeded'], jobTypes: ['noop', 'batch.run'], labels: ['team=payments'] }, 'job.succeeded', j)).toBe(true);
    expect(subscriptionWants({ events: ['job.succeeded'], jobTypes: ['webhook.deliver'], labels: [] }, 'job.succeeded', j)).toBe(false);
    expect(subscriptionWants({ events: ['job.succeeded'], jobTypes: [], labels: ['team=billing'] }, 'job.succeeded', j)).toBe(false);
  });

  it('event deliveries (webhook.deliver with an event= label) are never announced; other webhook jobs are', () => {
    expect(isEventDelivery({ type: 'webhook.deliver', labels: ['event=job.succeeded', 'job=job_x'] })).toBe(true);
    expect(isEventDelivery({ type: 'webhook.deliver', labels: ['event=document.ingested'] })).toBe(true);
    expect(isEventDelivery({ type: 'webhook.deliver', labels: ['team=payments'] })).toBe(false);
    expect(isEventDelivery({ type: 'noop', labels: ['event=job.succeeded'] })).toBe(false);
  });
});

describe('owed deliveries', () => {
  it('one per wanting subscription of the tenant plus the callback, each with a stable derived id and its labels', () => {
    const j = job({ callbackUrl: 'https://cb.example.com/done' });
    const subs = [sub(), sub({ id: 'whs_01m81ksmy97xeysea3jw5pzzq6', labels: ['team=billing'] }), sub({ id: 'whs_01m81ksmy97xeysea3jw5pzzq7', tenantId: 'ten_ffffffffffffffff' })];
    const owed = owedDeliveries([{ run: run('COMPLETED'), job: j }], subs, 'https://api.example.com');
    expect(owed.map((o) => [o.url, o.receiverLabel])).toEqual([
      ['https://hooks.example.com/a', 'subscription=whs_01m81ksmy97xeysea3jw5pzzq5'],
      ['https://cb.example.com/done', 'callback=url'],
    ]);
    expect(owed[0]!.event).toEqual({
      type: 'job.succeeded',
      jobId: j.id,
      tenantId: j.tenantId,
      jobType: 'noop',
      status: 'succeeded',
      labels: ['team=payments', 'urgent'],
      closedAt: '2026-12-04T10:01:00.000Z',
      links: { self: `https://api.example.com/v1/jobs/${j.id}` },
    });
    // Another run of the same job ending the same way (a reset) owes the same ids: nothing is sent twice.
    const again = owedDeliveries([{ run: run('COMPLETED', { runId: 'run-2', closedAt: new Date() }), job: j }], subs, 'https://api.example.com');
    expect(again.map((o) => o.deliveryJobId)).toEqual(owed.map((o) => o.deliveryJobId));
    expect(new Set(owed.map((o) => o.deliveryJobId)).size).toBe(2);
    expect(owed[0]!.deliveryJobId).toMatch(/^job_[0-9a-z]{26}$/);
    expect(deliveryJobId(j, 'job.failed', 'callback')).not.toBe(deliveryJobId(j, 'job.succeeded', 'callback'));
  });

  it('nothing for continued-as-new runs or for event deliveries', () => {
    const delivery = job({ type: 'webhook.deliver', labels: ['event=job.succeeded'], callbackUrl: 'https://cb.example.com' });
    expect(owedDeliveries([{ run: run('CONTINUED_AS_NEW'), job: job({ callbackUrl: 'https://cb.example.com' }) }, { run: run('COMPLETED'), job: delivery }], [sub()], 'x')).toEqual([]);
  });
});

describe('closed runs of this environment', () => {
  it('job workflow ids parse; batch children and platform workflows do not', () => {
    expect(jobOfWorkflowId('ten_0123456789abcdef:job_01m81ksmy97xeysea3jw5pzzq4')).toEqual({ tenantId: 'ten_0123456789abcdef', jobId: 'job_01m81ksmy97xeysea3jw5pzzq4' });
    expect(jobOfWorkflowId('ten_0123456789abcdef:job_01m81ksmy97xeysea3jw5pzzq4:item-3')).toBeUndefined();
    expect(jobOfWorkflowId('document-retention')).toBeUndefined();
  });

  it('the visibility query is bounded in close time and scoped to the environment’s task queues', () => {
    const q = closedRunsQuery({ taskQueuePrefix: 'env1-' }, new Date('2026-12-04T10:00:00Z'), new Date('2026-12-04T10:05:00Z'));
    expect(q).toBe(
      `ExecutionStatus != 'Running' AND CloseTime > '2026-12-04T10:00:00.000Z' AND CloseTime <= '2026-12-04T10:05:00.000Z' AND TaskQueue IN (${catalogTaskQueues.map((t) => `'env1-${t}'`).join(', ')})`,
    );
    expect([...catalogTaskQueues].sort()).toEqual(['default', 'documents', 'webhooks']);
  });
});
