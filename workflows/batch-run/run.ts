/**
 * The state of one `batch.run` run and what it does with its items: load a
 * page, start an item as a child workflow, count how it ended, write the
 * failures (and the retried items that now succeeded) to Postgres.
 */
import { isCancellation, proxyActivities, setCurrentDetails } from '@temporalio/workflow';
import type { Activities } from '../../activities/index.ts';
import { batchStoreProfile, type BatchItemFailure, type BatchItemOutcome, type BatchRunInput, type JobContract } from '../../contracts/index.ts';
import { runItem } from '../batch-item.ts';
import { flushEvery, pageBytes, pageItems, type BatchCarry } from './carry.ts';
import { progressDetails, progressOf } from './progress.ts';

/** The batch's rows in Postgres: item pages, failures, outcomes. */
export const batchStore = proxyActivities<Activities>({
  ...batchStoreProfile,
  summary: 'batch items (Postgres)',
});
const { loadBatchItems, loadRetryPage, recordBatchOutcomes } = batchStore;

/** An item loaded but not started yet. */
export interface Pending {
  index: number;
  item: unknown;
}

/** What a run needs to know of its batch; fixed for the run. */
export interface BatchRunContext {
  tenantId: string;
  batchJobId: string;
  input: BatchRunInput;
  /** The item job type's contract and the task queue (with the environment's prefix) its children run on. */
  contract: JobContract;
  itemQueue: string;
}

export class BatchRun {
  running = 0;
  page: Pending[] = [];
  failures: BatchItemFailure[] = [];
  resolved: number[] = [];
  cancelled = false;
  completed = false;
  /** Bumped by every event the main loop may act on. */
  version = 0;

  constructor(
    readonly ctx: BatchRunContext,
    /** The carried counts and cursors: handed to the next run as they are. */
    readonly s: BatchCarry,
  ) {}

  get input(): BatchRunInput {
    return this.ctx.input;
  }

  changed(): void {
    this.version++;
    this.publish();
  }

  /** Shows the progress in the Web UI (current details). */
  publish(): void {
    setCurrentDetails(progressDetails(progressOf(this), this.ctx.batchJobId));
  }

  /** Writes the failures and resolved retries counted so far, a bounded number per activity call. */
  async flush(): Promise<void> {
    const { tenantId, batchJobId } = this.ctx;
    while (this.failures.length > 0 || this.resolved.length > 0) {
      const f = this.failures.slice(0, flushEvery);
      const r = this.resolved.slice(0, flushEvery * 10);
      await recordBatchOutcomes({ tenantId, batchJobId, failures: f, resolved: r });
      this.failures = this.failures.slice(f.length);
      this.resolved = this.resolved.slice(r.length);
    }
  }

  /** The next page of the round: inline items, the stored list, or (retry rounds) the last round's failed items. */
  async loadPage(): Promise<Pending[]> {
    const { s, input } = this;
    const { tenantId, batchJobId } = this.ctx;
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

  /** Starts one item as a child workflow; its outcome is counted by `settle` when it ends. */
  start({ index, item }: Pending): void {
    const { s } = this;
    const { tenantId, batchJobId, contract, itemQueue } = this.ctx;
    const round = s.round;
    this.running++;
    s.startedInRound++;
    s.cursor = round === 0 ? index + 1 : index;
    void runItem(contract, itemQueue, { tenantId, batchJobId, index, round, item }).then(
      (outcome) => this.settle(index, round, outcome),
      // Cancellation while waiting for an item that a reset found running.
      (err: unknown) => this.settle(index, round, isCancellation(err) ? { status: 'cancelled' } : { status: 'failed', type: 'Error', message: String(err) }),
    );
  }

  settle(index: number, round: number, outcome: BatchItemOutcome): void {
    const { s } = this;
    this.running--;
    if (outcome.status === 'succeeded') {
      s.done++;
      if (round > 0) this.resolved.push(index);
    } else if (outcome.status === 'cancelled') {
      s.cancelled++;
    } else {
      s.failed++;
      this.failures.push({ index, round, type: outcome.type, message: outcome.message });
    }
    this.changed();
  }
}
