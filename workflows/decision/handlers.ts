/**
 * The messages of a decision (`decisionMessages` in the contracts): the
 * approve / reject updates with their validator, the comment signal and the
 * status query.
 */
import { ApplicationFailure, defineQuery, defineSignal, defineUpdate, log, setHandler } from '@temporalio/workflow';
import type { z } from 'zod';
import {
  decisionFailureTypes,
  decisionMessageNames as names,
  decisionMessages,
  newCommentSignalInput,
  newDecisionUpdateInput,
  type CommentSignalInput,
  type DecisionStatus,
  type DecisionUpdateInput,
  type DecisionUpdateOutput,
} from '../../contracts/index.ts';
import { nowIso, type DecisionRecord } from './record.ts';

export const approveUpdate = defineUpdate<DecisionUpdateOutput, [DecisionUpdateInput]>(names.approve);
export const rejectUpdate = defineUpdate<DecisionUpdateOutput, [DecisionUpdateInput]>(names.reject);
export const commentSignal = defineSignal<[CommentSignalInput]>(names.comment);
export const statusQuery = defineQuery<DecisionStatus>(names.status);

/** Registers every handler of the request. */
export function registerDecisionHandlers(record: DecisionRecord): void {
  // This workflow's own schemas: the contracts' instances are shared and frozen (see newDecisionUpdateInput).
  const decisionUpdateInput = newDecisionUpdateInput();
  const commentSignalInput = newCommentSignalInput();
  const validate = (input: unknown) => validateDecision(record, decisionUpdateInput, input);
  const { updates, signals, queries } = decisionMessages;
  setHandler(approveUpdate, decide(record, 'approved'), { validator: validate, description: updates.approve.description });
  setHandler(rejectUpdate, decide(record, 'rejected'), { validator: validate, description: updates.reject.description });
  setHandler(commentSignal, (input) => addComment(record, commentSignalInput, input), { description: signals.comment.description });
  setHandler(statusQuery, () => record.status(), { description: queries.status.description });
}

/**
 * The validator of approve / reject. Validators run before an update is
 * accepted; throwing rejects it and nothing reaches the history, so a late or
 * invalid decision leaves no trace.
 */
function validateDecision(record: DecisionRecord, schema: ReturnType<typeof newDecisionUpdateInput>, input: unknown): void {
  const parsed = schema.safeParse(input);
  if (!parsed.success) {
    throw ApplicationFailure.create({
      type: decisionFailureTypes.invalidInput,
      message: `invalid decision: ${describeIssues(parsed.error)}`,
      details: [issueList(parsed.error)],
      nonRetryable: true,
    });
  }
  const { approvers, outcome } = record;
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
}

/**
 * The approve / reject handler. Synchronous on purpose: the SDK runs a
 * handler's synchronous part right after its validator, so no second
 * decision can slip in between.
 */
function decide(record: DecisionRecord, decision: 'approved' | 'rejected') {
  return ({ by, comment }: DecisionUpdateInput): DecisionUpdateOutput => {
    const decidedAt = nowIso();
    record.outcome = { decision, decidedBy: by, decidedAt, ...(comment !== undefined && { comment }) };
    record.publish();
    return { decision, decidedBy: by, decidedAt };
  };
}

/** The comment handler. Signals cannot be refused; the API validates first, so this only drops malformed direct calls. */
function addComment(record: DecisionRecord, schema: ReturnType<typeof newCommentSignalInput>, input: CommentSignalInput): void {
  const parsed = schema.safeParse(input);
  if (!parsed.success) {
    log.warn('ignored invalid comment signal', { issues: describeIssues(parsed.error) });
    return;
  }
  record.comments.push({ by: parsed.data.by, text: parsed.data.text, at: nowIso() });
  record.publish();
}

function issueList(error: z.ZodError): { path: string; message: string }[] {
  return error.issues.map((i) => ({ path: i.path.map(String).join('.'), message: i.message }));
}

function describeIssues(error: z.ZodError): string {
  return issueList(error)
    .map((i) => (i.path ? `${i.path}: ${i.message}` : i.message))
    .join('; ');
}
