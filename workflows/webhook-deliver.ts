import { proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../activities/index.ts';
import { runJobId } from './job-id.ts';
import { webhookDeliveryProfile, type JobEnvelope, type WebhookDeliverInput, type WebhookDeliverOutput } from '../contracts/index.ts';

const { deliverWebhook } = proxyActivities<Activities>({
  ...webhookDeliveryProfile,
  summary: 'POST signed payload to the receiver',
});

/**
 * Delivers one webhook. Retries, backoff and `Retry-After` live in the
 * activity's retry policy, so the workflow stays a single durable step.
 * Cancelling the job cancels the in-flight HTTP attempt (the activity
 * heartbeats, which is how it learns of the cancellation).
 */
export async function webhookDeliverWorkflow(job: JobEnvelope<WebhookDeliverInput>): Promise<WebhookDeliverOutput> {
  return await deliverWebhook({ ...job.input, tenantId: job.tenantId, jobId: runJobId(job) });
}
