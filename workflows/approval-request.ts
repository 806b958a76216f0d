import { ParentClosePolicy, startChild, workflowInfo } from '@temporalio/workflow';
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import {
  approvalRequest,
  defaultApprovalExpirySeconds,
  taskQueuePrefixOf,
  webhookDeliver,
  type ApprovalRequestInput,
  type ApprovalRequestOutput,
  type JobEnvelope,
} from '../contracts/index.ts';
import { searchAttributes } from '../contracts/search-attributes.ts';
import { workflowIdFor } from '../contracts/workflow-ids.ts';
import { openDecision, waitForDecision, type OpenDecision } from './decision.ts';
import { runJobId } from './job-id.ts';

type Notice = 'reminder' | 'escalation';

/**
 * Waits for a person to approve or reject, or for the request to expire.
 * The decision arrives as an `approve` / `reject` update (see
 * `workflows/decision.ts`), so the caller learns at once whether it counted.
 *
 * With `notify`, the wait is cut into slices on durable timers: undecided at
 * `remindAfterSeconds`, a reminder goes to `notify.url`; undecided at
 * `escalateAfterSeconds`, `escalateTo` may decide too and an escalation goes
 * out. Without `notify` the commands are exactly those of the first version,
 * so runs and histories recorded before reminders existed replay unchanged.
 */
export async function approvalRequestWorkflow(job: JobEnvelope<ApprovalRequestInput>): Promise<ApprovalRequestOutput> {
  const { subject, details, approvers, expiresInSeconds = defaultApprovalExpirySeconds, notify } = job.input;
  // Counted from when the job was started, not from when a worker first picked it up.
  const startedAt = workflowInfo().startTime.getTime();
  const expiresAt = startedAt + expiresInSeconds * 1000;
  if (!notify) return await waitForDecision({ subject, details, approvers, expiresAt });

  const decision = openDecision({ subject, details, approvers, expiresAt });
  const steps: { kind: Notice; after?: number }[] = [
    { kind: 'reminder', after: job.input.remindAfterSeconds },
    { kind: 'escalation', after: job.input.escalateAfterSeconds },
  ];
  for (const { kind, after } of steps) {
    if (after === undefined) continue;
    const at = startedAt + after * 1000;
    if (at >= expiresAt) continue;
    if (await decision.waitUntil(at, `waiting for a decision until the ${kind}`, { leaveTimer: true })) break;
    if (kind === 'escalation' && job.input.escalateTo) decision.addApprovers(job.input.escalateTo);
    await sendNotice(job, decision, kind, notify.url, expiresAt);
  }
  await decision.waitUntil(undefined, undefined, { leaveTimer: true });
  return await decision.close();
}

/**
 * One notification as a `webhook.deliver` child job: signed, retried, visible
 * in the Web UI. Its id is derived from the request's (`…/reminder`) and never
 * reused, so a reset that passes the same point again does not send twice; it
 * is abandoned on close so a decision does not cut a delivery short.
 */
async function sendNotice(job: JobEnvelope<ApprovalRequestInput>, decision: OpenDecision, kind: Notice, url: string, expiresAt: number): Promise<void> {
  const info = workflowInfo();
  const requestJobId = runJobId(job);
  const jobId = `${requestJobId}/${kind}`;
  const status = { approvers: job.input.approvers ?? [], ...(kind === 'escalation' && job.input.escalateTo && { escalatedTo: job.input.escalateTo }) };
  try {
    await startChild(webhookDeliver.workflowType, {
      workflowId: workflowIdFor(job.tenantId, jobId),
      taskQueue: taskQueuePrefixOf(info.taskQueue, approvalRequest) + webhookDeliver.taskQueue,
      args: [
        {
          tenantId: job.tenantId,
          jobId,
          input: {
            url,
            eventType: `approval.${kind}`,
            payload: { event: `approval.${kind}`, jobId: requestJobId, subject: job.input.subject, expiresAt: new Date(expiresAt).toISOString(), ...status },
          },
        },
      ],
      workflowIdReusePolicy: 'REJECT_DUPLICATE',
      parentClosePolicy: ParentClosePolicy.ABANDON,
      workflowExecutionTimeout: webhookDeliver.executionTimeout,
      typedSearchAttributes: [
        { key: searchAttributes.tenantId, value: job.tenantId },
        { key: searchAttributes.jobType, value: webhookDeliver.type },
        { key: searchAttributes.jobId, value: jobId },
        { key: searchAttributes.jobLabels, value: [`approval=${requestJobId}`] },
      ],
      staticSummary: `approval ${kind} for ${JSON.stringify(job.input.subject)} (tenant ${job.tenantId})`,
    });
  } catch (err) {
    // A run before a reset already sent it.
    if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
  }
  decision.noteSent(kind);
}
