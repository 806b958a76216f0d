import { workflowInfo } from '@temporalio/workflow';
import type { JobEnvelope } from '../contracts/index.ts';
import { jobIdInWorkflowId } from '../contracts/workflow-ids.ts';

/**
 * The job id of this run. A schedule passes the same args to every run, so a
 * scheduled run takes its id from its own workflow id instead
 * (`<tenant>:<sch_…>-<scheduled time>` → `sch_…-<scheduled time>`): unique per
 * run, and the same across retries and resets of that run.
 */
export function runJobId(job: JobEnvelope<unknown>): string {
  return job.scheduleId ? jobIdInWorkflowId(job.tenantId, workflowInfo().workflowId) : job.jobId;
}
