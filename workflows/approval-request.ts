import { workflowInfo } from '@temporalio/workflow';
import {
  defaultApprovalExpirySeconds,
  type ApprovalRequestInput,
  type ApprovalRequestOutput,
  type JobEnvelope,
} from '../contracts/index.ts';
import { waitForDecision } from './decision.ts';

/**
 * Waits for a person to approve or reject, or for the request to expire.
 * The decision arrives as an `approve` / `reject` update (see
 * `workflows/decision.ts`), so the caller learns at once whether it counted.
 */
export async function approvalRequestWorkflow(job: JobEnvelope<ApprovalRequestInput>): Promise<ApprovalRequestOutput> {
  const { subject, details, approvers, expiresInSeconds = defaultApprovalExpirySeconds } = job.input;
  // Counted from when the job was started, not from when a worker first picked it up.
  const expiresAt = workflowInfo().startTime.getTime() + expiresInSeconds * 1000;
  return await waitForDecision({ subject, details, approvers, expiresAt });
}
