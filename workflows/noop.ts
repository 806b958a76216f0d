import { ApplicationFailure, sleep } from '@temporalio/workflow';
import { noopFailureType, type JobEnvelope, type NoopInput, type NoopOutput } from '../contracts/index.ts';

/**
 * Does nothing: optionally sleeps on a durable timer, optionally fails with
 * the business failure `NoopFailed`. The cheapest real workflow, for batch
 * tests, benchmarks and dry runs of a batch's plumbing.
 */
export async function noopWorkflow(job: JobEnvelope<NoopInput>): Promise<NoopOutput> {
  const { sleepMs, fail, tag } = job.input;
  if (sleepMs) await sleep(sleepMs, { summary: 'noop sleep' });
  if (fail) throw ApplicationFailure.nonRetryable(`noop ${tag ?? job.jobId} failed as asked`, noopFailureType);
  return { ok: true, ...(tag !== undefined && { tag }) };
}
