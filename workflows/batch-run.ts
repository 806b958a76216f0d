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
 */
import {
  ApplicationFailure,
  allHandlersFinished,
  CancellationScope,
  condition,
  continueAsNew,
  defineQuery,
  defineSignal,
  defineUpdate,
  isCancellation,
  proxyActivities,
  setCurrentDetails,
  setHandler,
  sleep,
  workflowInfo,
} from '@temporalio/workflow';
import type { Activities } from '../activities/index.ts';
import {
  batchFailureTypes,
  batchItemCatalog,
  batchLimits,
  batchMessageNames as names,
  batchMessages,
  batchRun,
  batchStoreProfile,
  taskQueuePrefixOf,
  type BatchItemFailure,
  type BatchItemOutcome,
  type BatchProgress,
  type BatchRunInput,
  type BatchRunOutput,
  type BatchStateName,
  type JobEnvelope,
  type RetryFailedOutput,
} from '../contracts/index.ts';
import { runItem } from './batch-item.ts';
import { runJobId } from './job-id.ts';

const { loadBatchItems, loadRetryPage, recordBatchOutcomes, loadBatchFailures } = proxyActivities<Activities>({
  ...batchStoreProfile,
  summary: 'batch items (Postgres)',
});

export const pauseSignal = defineSignal<[Record<string, never>?]>(names.pause);
export const resumeSignal = defineSignal<[Record<string, never>?]>(names.resume);
export const finishSignal = defineSignal<[Record<string, never>?]>(names.finish);
export const retryFailedUpdate = defineUpdate<RetryFailedOutput, [Record<string, never>?]>(names.retryFailed);
export const progressQuery = defineQuery<BatchProgress>(names.progress);

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
const flushEvery = 100;

interface Pending {
  index: number;
  item: unknown;
}

export async function batchRunWorkflow(job: JobEnvelope<BatchRunInput>, carried?: BatchCarry): Promise<BatchRunOutput> {
  const { input, tenantId } = job;
  const batchJobId = runJobId(job);
  const contract = batchItemCatalog[input.jobType];
  if (!contract) throw ApplicationFailure.nonRetryable(`unknown item job type ${input.jobType}`, 'BatchInvalidInput');
  const itemQueue = taskQueuePrefixOf(workflowInfo().taskQueue, batchRun) + contract.taskQueue;
  const concurrency = input.concurrency ?? batchLimits.defaultConcurrency;
  const inlineTotal = input.items?.length ?? 0;
  const s: BatchCarry = carried ?? {
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

  let running = 0;
  let page: Pending[] = [];
  let failures: BatchItemFailure[] = [];
  let resolved: number[] = [];
  let cancelled = false;
  let completed = false;
  /** Bumped by every event the main loop may act on. */
  let version = 0;
  const changed = () => {
    version++;
    publish();
  };

  const stateName = (): BatchStateName => {
    if (cancelled) return 'cancelled';
    if (completed) return 'completed';
    if (s.roundExhausted && running === 0 && page.length === 0 && s.retryWindowEndsAt !== undefined) return 'awaiting-retry';
    return s.paused ? 'paused' : 'running';
  };
  const progress = (): BatchProgress => ({
    state: stateName(),
    jobType: input.jobType,
    total: s.total,
    done: s.done,
    failed: s.failed,
    running,
    pending: Math.max(0, s.roundSize - s.startedInRound),
    cancelled: s.cancelled,
    paused: s.paused,
    round: s.round,
    run: s.run,
    ...(s.retryWindowEndsAt !== undefined && { retryWindowEndsAt: new Date(s.retryWindowEndsAt).toISOString() }),
  });
  function publish() {
    const p = progress();
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
    setCurrentDetails(lines.join('\n'));
  }

  const { signals, updates, queries } = batchMessages;
  setHandler(pauseSignal, () => ((s.paused = true), changed()), { description: signals.pause.description });
  setHandler(resumeSignal, () => ((s.paused = false), changed()), { description: signals.resume.description });
  setHandler(finishSignal, () => ((s.finishRequested = true), changed()), { description: signals.finish.description });
  setHandler(progressQuery, progress, { description: queries.progress.description });
  setHandler(
    retryFailedUpdate,
    (_input?: Record<string, never>) => {
      const retrying = s.failed;
      s.round++;
      s.cursor = -1;
      s.roundExhausted = false;
      s.roundSize = retrying;
      s.startedInRound = 0;
      s.failed = 0;
      delete s.retryWindowEndsAt;
      changed();
      return { round: s.round, retrying };
    },
    {
      description: updates['retry-failed'].description,
      validator: (_input?: Record<string, never>) => {
        const busy = running + page.length + Math.max(0, s.roundSize - s.startedInRound);
        if (busy > 0 || !s.roundExhausted || cancelled || completed) {
          throw ApplicationFailure.create({
            type: batchFailureTypes.retryRefused,
            message: `${busy} item(s) still running or waiting: retry-failed runs once the pass has ended`,
            nonRetryable: true,
          });
        }
        if (s.failed === 0) {
          throw ApplicationFailure.create({ type: batchFailureTypes.retryRefused, message: 'no item failed: nothing to retry', nonRetryable: true });
        }
      },
    },
  );
  publish();

  const rollOverDue = () => {
    const info = workflowInfo();
    return info.continueAsNewSuggested || info.historyLength >= eventGuard(concurrency) || info.historySize >= historySizeGuard;
  };

  async function flush() {
    while (failures.length > 0 || resolved.length > 0) {
      const f = failures.slice(0, flushEvery);
      const r = resolved.slice(0, flushEvery * 10);
      await recordBatchOutcomes({ tenantId, batchJobId, failures: f, resolved: r });
      failures = failures.slice(f.length);
      resolved = resolved.slice(r.length);
    }
  }

  async function loadPage(): Promise<Pending[]> {
    const bounds = { tenantId, maxItems: pageItems, maxBytes: pageBytes };
    if (s.round === 0) {
      if (input.items) return input.items.slice(s.cursor, s.cursor + pageItems).map((item, i) => ({ index: s.cursor + i, item }));
      const { total, items } = await loadBatchItems({ ...bounds, inputId: input.itemsRef!, fromIndex: s.cursor });
      s.total = s.roundSize = total;
      return items.map((item, i) => ({ index: s.cursor + i, item }));
    }
    const rows = await loadRetryPage({ ...bounds, batchJobId, round: s.round - 1, afterIndex: s.cursor, ...(input.itemsRef && { inputId: input.itemsRef }) });
    return rows.map((r) => ({ index: r.index, item: input.items ? input.items[r.index] : r.item }));
  }

  function start({ index, item }: Pending) {
    const round = s.round;
    running++;
    s.startedInRound++;
    s.cursor = round === 0 ? index + 1 : index;
    void runItem(contract!, itemQueue, { tenantId, batchJobId, index, round, item }).then(
      (outcome) => settle(index, round, outcome),
      // Cancellation while waiting for an item that a reset found running.
      (err: unknown) => settle(index, round, isCancellation(err) ? { status: 'cancelled' } : { status: 'failed', type: 'Error', message: String(err) }),
    );
  }

  function settle(index: number, round: number, outcome: BatchItemOutcome) {
    running--;
    if (outcome.status === 'succeeded') {
      s.done++;
      if (round > 0) resolved.push(index);
    } else if (outcome.status === 'cancelled') {
      s.cancelled++;
    } else {
      s.failed++;
      failures.push({ index, round, type: outcome.type, message: outcome.message });
    }
    changed();
  }

  try {
    for (;;) {
      const seen = version;
      // Start items while there is room, the batch is not paused and this run has history to spare.
      while (!s.paused && running < concurrency && !rollOverDue()) {
        if (page.length === 0) {
          if (s.roundExhausted) break;
          page = await loadPage();
          if (page.length === 0) s.roundExhausted = true;
          publish();
          continue;
        }
        start(page.shift()!);
      }
      if (failures.length >= flushEvery) await flush();

      if (s.roundExhausted && page.length === 0 && running === 0) {
        await flush();
        const windowMs = (input.retryWindowSeconds ?? 0) * 1000;
        if (s.failed > 0 && windowMs > 0 && !s.finishRequested) {
          s.retryWindowEndsAt ??= Date.now() + windowMs;
          publish();
          // Ends on retry-failed (a new round starts), `finish`, or the end of the window. The window's
          // timer is left to fire rather than cancelled, so the task that accepts `retry-failed` issues no
          // CancelTimer that could interleave with the update's completion differently on replay.
          const windowEnd = sleep(Math.max(1, s.retryWindowEndsAt - Date.now()), { summary: 'retry window' });
          windowEnd.catch(() => undefined);
          await Promise.race([condition(() => !s.roundExhausted || s.finishRequested), windowEnd]);
          if (!s.roundExhausted) continue;
        }
        break;
      }

      if (rollOverDue()) {
        // Drain: no child spans two runs, so the next run never has to find one.
        await condition(() => running === 0);
        await flush();
        await condition(allHandlersFinished);
        return await continueAsNew<typeof batchRunWorkflow>(job, { ...s, run: s.run + 1 });
      }
      await condition(() => version !== seen);
    }
  } catch (err) {
    if (!isCancellation(err)) throw err;
    cancelled = true;
    publish();
    // Children were cancelled with the batch's scope; count how they ended and keep their failures.
    await CancellationScope.nonCancellable(async () => {
      await condition(() => running === 0);
      await flush();
    });
    publish();
    throw err;
  }

  const { failures: listed, total } = await loadBatchFailures({ tenantId, batchJobId, limit: batchLimits.resultFailureLimit });
  completed = true;
  delete s.retryWindowEndsAt;
  publish();
  await condition(allHandlersFinished);
  return {
    total: s.total,
    succeeded: s.done,
    failed: s.failed,
    rounds: s.round + 1,
    failures: listed,
    failuresTruncated: total > listed.length,
  };
}
