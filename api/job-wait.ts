/** `GET /v1/jobs/{id}/result?waitSeconds=N`: long-poll Temporal for the run to close, bounded by the wait. */
import type { Client } from '@temporalio/client';
import type { Config } from '../runtime/config.ts';
import { describeJob, type JobRow, type JobView } from './job-view.ts';

export async function waitForJob(
  deps: { client: Client; config: Config },
  row: JobRow,
  waitSeconds: number,
  requestSignal?: AbortSignal,
): Promise<JobView> {
  if (waitSeconds > 0 && row.firstRunId) {
    const timeout = AbortSignal.timeout(waitSeconds * 1000);
    const signal = requestSignal ? AbortSignal.any([timeout, requestSignal]) : timeout;
    // result() long-polls the history for the close event; aborting ends the poll, not the job.
    await deps.client
      .withAbortSignal(signal, () => deps.client.workflow.getHandle(row.workflowId).result())
      .catch(() => undefined);
  }
  return await describeJob(deps.client, deps.config, row);
}
