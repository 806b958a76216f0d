import { z } from 'zod';
import { defineJob, type JobMessages } from './job-contract.ts';
import { webhookDeliverInput } from './webhook-deliver.ts';

/** Who acts on a decision: an email or an id from the caller's own user directory. */
const actor = () => z.string().min(1).max(200);

/** Update, signal and query names of a decision; the workflow and the API both use these. */
export const decisionMessageNames = {
  approve: 'approve',
  reject: 'reject',
  comment: 'comment',
  status: 'status',
} as const;

/** Stable failure types an `approve` / `reject` update is rejected with (the API maps them to 400 / 403 / 409). */
export const decisionFailureTypes = {
  /** The update input does not match `decisionUpdateInput`. */
  invalidInput: 'DecisionInvalidInput',
  /** `approvers` was given and the actor is not one of them. */
  notAnApprover: 'DecisionNotAnApprover',
  /** The request was already approved, rejected or expired: the first decision stands. */
  alreadyDecided: 'DecisionAlreadyDecided',
} as const;

export const decisionStates = ['pending', 'approved', 'rejected', 'expired'] as const;
export type DecisionState = (typeof decisionStates)[number];

/**
 * Schemas a workflow parses with are built by a function, and workflows build
 * their own copy: the contracts are preloaded into the workflow sandbox once
 * and deep-frozen there (workers/workflow-bundle.ts), and zod memoizes into a
 * schema the first time it parses, which a frozen schema refuses. Every part
 * of the tree must be fresh, so nothing here reuses a schema constant.
 */
export const newDecisionUpdateInput = () =>
  z
    .object({
      by: actor(),
      comment: z.string().max(2000).optional(),
    })
    .strict();
export const decisionUpdateInput = newDecisionUpdateInput();

export const decisionUpdateOutput = z.object({
  decision: z.enum(['approved', 'rejected']),
  decidedBy: z.string(),
  decidedAt: z.iso.datetime(),
});

/** Built by a function for the same reason as {@link newDecisionUpdateInput}. */
export const newCommentSignalInput = () =>
  z
    .object({
      by: actor(),
      text: z.string().min(1).max(2000),
    })
    .strict();
export const commentSignalInput = newCommentSignalInput();

export const decisionStatus = z.object({
  state: z.enum(decisionStates),
  subject: z.string(),
  comments: z.array(z.object({ by: z.string(), text: z.string(), at: z.iso.datetime() })),
  decidedBy: z.string().optional(),
  expiresAt: z.iso.datetime(),
  /** Who may decide now (absent: anyone); escalation may add to it. */
  approvers: z.array(z.string()).optional(),
  /** When the reminder / escalation notification was sent. */
  remindedAt: z.iso.datetime().optional(),
  escalatedAt: z.iso.datetime().optional(),
});

/**
 * The messages of any workflow that waits for a person's decision
 * (`workflows/decision.ts`). Another job type that embeds a decision can
 * spread these into its own `messages`.
 */
export const decisionMessages = {
  updates: {
    [decisionMessageNames.approve]: {
      description: 'Approve the request. Rejected if it is already decided or expired.',
      input: decisionUpdateInput,
      output: decisionUpdateOutput,
    },
    [decisionMessageNames.reject]: {
      description: 'Reject the request. Rejected if it is already decided or expired.',
      input: decisionUpdateInput,
      output: decisionUpdateOutput,
    },
  },
  signals: {
    [decisionMessageNames.comment]: { description: 'Add a comment to the request.', input: commentSignalInput },
  },
  queries: {
    [decisionMessageNames.status]: { description: 'State, comments and expiry of the request.', output: decisionStatus },
  },
} satisfies JobMessages;

/** 7 days: how long a request waits when the input does not say. */
export const defaultApprovalExpirySeconds = 7 * 24 * 3600;

export const approvalRequestInput = z
  .object({
    subject: z.string().min(1).max(200),
    details: z.string().max(5000).optional(),
    /** Who may decide; when absent anyone the API lets through may. */
    approvers: z.array(actor()).max(20).optional(),
    expiresInSeconds: z
      .number()
      .int()
      .min(1)
      .max(30 * 24 * 3600)
      .optional()
      .describe(`Seconds until the request expires (default ${defaultApprovalExpirySeconds}, 7 days)`),
    /** Where reminder and escalation notifications go (a signed `webhook.deliver` child job each). */
    notify: z.object({ url: webhookDeliverInput.shape.url }).strict().optional(),
    remindAfterSeconds: z.number().int().min(1).optional().describe('Send a reminder to `notify.url` this long after the start if nobody decided'),
    escalateAfterSeconds: z
      .number()
      .int()
      .min(1)
      .optional()
      .describe('Escalate this long after the start if nobody decided: notify `notify.url` and let `escalateTo` decide too'),
    /** Added to `approvers` on escalation (when `approvers` is empty anyone may already decide). */
    escalateTo: z.array(actor()).min(1).max(20).optional(),
  })
  .strict()
  .superRefine((v, ctx) => {
    const expiry = v.expiresInSeconds ?? defaultApprovalExpirySeconds;
    const timed = v.remindAfterSeconds !== undefined || v.escalateAfterSeconds !== undefined;
    if (timed && !v.notify) ctx.addIssue({ code: 'custom', path: ['notify'], message: 'required with remindAfterSeconds or escalateAfterSeconds' });
    if (v.notify && !timed) ctx.addIssue({ code: 'custom', path: ['notify'], message: 'give remindAfterSeconds or escalateAfterSeconds too' });
    if (v.escalateTo && v.escalateAfterSeconds === undefined) ctx.addIssue({ code: 'custom', path: ['escalateTo'], message: 'needs escalateAfterSeconds' });
    for (const key of ['remindAfterSeconds', 'escalateAfterSeconds'] as const) {
      const at = v[key];
      if (at !== undefined && at >= expiry) ctx.addIssue({ code: 'custom', path: [key], message: `must be less than the expiry (${expiry} s)` });
    }
    if (v.remindAfterSeconds !== undefined && v.escalateAfterSeconds !== undefined && v.escalateAfterSeconds <= v.remindAfterSeconds) {
      ctx.addIssue({ code: 'custom', path: ['escalateAfterSeconds'], message: 'must be greater than remindAfterSeconds' });
    }
  });

export const approvalRequestOutput = z.object({
  decision: z.enum(['approved', 'rejected', 'expired']),
  decidedBy: z.string().optional(),
  comment: z.string().optional(),
  decidedAt: z.iso.datetime().optional(),
});

export type ApprovalRequestInput = z.infer<typeof approvalRequestInput>;
export type ApprovalRequestOutput = z.infer<typeof approvalRequestOutput>;
export type DecisionUpdateInput = z.infer<typeof decisionUpdateInput>;
export type DecisionUpdateOutput = z.infer<typeof decisionUpdateOutput>;
export type CommentSignalInput = z.infer<typeof commentSignalInput>;
export type DecisionStatus = z.infer<typeof decisionStatus>;

export const approvalRequest = defineJob({
  type: 'approval.request',
  workflowType: 'approvalRequestWorkflow',
  description: 'Wait for a person to approve or reject a request, with optional reminder and escalation notifications, or for it to expire.',
  input: approvalRequestInput,
  output: approvalRequestOutput,
  taskQueue: 'default',
  // One day more than the longest expiry, so a request always ends as `expired`
  // (a result) rather than as a timed-out run.
  executionTimeout: '31 days',
  messages: {
    ...decisionMessages,
    failures: {
      [decisionFailureTypes.invalidInput]: 'invalid',
      [decisionFailureTypes.notAnApprover]: 'forbidden',
      [decisionFailureTypes.alreadyDecided]: 'conflict',
    },
  },
  summary: (input, meta) => `approval.request ${JSON.stringify(input.subject)} (tenant ${meta.tenantId})`,
});
