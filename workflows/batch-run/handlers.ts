/** The messages a `batch.run` accepts while it runs: pause, resume, finish, `retry-failed` and `progress`. */
import { ApplicationFailure, defineQuery, defineSignal, defineUpdate, setHandler } from '@temporalio/workflow';
import {
  batchFailureTypes,
  batchMessageNames as names,
  batchMessages,
  type BatchProgress,
  type RetryFailedOutput,
} from '../../contracts/index.ts';
import type { BatchCarry } from './carry.ts';
import { progressOf } from './progress.ts';
import type { BatchRun } from './run.ts';

export const pauseSignal = defineSignal<[Record<string, never>?]>(names.pause);
export const resumeSignal = defineSignal<[Record<string, never>?]>(names.resume);
export const finishSignal = defineSignal<[Record<string, never>?]>(names.finish);
export const retryFailedUpdate = defineUpdate<RetryFailedOutput, [Record<string, never>?]>(names.retryFailed);
export const progressQuery = defineQuery<BatchProgress>(names.progress);

/** Registers every handler; call before the run's first `await`. */
export function registerBatchHandlers(run: BatchRun): void {
  const { s } = run;
  const { signals, updates, queries } = batchMessages;
  setHandler(pauseSignal, () => ((s.paused = true), run.changed()), { description: signals.pause.description });
  setHandler(resumeSignal, () => ((s.paused = false), run.changed()), { description: signals.resume.description });
  setHandler(finishSignal, () => ((s.finishRequested = true), run.changed()), { description: signals.finish.description });
  setHandler(progressQuery, () => progressOf(run), { description: queries.progress.description });
  setHandler(
    retryFailedUpdate,
    (_input?: Record<string, never>) => {
      const output = startRetryRound(s);
      run.changed();
      return output;
    },
    { description: updates['retry-failed'].description, validator: (_input?: Record<string, never>) => refuseRetryUnlessPassEnded(run) },
  );
}

/** `retry-failed`: the failed items of the pass that ended become the next round. */
function startRetryRound(s: BatchCarry): RetryFailedOutput {
  const retrying = s.failed;
  s.round++;
  s.cursor = -1;
  s.roundExhausted = false;
  s.roundSize = retrying;
  s.startedInRound = 0;
  s.failed = 0;
  delete s.retryWindowEndsAt;
  return { round: s.round, retrying };
}

/** The validator of `retry-failed`: refused (nothing reaches the history) while items run or when none failed. */
function refuseRetryUnlessPassEnded(run: BatchRun): void {
  const { s } = run;
  const busy = run.running + run.page.length + Math.max(0, s.roundSize - s.startedInRound);
  if (busy > 0 || !s.roundExhausted || run.cancelled || run.completed) {
    throw ApplicationFailure.create({
      type: batchFailureTypes.retryRefused,
      message: `${busy} item(s) still running or waiting: retry-failed runs once the pass has ended`,
      nonRetryable: true,
    });
  }
  if (s.failed === 0) {
    throw ApplicationFailure.create({ type: batchFailureTypes.retryRefused, message: 'no item failed: nothing to retry', nonRetryable: true });
  }
}
