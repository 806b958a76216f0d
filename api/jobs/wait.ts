/** `GET /v1/jobs/{id}/result?waitSeconds=N`: long-poll Temporal for the run to close, bounded by the wait. */
import type { Client } from '@temporalio/client';
import type { Config } from '../../runtime/config.ts';
import { describeJob, type JobView } from './view.ts';
import type { JobRow } from '../../db/schema/index.ts';

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
    // Its own deadline replaces the request's (see app.ts), which is shorter than a long poll.
    await deps.client
      .withDeadline(Date.now() + waitSeconds * 1000 + 1000, () =>
        deps.client.withAbortSignal(signal, () => deps.client.workflow.getHandle(row.workflowId).result()),
      )
      .catch(() => undefined);
  }
  return await deps.client.withDeadline(Date.now() + deps.config.temporalCallTimeoutMs, () => describeJob(deps.client, deps.config, row));
}
