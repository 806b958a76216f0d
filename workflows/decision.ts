/**
 * "Wait for a person's decision" as a building block any workflow can embed:
 * the approve/reject updates, the comment signal and the status query declared
 * by `decisionMessages` in the contracts, and a wait that ends at the first
 * decision or at expiry.
 *
 * `waitForDecision()` is the whole thing in one call. `openDecision()` hands
 * out the pieces so a workflow can wait in slices and act between them
 * (reminders, escalation) without changing the message surface.
 *
 * The pieces live in `workflows/decision/`: what the request knows and shows
 * (`record.ts`) and its message handlers (`handlers.ts`). The waits stay here,
 * with the awaits they always had, so the commands of a wait are unchanged.
 */
import { allHandlersFinished, condition, sleep } from '@temporalio/workflow';
import type { DecisionState } from '../contracts/index.ts';
import { registerDecisionHandlers } from './decision/handlers.ts';
import { DecisionRecord, nowIso, type DecisionRequest, type DecisionResult } from './decision/record.ts';

export { approveUpdate, commentSignal, rejectUpdate, statusQuery } from './decision/handlers.ts';
export type { DecisionRequest, DecisionResult } from './decision/record.ts';

export interface OpenDecision {
  /** `pending` until someone decides or `close()` expires the request. */
  readonly state: DecisionState;
  /**
   * Waits until a decision or until `until` (epoch ms, default: expiry),
   * whichever comes first; true if decided.
   *
   * `leaveTimer`: a decision leaves the timer running instead of cancelling
   * it, so the decision's task issues no CancelTimer command that could
   * interleave with the update's completion (used by every wait of a request
   * with reminders; the first version's path keeps cancelling, as its
   * recorded histories do).
   */
  waitUntil(until?: number, summary?: string, opts?: { leaveTimer?: boolean }): Promise<boolean>;
  /** Ends the wait: an undecided request becomes `expired`. Returns once every handler has finished. */
  close(): Promise<DecisionResult>;
  /** Lets more actors decide (escalation). No effect while anyone may decide (no approvers given). */
  addApprovers(actors: readonly string[]): void;
  /** Records that a reminder or an escalation went out (status query and Web UI details). */
  noteSent(kind: 'reminder' | 'escalation'): void;
}

/** Registers the decision handlers. Call before the workflow's first `await` so no early message is buffered. */
export function openDecision(req: DecisionRequest): OpenDecision {
  const record = new DecisionRecord(req);
  registerDecisionHandlers(record);
  record.publish();
  return new PendingDecision(record);
}

/** Waits for the first decision or the expiry, with the messages of `decisionMessages`. */
export async function waitForDecision(req: DecisionRequest): Promise<DecisionResult> {
  const decision = openDecision(req);
  await decision.waitUntil();
  return await decision.close();
}

/** The `OpenDecision` a workflow holds: its waits and the changes it makes between them. */
class PendingDecision implements OpenDecision {
  constructor(private readonly record: DecisionRecord) {}

  get state(): DecisionState {
    return this.record.state;
  }

  async waitUntil(until = this.record.req.expiresAt, summary = 'waiting for a decision until expiry', opts: { leaveTimer?: boolean } = {}): Promise<boolean> {
    const { record } = this;
    const remaining = until - Date.now();
    if (remaining > 0 && !record.outcome) {
      if (opts.leaveTimer) {
        const timer = sleep(remaining, { summary });
        // The timer is never awaited once a decision wins the race; its cancellation with the run must not go unhandled.
        timer.catch(() => undefined);
        await Promise.race([condition(() => record.outcome !== undefined), timer]);
      } else {
        await condition(() => record.outcome !== undefined, remaining, { summary });
      }
    }
    return record.outcome !== undefined;
  }

  async close(): Promise<DecisionResult> {
    const { record } = this;
    if (!record.outcome) {
      record.outcome = { decision: 'expired' };
      record.publish();
    }
    // An update accepted in the last task must get its reply before the run closes.
    await condition(allHandlersFinished);
    return record.outcome;
  }

  addApprovers(actors: readonly string[]): void {
    const { approvers } = this.record;
    if (approvers.length === 0) return;
    for (const a of actors) if (!approvers.includes(a)) approvers.push(a);
    this.record.publish();
  }

  noteSent(kind: 'reminder' | 'escalation'): void {
    this.record.sent[kind] = nowIso();
    this.record.publish();
  }
}
