/**
 * What a decision request knows while it waits: the outcome once someone
 * decides, the comments, who may decide, which notices went out; and how it
 * shows them (the `status` query, the Web UI's current details).
 */
import { setCurrentDetails } from '@temporalio/workflow';
import type { DecisionState, DecisionStatus } from '../../contracts/index.ts';

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

/** Workflow time as ISO text: deterministic on replay. */
export const nowIso = () => new Date().toISOString();

export class DecisionRecord {
  outcome: DecisionResult | undefined;
  readonly comments: DecisionStatus['comments'] = [];
  readonly approvers: string[];
  readonly sent: { reminder?: string; escalation?: string } = {};

  constructor(readonly req: DecisionRequest) {
    this.approvers = [...(req.approvers ?? [])];
  }

  get state(): DecisionState {
    return this.outcome?.decision ?? 'pending';
  }

  /** The answer of the `status` query. */
  status(): DecisionStatus {
    const { req, outcome, approvers, sent } = this;
    return {
      state: this.state,
      subject: req.subject,
      comments: [...this.comments],
      ...(outcome?.decidedBy !== undefined && { decidedBy: outcome.decidedBy }),
      expiresAt: new Date(req.expiresAt).toISOString(),
      ...(approvers.length > 0 && { approvers: [...approvers] }),
      ...(sent.reminder !== undefined && { remindedAt: sent.reminder }),
      ...(sent.escalation !== undefined && { escalatedAt: sent.escalation }),
    };
  }

  /** Shows the request in the Web UI (current details). */
  publish(): void {
    setCurrentDetails(this.details());
  }

  private details(): string {
    const { req, outcome, approvers, sent } = this;
    const lines = [`**${req.subject}**`, ''];
    if (req.details) lines.push(req.details, '');
    lines.push(`- State: ${this.state}`);
    if (outcome?.decidedBy) lines.push(`- Decided by: ${outcome.decidedBy} at ${outcome.decidedAt}`);
    if (!outcome) lines.push(`- Expires: ${new Date(req.expiresAt).toISOString()}`);
    if (approvers.length) lines.push(`- Approvers: ${approvers.join(', ')}`);
    if (sent.reminder) lines.push(`- Reminder sent: ${sent.reminder}`);
    if (sent.escalation) lines.push(`- Escalated: ${sent.escalation}`);
    lines.push(`- Comments: ${this.comments.length}`);
    return lines.join('\n');
  }
}
