/**
 * `batch.run`: runs every item of a batch as a child workflow of the item's
 * job type, at most `concurrency` at a time, in pages.
 *
 * Continue-as-new: before the run's history nears Temporal's suggestion
 * (4,096 events / 4 MB) the batch stops starting items, waits for the
 * children in flight to finish (so no child ever spans two runs and the next
 * run never has to find one), records their failures, and continues as new
 * carrying only counts and a cursor (`BatchCarry`). Our own event guard sits
 * far enough below 4,096 that the drain, whose size is bounded by
 * `concurrency`, still ends below it.
 *
 * Failures: each failed item is a row in Postgres keyed by (batch job, item
 * index), written in batches by an idempotent activity; the result lists the
 * first ones and counts all; `retry-failed` runs exactly those rows again
 * under new child ids.
 *
 * The pieces live in `workflows/batch-run/`: the carry and the run's budgets
 * (`carry.ts`), the run's state and its items (`run.ts`), the messages
 * (`handlers.ts`), the progress it shows (`progress.ts`). This file is the
 * orchestration only. Its awaits are deliberately all in this one function,
 * in the order they always were: moving one into a helper `async` function
 * would add a microtask tick and could reorder commands issued in the same
 * workflow task, so the helpers it calls are synchronous or hand back the
 * promise to await.
 */
import {
  ApplicationFailure,
  allHandlersFinished,
  CancellationScope,
  condition,
  continueAsNew,
  isCancellation,
  sleep,
  workflowInfo,
} from '@temporalio/workflow';
import {
  batchItemCatalog,
  batchLimits,
  batchRun,
  taskQueuePrefixOf,
  type BatchRunInput,
  type BatchRunOutput,
  type BatchItemFailure,
  type JobEnvelope,
} from '../contracts/index.ts';
import { flushEvery, initialCarry, rollOverDue, type BatchCarry } from './batch-run/carry.ts';
import { registerBatchHandlers } from './batch-run/handlers.ts';
import { BatchRun, batchStore, type BatchRunContext } from './batch-run/run.ts';
import { runJobId } from './job-id.ts';

export { eventGuard, historySizeGuard, pageBytes, pageItems, type BatchCarry } from './batch-run/carry.ts';
export { finishSignal, pauseSignal, progressQuery, resumeSignal, retryFailedUpdate } from './batch-run/handlers.ts';

export async function batchRunWorkflow(job: JobEnvelope<BatchRunInput>, carried?: BatchCarry): Promise<BatchRunOutput> {
  const run = new BatchRun(runContext(job), carried ?? initialCarry(job.input.items?.length ?? 0));
  const { s } = run;
  const concurrency = job.input.concurrency ?? batchLimits.defaultConcurrency;
  registerBatchHandlers(run);
  run.publish();

  try {
    for (;;) {
      const seen = run.version;
      // Start items while there is room, the batch is not paused and this run has history to spare.
      while (!s.paused && run.running < concurrency && !rollOverDue(concurrency)) {
        if (run.page.length === 0) {
          if (s.roundExhausted) break;
          run.page = await run.loadPage();
          if (run.page.length === 0) s.roundExhausted = true;
          run.publish();
          continue;
        }
        run.start(run.page.shift()!);
      }
      if (run.failures.length >= flushEvery) await run.flush();

      if (passEnded(run)) {
        await run.flush();
        const window = retryWindow(run);
        if (window) {
          await window;
          if (!s.roundExhausted) continue;
        }
        break;
      }

      if (rollOverDue(concurrency)) {
        // Drain: no child spans two runs, so the next run never has to find one.
        await condition(() => run.running === 0);
        await run.flush();
        await condition(allHandlersFinished);
        return await continueAsNew<typeof batchRunWorkflow>(job, { ...s, run: s.run + 1 });
      }
      await condition(() => run.version !== seen);
    }
  } catch (err) {
    if (!isCancellation(err)) throw err;
    await drainAfterCancel(run);
    run.publish();
    throw err;
  }

  const { failures: listed, total } = await batchStore.loadBatchFailures({ tenantId: job.tenantId, batchJobId: run.ctx.batchJobId, limit: batchLimits.resultFailureLimit });
  run.completed = true;
  delete s.retryWindowEndsAt;
  run.publish();
  await condition(allHandlersFinished);
  return batchResult(s, listed, total);
}

/** The item type's contract and queue; an unknown item type fails the batch for good. */
function runContext(job: JobEnvelope<BatchRunInput>): BatchRunContext {
  const { input, tenantId } = job;
  const contract = batchItemCatalog[input.jobType];
  if (!contract) throw ApplicationFailure.nonRetryable(`unknown item job type ${input.jobType}`, 'BatchInvalidInput');
  const itemQueue = taskQueuePrefixOf(workflowInfo().taskQueue, batchRun) + contract.taskQueue;
  return { tenantId, batchJobId: runJobId(job), input, contract, itemQueue };
}

/** Every item of the round has been taken and has ended. */
function passEnded(run: BatchRun): boolean {
  return run.s.roundExhausted && run.page.length === 0 && run.running === 0;
}

/**
 * After a pass with failures, the wait for `retry-failed` (undefined when
 * there is none to wait for). Ends on retry-failed (a new round starts),
 * `finish`, or the end of the window. The window's timer is left to fire
 * rather than cancelled, so the task that accepts `retry-failed` issues no
 * CancelTimer that could interleave with the update's completion differently
 * on replay.
 */
function retryWindow(run: BatchRun): Promise<unknown> | undefined {
  const { s } = run;
  const windowMs = (run.input.retryWindowSeconds ?? 0) * 1000;
  if (!(s.failed > 0 && windowMs > 0 && !s.finishRequested)) return undefined;
  s.retryWindowEndsAt ??= Date.now() + windowMs;
  run.publish();
  const windowEnd = sleep(Math.max(1, s.retryWindowEndsAt - Date.now()), { summary: 'retry window' });
  windowEnd.catch(() => undefined);
  return Promise.race([condition(() => !s.roundExhausted || s.finishRequested), windowEnd]);
}

/** Children were cancelled with the batch's scope; count how they ended and keep their failures. */
function drainAfterCancel(run: BatchRun): Promise<void> {
  run.cancelled = true;
  run.publish();
  return CancellationScope.nonCancellable(async () => {
    await condition(() => run.running === 0);
    await run.flush();
  });
}

function batchResult(s: BatchCarry, failures: BatchItemFailure[], totalFailures: number): BatchRunOutput {
  return {
    total: s.total,
    succeeded: s.done,
    failed: s.failed,
    rounds: s.round + 1,
    failures,
    failuresTruncated: totalFailures > failures.length,
  };
}
