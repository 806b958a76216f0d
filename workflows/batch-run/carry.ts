/**
 * What one `batch.run` run hands the next (counts and cursors only) and the
 * budgets that decide when a run continues as new.
 */
import { workflowInfo } from '@temporalio/workflow';

/** What one run hands the next: counts and cursors only, whatever the batch's length. */
export interface BatchCarry {
  run: number;
  round: number;
  /** Round 0: index of the next item to start. Retry rounds: index of the last failed item started (-1 before the first). */
  cursor: number;
  /** No more items to take in this round (the rest are running or done). */
  roundExhausted: boolean;
  total: number;
  /** Items this round runs, and how many of them have started. */
  roundSize: number;
  startedInRound: number;
  done: number;
  failed: number;
  cancelled: number;
  paused: boolean;
  finishRequested: boolean;
  /** Epoch ms at which a pass with failures stops waiting for `retry-failed`. */
  retryWindowEndsAt?: number;
}

/** The carry of a batch's first run: round 0 from item 0, nothing counted yet. */
export function initialCarry(inlineTotal: number): BatchCarry {
  return {
    run: 1,
    round: 0,
    cursor: 0,
    roundExhausted: false,
    total: inlineTotal,
    roundSize: inlineTotal,
    startedInRound: 0,
    done: 0,
    failed: 0,
    cancelled: 0,
    paused: false,
    finishRequested: false,
  };
}

/**
 * Event budget of one run. The Temporal server suggests continue-as-new at
 * 4,096 events; we stop starting items early enough that draining the
 * children in flight (each adds at most a completion event plus a workflow
 * task of 3 events) and flushing failures still ends below it.
 */
export function eventGuard(concurrency: number): number {
  return 4096 - 4 * concurrency - 200;
}
/** History bytes at which a run stops starting items (the server suggests continuing at 4 MB). */
export const historySizeGuard = 3 * 1024 * 1024;
/** Items loaded per page, and the byte bound of one page (far below the 2 MB payload limit). */
export const pageItems = 200;
export const pageBytes = 256 * 1024;
/** Failure rows written in one activity call. */
export const flushEvery = 100;

/** True once this run should stop starting items and continue as new. */
export function rollOverDue(concurrency: number): boolean {
  const info = workflowInfo();
  return info.continueAsNewSuggested || info.historyLength >= eventGuard(concurrency) || info.historySize >= historySizeGuard;
}
