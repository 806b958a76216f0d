/**
 * "Wait for a person's decision" as a building block any workflow can embed:
 * the approve/reject updates, the comment signal and the status query declared
 * by `decisionMessages` in the contracts, and a wait that ends at the first
 * decision or at expiry.
 *
 * `waitForDecision()` is the whole thing in one call. `openDecision()` hands
 * out the pieces so a workflow can wait in slices and act between them
 * (reminders, escalation) without changing the message surface.
 */
import {
  ApplicationFailure,
  allHandlersFinished,
  condition,
  defineQuery,
  defineSignal,
  defineUpdate,
  log,
  setCurrentDetails,
  setHandler,
  sleep,
} from '@temporalio/workflow';
import type { z } from 'zod';
import {
  decisionFailureTypes,
  decisionMessageNames as names,
  decisionMessages,
  newCommentSignalInput,
  newDecisionUpdateInput,
  type CommentSignalInput,
  type DecisionState,
  type DecisionStatus,
  type DecisionUpdateInput,
  type DecisionUpdateOutput,
} from '../contracts/index.ts';

export const approveUpdate = defineUpdate<DecisionUpdateOutput, [DecisionUpdateInput]>(names.approve);
export const rejectUpdate = defineUpdate<DecisionUpdateOutput, [DecisionUpdateInput]>(names.reject);
export const commentSignal = defineSignal<[CommentSignalInput]>(names.comment);
export const statusQuery = defineQuery<DecisionStatus>(names.status);

export interface DecisionRequest {
  subject: string;
  /** Markdown shown under the subject in the Web UI. */
  details?: string;
  /** When non-empty, only these actors may approve or reject. */
  approvers?: readonly string[];
  /** Epoch milliseconds at which an undecided request expires. */
  expiresAt: number;
}

export interface DecisionResult {
  decision: Exclude<DecisionState, 'pending'>;
  decidedBy?: string;
  comment?: string;
  decidedAt?: string;
}

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
  // This workflow's own schemas: the contracts' instances are shared and frozen (see newDecisionUpdateInput).
  const decisionUpdateInput = newDecisionUpdateInput();
  const commentSignalInput = newCommentSignalInput();
  let outcome: DecisionResult | undefined;
  const comments: DecisionStatus['comments'] = [];
  const approvers = [...(req.approvers ?? [])];
  const sent: { reminder?: string; escalation?: string } = {};
  const state = (): DecisionState => outcome?.decision ?? 'pending';
  const nowIso = () => new Date().toISOString(); // workflow time: deterministic on replay

  const publish = () => {
    const lines = [`**${req.subject}**`, ''];
    if (req.details) lines.push(req.details, '');
    lines.push(`- State: ${state()}`);
    if (outcome?.decidedBy) lines.push(`- Decided by: ${outcome.decidedBy} at ${outcome.decidedAt}`);
    if (!outcome) lines.push(`- Expires: ${new Date(req.expiresAt).toISOString()}`);
    if (approvers.length) lines.push(`- Approvers: ${approvers.join(', ')}`);
    if (sent.reminder) lines.push(`- Reminder sent: ${sent.reminder}`);
    if (sent.escalation) lines.push(`- Escalated: ${sent.escalation}`);
    lines.push(`- Comments: ${comments.length}`);
    setCurrentDetails(lines.join('\n'));
  };

  // Validators run before an update is accepted; throwing rejects it and
  // nothing reaches the history, so a late or invalid decision leaves no trace.
  const validate = (input: unknown) => {
    const parsed = decisionUpdateInput.safeParse(input);
    if (!parsed.success) {
      throw ApplicationFailure.create({
        type: decisionFailureTypes.invalidInput,
        message: `invalid decision: ${describeIssues(parsed.error)}`,
        details: [issueList(parsed.error)],
        nonRetryable: true,
      });
    }
    if (approvers.length && !approvers.includes(parsed.data.by)) {
      throw ApplicationFailure.create({
        type: decisionFailureTypes.notAnApprover,
        message: `${parsed.data.by} is not an approver of this request`,
        nonRetryable: true,
      });
    }
    if (outcome) {
      const by = outcome.decidedBy ? ` by ${outcome.decidedBy}` : '';
      throw ApplicationFailure.create({
        type: decisionFailureTypes.alreadyDecided,
        message: `request already ${outcome.decision}${by}`,
        nonRetryable: true,
      });
    }
  };

  // Synchronous on purpose: the SDK runs a handler's synchronous part right
  // after its validator, so no second decision can slip in between.
  const decide =
    (decision: 'approved' | 'rejected') =>
    ({ by, comment }: DecisionUpdateInput): DecisionUpdateOutput => {
      const decidedAt = nowIso();
      outcome = { decision, decidedBy: by, decidedAt, ...(comment !== undefined && { comment }) };
      publish();
      return { decision, decidedBy: by, decidedAt };
    };

  const { updates, signals, queries } = decisionMessages;
  setHandler(approveUpdate, decide('approved'), { validator: validate, description: updates.approve.description });
  setHandler(rejectUpdate, decide('rejected'), { validator: validate, description: updates.reject.description });
  setHandler(
    commentSignal,
    (input) => {
      // Signals cannot be refused; the API validates first, so this only drops malformed direct calls.
      const parsed = commentSignalInput.safeParse(input);
      if (!parsed.success) {
        log.warn('ignored invalid comment signal', { issues: describeIssues(parsed.error) });
        return;
      }
      comments.push({ by: parsed.data.by, text: parsed.data.text, at: nowIso() });
      publish();
    },
    { description: signals.comment.description },
  );
  setHandler(
    statusQuery,
    () => ({
      state: state(),
      subject: req.subject,
      comments: [...comments],
      ...(outcome?.decidedBy !== undefined && { decidedBy: outcome.decidedBy }),
      expiresAt: new Date(req.expiresAt).toISOString(),
      ...(approvers.length > 0 && { approvers: [...approvers] }),
      ...(sent.reminder !== undefined && { remindedAt: sent.reminder }),
      ...(sent.escalation !== undefined && { escalatedAt: sent.escalation }),
    }),
    { description: queries.status.description },
  );
  publish();

  return {
    get state() {
      return state();
    },
    async waitUntil(until = req.expiresAt, summary = 'waiting for a decision until expiry', opts = {}) {
      const remaining = until - Date.now();
      if (remaining > 0 && !outcome) {
        if (opts.leaveTimer) {
          const timer = sleep(remaining, { summary });
          // The timer is never awaited once a decision wins the race; its cancellation with the run must not go unhandled.
          timer.catch(() => undefined);
          await Promise.race([condition(() => outcome !== undefined), timer]);
        } else {
          await condition(() => outcome !== undefined, remaining, { summary });
        }
      }
      return outcome !== undefined;
    },
    async close() {
      if (!outcome) {
        outcome = { decision: 'expired' };
        publish();
      }
      // An update accepted in the last task must get its reply before the run closes.
      await condition(allHandlersFinished);
      return outcome;
    },
    addApprovers(actors) {
      if (approvers.length === 0) return;
      for (const a of actors) if (!approvers.includes(a)) approvers.push(a);
      publish();
    },
    noteSent(kind) {
      sent[kind] = nowIso();
      publish();
    },
  };
}

/** Waits for the first decision or the expiry, with the messages of `decisionMessages`. */
export async function waitForDecision(req: DecisionRequest): Promise<DecisionResult> {
  const decision = openDecision(req);
  await decision.waitUntil();
  return await decision.close();
}

function issueList(error: z.ZodError): { path: string; message: string }[] {
  return error.issues.map((i) => ({ path: i.path.map(String).join('.'), message: i.message }));
}

function describeIssues(error: z.ZodError): string {
  return issueList(error)
    .map((i) => (i.path ? `${i.path}: ${i.message}` : i.message))
    .join('; ');
}
