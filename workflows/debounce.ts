/**
 * The debouncer of one (tenant, `debounce.key`): every create of a burst is an
 * update of this workflow (update-with-start, so the first create starts it);
 * each update replaces the input and answers the burst's job id. Once no
 * create came for `delay` (or `maxWait` after the first one), the validator
 * closes the burst, the one activity creates the job with the latest input,
 * and the run ends; the next create starts a new run, a new burst, a new job.
 *
 * Exactly one job per burst: the job id is fixed when the run starts, and the
 * activity creates it idempotently by that id (claim by id, start by workflow
 * id, record once), so a retry or a reset of this run finds the same job.
 */
import { ApplicationFailure, allHandlersFinished, condition, continueAsNew, defineUpdate, proxyActivities, setHandler, workflowInfo } from '@temporalio/workflow';
import type { Activities } from '../activities/index.ts';
import {
  debounceClosedFailureType,
  debounceCreateUpdateName,
  debounceStartProfile,
  type DebounceAnswer,
  type DebounceArgs,
  type DebouncedCreate,
} from '../contracts/debounce.ts';

export const debounceCreateUpdate = defineUpdate<DebounceAnswer, [DebouncedCreate]>(debounceCreateUpdateName);

const { startDebouncedJob } = proxyActivities<Activities>({ ...debounceStartProfile, summary: 'create the burst’s job with the latest input' });

export async function debounceWorkflow(args: DebounceArgs): Promise<DebounceAnswer> {
  let latest = args.carried?.latest;
  let creates = args.carried?.creates ?? 0;
  let openedAt = args.carried?.openedAt ?? Date.now();
  let lastAt = args.carried?.lastAt ?? Date.now();
  let closed = false;

  setHandler(
    debounceCreateUpdate,
    (create) => {
      if (creates === 0) openedAt = Date.now();
      latest = create;
      creates++;
      lastAt = Date.now();
      return { jobId: args.jobId, creates };
    },
    {
      // Refused, not applied: the caller (the API) tries again and lands in the next run's burst.
      validator: (_create: DebouncedCreate) => {
        if (closed) throw ApplicationFailure.nonRetryable('this burst is over and its job is starting: send again', debounceClosedFailureType);
      },
    },
  );

  // Started by update-with-start, the first create is in the first task; a run started otherwise waits for one.
  await condition(() => latest !== undefined);
  for (;;) {
    const dueAt = Math.min(lastAt + args.delayMs, args.maxWaitMs === null ? Infinity : openedAt + args.maxWaitMs);
    const wait = dueAt - Date.now();
    if (wait <= 0) break;
    const seen = creates;
    await condition(() => creates !== seen || workflowInfo().continueAsNewSuggested, wait);
    if (workflowInfo().continueAsNewSuggested && creates === seen) {
      // A very long burst: carry it into a fresh history (updates in flight finish first).
      await condition(allHandlersFinished);
      return await continueAsNew<typeof debounceWorkflow>({ ...args, carried: { latest: latest!, creates, openedAt, lastAt } });
    }
  }
  closed = true;
  await condition(allHandlersFinished);
  await startDebouncedJob({ tenantId: args.tenantId, jobId: args.jobId, key: args.key, create: latest!, creates });
  return { jobId: args.jobId, creates };
}
