/** What a `batch.run` shows: the `progress` query's answer and the Web UI's current details. */
import type { BatchProgress, BatchRunInput, BatchStateName } from '../../contracts/index.ts';
import type { BatchCarry } from './carry.ts';

/** What progress is read from: a run's state (run.ts's BatchRun), named here so the run may import this file and not the reverse. */
export interface BatchRunState {
  readonly s: BatchCarry;
  readonly input: BatchRunInput;
  readonly running: number;
  readonly page: readonly unknown[];
  readonly cancelled: boolean;
  readonly completed: boolean;
}

export function stateNameOf(run: BatchRunState): BatchStateName {
  const { s } = run;
  if (run.cancelled) return 'cancelled';
  if (run.completed) return 'completed';
  if (s.roundExhausted && run.running === 0 && run.page.length === 0 && s.retryWindowEndsAt !== undefined) return 'awaiting-retry';
  return s.paused ? 'paused' : 'running';
}

export function progressOf(run: BatchRunState): BatchProgress {
  const { s } = run;
  return {
    state: stateNameOf(run),
    jobType: run.input.jobType,
    total: s.total,
    done: s.done,
    failed: s.failed,
    running: run.running,
    pending: Math.max(0, s.roundSize - s.startedInRound),
    cancelled: s.cancelled,
    paused: s.paused,
    round: s.round,
    run: s.run,
    ...(s.retryWindowEndsAt !== undefined && { retryWindowEndsAt: new Date(s.retryWindowEndsAt).toISOString() }),
  };
}

/** The markdown of the Web UI's current details: counts, the chain's run, how to find the items. */
export function progressDetails(p: BatchProgress, batchJobId: string): string {
  const lines = [
    `**batch.run** of \`${p.jobType}\` — ${p.state}${p.round ? `, retry round ${p.round}` : ''}`,
    '',
    `| total | done | failed | running | pending | cancelled |`,
    `|---|---|---|---|---|---|`,
    `| ${p.total} | ${p.done} | ${p.failed} | ${p.running} | ${p.pending} | ${p.cancelled} |`,
    '',
    `Run ${p.run} of the continue-as-new chain. Items: search \`JobLabels = "batch=${batchJobId}"\`.`,
  ];
  if (p.retryWindowEndsAt) lines.push('', `Waiting for \`retry-failed\` until ${p.retryWindowEndsAt}.`);
  return lines.join('\n');
}
