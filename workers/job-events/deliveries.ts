/**
 * Closed runs → job-end events → one `webhook.deliver` job per receiver:
 * each subscription of the tenant that wants the event, and the job's own
 * `callbackUrl`. Made the way document events are (activities/documents/
 * events.ts): claimed by a job id derived from (job, event, receiver), then
 * started (idempotent by workflow id) and recorded once (domain/jobs/
 * create.ts). The same run handled again — the watcher's overlap, a second
 * watcher, a reset cursor, a reset job that ends the same way again — lands
 * on the same ids and sends nothing twice.
 */
import { and, inArray, isNotNull, sql } from 'drizzle-orm';
import {
  isEventDelivery,
  jobEventTypeOf,
  jobEventTypes,
  jobIdPattern,
  subscriptionWants,
  terminalStatusOf,
  webhookDeliver,
  type JobContract,
  type JobEndedEvent,
  type JobEventType,
} from '../../contracts/index.ts';
import type { Db } from '../../db/client.ts';
import { jobs, webhookSubscriptions, type JobRow, type WebhookSubscriptionRow } from '../../db/schema/index.ts';
import { claimJob, markStarted, requestHashOf } from '../../domain/jobs/create.ts';
import { derivedId } from '../../runtime/ids.ts';
import type { ClosedRun } from './closed-runs.ts';
import { projectFailures, type FailureOf } from './failures.ts';

export interface DeliveryDeps {
  db: Db;
  /** Starts (or finds) a job row's workflow and returns its first run id (domain/jobs/start.ts). */
  startJob: (contract: JobContract, row: JobRow, input: unknown) => Promise<string>;
  /** The run id of the workflow's current run: a terminated run that is not current was reset, and did not end its job. */
  currentRunId: (workflowId: string) => Promise<string | undefined>;
  /** Base URL of the API, for links in event payloads. */
  publicUrl: string;
  /** The error of a failed run, for the dead-letter projection (failures.ts). */
  failureOf: (run: ClosedRun) => Promise<FailureOf>;
}

/** One delivery owed: the event, for one receiver. */
export interface OwedDelivery {
  deliveryJobId: string;
  job: JobRow;
  event: JobEndedEvent;
  url: string;
  /** `subscription=<id>` or `callback=url`: which receiver, as the delivery job's label says. */
  receiverLabel: string;
  subscriptionId: string | null;
}

/** `<tenantId>:<jobId>` → its parts; batch children and platform workflows (other id shapes) → undefined. */
export function jobOfWorkflowId(workflowId: string): { tenantId: string; jobId: string } | undefined {
  const at = workflowId.indexOf(':');
  if (at <= 0) return undefined;
  const jobId = workflowId.slice(at + 1);
  return jobIdPattern.test(jobId) ? { tenantId: workflowId.slice(0, at), jobId } : undefined;
}

/** The delivery job id of `event` of `jobId` for one receiver (a subscription id, or `callback`). */
export function deliveryJobId(job: Pick<JobRow, 'id' | 'createdAt'>, event: JobEventType, receiver: string): string {
  // Time part: the job's creation, so the id does not depend on which run closed or when it was seen.
  return derivedId('job', job.createdAt.getTime(), `${event}:${job.id}:${receiver}`);
}

export function eventPayload(job: JobRow, run: ClosedRun, event: JobEventType, publicUrl: string): JobEndedEvent {
  return {
    type: event,
    jobId: job.id,
    tenantId: job.tenantId,
    jobType: job.type,
    status: terminalStatusOf(run.executionStatus)!,
    labels: job.labels,
    closedAt: run.closedAt.toISOString(),
    links: { self: `${publicUrl}/v1/jobs/${job.id}` },
  };
}

/** What each run's end owes, by receiver (pure given the rows). */
export function owedDeliveries(runs: readonly { run: ClosedRun; job: JobRow }[], subs: readonly WebhookSubscriptionRow[], publicUrl: string): OwedDelivery[] {
  const owed: OwedDelivery[] = [];
  for (const { run, job } of runs) {
    const status = terminalStatusOf(run.executionStatus);
    if (!status || isEventDelivery(job)) continue;
    const event = jobEventTypeOf(status);
    const payload = eventPayload(job, run, event, publicUrl);
    for (const sub of subs) {
      if (sub.tenantId !== job.tenantId || !subscriptionWants(sub, event, job)) continue;
      owed.push({ deliveryJobId: deliveryJobId(job, event, sub.id), job, event: payload, url: sub.url, receiverLabel: `subscription=${sub.id}`, subscriptionId: sub.id });
    }
    if (job.callbackUrl) {
      owed.push({ deliveryJobId: deliveryJobId(job, event, 'callback'), job, event: payload, url: job.callbackUrl, receiverLabel: 'callback=url', subscriptionId: null });
    }
  }
  return owed;
}

/**
 * The started job rows of these runs, paired with their run, found by
 * workflow id: created jobs, and the runs schedules and parents started once
 * registered (started-runs.ts). Claims and workflows that are no job are skipped.
 */
async function jobsOfRuns(db: Db, runs: readonly ClosedRun[]): Promise<{ run: ClosedRun; job: JobRow }[]> {
  const ended = runs.filter((run) => terminalStatusOf(run.executionStatus));
  if (ended.length === 0) return [];
  const rows = await db
    .select()
    .from(jobs)
    .where(and(inArray(jobs.workflowId, [...new Set(ended.map((r) => r.workflowId))]), isNotNull(jobs.firstRunId)));
  const byWorkflowId = new Map(rows.map((r) => [r.workflowId, r]));
  return ended.flatMap((run) => {
    const job = byWorkflowId.get(run.workflowId);
    return job ? [{ run, job }] : [];
  });
}

async function subscriptionsOf(db: Db, tenantIds: string[]): Promise<WebhookSubscriptionRow[]> {
  if (tenantIds.length === 0) return [];
  return await db
    .select()
    .from(webhookSubscriptions)
    .where(and(inArray(webhookSubscriptions.tenantId, tenantIds), sql`${webhookSubscriptions.events} && ${sql.raw(`array[${jobEventTypes.map((t) => `'${t}'`).join(', ')}]::text[]`)}`))
    .orderBy(webhookSubscriptions.id);
}

/** Creates (claim, start, record) the delivery jobs a page of closed runs owes; returns those this call started. */
export async function deliverJobEvents(deps: DeliveryDeps, runs: readonly ClosedRun[]): Promise<OwedDelivery[]> {
  const { db } = deps;
  const ended = [];
  for (const pair of await jobsOfRuns(db, runs)) {
    // A reset terminates the current run and goes on in a new one: that termination did not end the job.
    if (pair.run.executionStatus === 'TERMINATED' && (await deps.currentRunId(pair.run.workflowId)) !== pair.run.runId) continue;
    ended.push(pair);
  }
  // Every ended job's outcome, event deliveries included: a delivery that failed for good is a dead letter too.
  await projectFailures(db, deps.failureOf, ended);
  const subs = await subscriptionsOf(db, [...new Set(ended.map((e) => e.job.tenantId))]);
  const owed = owedDeliveries(ended, subs, deps.publicUrl);
  if (owed.length === 0) return [];
  // Handled before (the overlap of the last tick, another watcher): one query instead of a claim each.
  const done = new Set(
    (await db.select({ id: jobs.id }).from(jobs).where(and(inArray(jobs.id, owed.map((o) => o.deliveryJobId)), isNotNull(jobs.firstRunId)))).map((r) => r.id),
  );
  const started: OwedDelivery[] = [];
  for (const o of owed) {
    if (done.has(o.deliveryJobId)) continue;
    const input = { url: o.url, payload: { ...o.event }, eventType: o.event.type };
    const { row } = await claimJob(
      db,
      {
        id: o.deliveryJobId,
        tenantId: o.job.tenantId,
        type: webhookDeliver.type,
        requestHash: requestHashOf(input),
        createdByKeyId: null,
        labels: [`event=${o.event.type}`, `job=${o.job.id}`, o.receiverLabel],
      },
      'id',
    );
    if (row.firstRunId) continue;
    const runId = await deps.startJob(webhookDeliver, row, input);
    await markStarted(db, row, runId, {
      actorKeyId: null,
      requestId: null,
      idempotencyKey: null,
      detail: { event: o.event.type, jobId: o.job.id, ...(o.subscriptionId ? { subscriptionId: o.subscriptionId } : { callback: true }), emittedBy: 'job-end watcher' },
    });
    started.push(o);
  }
  return started;
}
