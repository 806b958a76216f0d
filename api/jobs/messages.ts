/**
 * Signals, updates and queries a job type declares in its contract. Names
 * and payloads are checked against the contract's zod schemas before
 * anything reaches Temporal; unknown names answer 404.
 */
import { randomUUID } from 'node:crypto';
import { setTimeout } from 'node:timers/promises';
import {
  ApplicationFailure,
  QueryNotRegisteredError,
  WorkflowNotFoundError,
  WorkflowUpdateFailedError,
  WorkflowUpdateRPCTimeoutOrCancelledError,
  type Client,
} from '@temporalio/client';
import type { z } from 'zod';
import { findJobContract } from '../../contracts/index.ts';
import type { Db } from '../../db/client.ts';
import type { Config } from '../../runtime/config.ts';
import { grpcCodeOf, grpcStatus } from '../../runtime/grpc-status.ts';
import type { TenantCaller } from '../http/auth.ts';
import { auditedEffect } from '../../db/audit.ts';
import { assertRunning, auditEntry } from './service.ts';
import { fieldErrors, ProblemError, type FieldError } from '../http/problems.ts';
import type { JobRow } from '../../db/schema/index.ts';

type Kind = 'signals' | 'updates' | 'queries';

function messageDef<K extends Kind>(row: JobRow, kind: K, name: string) {
  const messages = findJobContract(row.type)?.messages?.[kind] as Record<string, unknown> | undefined;
  const def = messages && Object.hasOwn(messages, name) ? messages[name] : undefined;
  if (!def) throw new ProblemError('not-found', `job type ${row.type} has no ${kind.slice(0, -1)} "${name}"`);
  return def as NonNullable<NonNullable<NonNullable<ReturnType<typeof findJobContract>>['messages']>[K]>[string];
}

function parse(schema: z.ZodType, body: unknown): unknown {
  const parsed = schema.safeParse(body);
  if (!parsed.success) throw new ProblemError('validation-error', 'the message does not match its schema', { errors: fieldErrors(parsed.error) });
  return parsed.data;
}

export async function signalJob(
  deps: { db: Db; client: Client },
  caller: TenantCaller,
  row: JobRow,
  name: string,
  body: unknown,
  requestId: string,
): Promise<void> {
  const input = parse(messageDef(row, 'signals', name).input, body);
  await assertRunning(deps.client, row);
  await auditedEffect(deps.db, auditEntry(caller, `job.signal.${name}`, row.id, requestId), () => deps.client.workflow.getHandle(row.workflowId).signal(name, input));
}

export async function updateJob(
  deps: { db: Db; client: Client; config: Pick<Config, 'messageTimeoutMs'> },
  caller: TenantCaller,
  row: JobRow,
  name: string,
  body: unknown,
  requestId: string,
): Promise<unknown> {
  const input = parse(messageDef(row, 'updates', name).input, body);
  await assertRunning(deps.client, row);
  const handle = deps.client.workflow.getHandle(row.workflowId);
  // One id for every attempt: should an attempt have been applied after all, the server answers the next with its outcome.
  const updateId = randomUUID();
  return await auditedEffect(deps.db, auditEntry(caller, `job.update.${name}`, row.id, requestId, { updateId }), async () => {
    for (let attempt = 1; ; attempt++) {
      try {
        // Without a deadline the SDK waits for a worker forever, and so would the HTTP request.
        const deadline = Date.now() + deps.config.messageTimeoutMs;
        return await deps.client.withDeadline(deadline, () => handle.executeUpdate(name, { args: [input], updateId }));
      } catch (err) {
        if (!abortedWithItsTask(err) || attempt === updateAttempts) throw updateProblem(row, err);
        await setTimeout(50 * attempt);
      }
    }
  });
}

/** Attempts at an update the server aborted with its workflow task (see {@link abortedWithItsTask}). */
const updateAttempts = 4;

/**
 * The server refused the workflow task that carried the update, so the update
 * was not applied: typically the task accepted it and closed the run while
 * another event (a signal, a child's completion) arrived, and the run must see
 * that event first. The server calls this WorkflowNotReady (gRPC
 * FAILED_PRECONDITION) and leaves the retry to the caller; the next task
 * replays with the new event and takes the update afresh.
 */
function abortedWithItsTask(err: unknown): boolean {
  return grpcCodeOf(err) === grpcStatus.FAILED_PRECONDITION;
}

/** Maps a refused update to the problem its contract declares (see `JobMessages.failures`). */
function updateProblem(row: JobRow, err: unknown): unknown {
  // The run closed between our check and the update: the decision can no longer be taken.
  if (err instanceof WorkflowNotFoundError) return new ProblemError('job-already-finished', `job ${row.id} has finished`);
  // No worker took the update before the RPC deadline. It stays admitted and may still apply: say so instead of a bare 500.
  if (err instanceof WorkflowUpdateRPCTimeoutOrCancelledError) {
    return new ProblemError('workers-unavailable', `no worker completed update for job ${row.id} in time; it may still apply, so read the job's status before retrying`);
  }
  if (abortedWithItsTask(err)) {
    return new ProblemError('update-not-applied', `job ${row.id} could not take the update ${updateAttempts} times in a row; it was not applied, retry later`);
  }
  if (!(err instanceof WorkflowUpdateFailedError)) return err;
  const cause = err.cause;
  if (!(cause instanceof ApplicationFailure)) return new ProblemError('update-rejected', (cause as Error | undefined)?.message ?? err.message);
  const kind = findJobContract(row.type)?.messages?.failures?.[cause.type ?? ''];
  if (kind === 'forbidden') return new ProblemError('forbidden', cause.message);
  if (kind === 'conflict') return new ProblemError('update-conflict', cause.message);
  const details = cause.details?.[0];
  const errors = Array.isArray(details) ? (details as FieldError[]) : undefined;
  return kind === 'invalid'
    ? new ProblemError('validation-error', cause.message, errors ? { errors } : {})
    : new ProblemError('update-rejected', cause.message);
}

export async function queryJob(deps: { client: Client; config: Pick<Config, 'messageTimeoutMs'> }, row: JobRow, name: string): Promise<unknown> {
  messageDef(row, 'queries', name);
  try {
    // Queries run on a worker: with none polling, the server gives up only after its own long timeout.
    return await deps.client.withDeadline(Date.now() + deps.config.messageTimeoutMs, () => deps.client.workflow.getHandle(row.workflowId).query(name));
  } catch (err) {
    if (err instanceof QueryNotRegisteredError) throw new ProblemError('not-found', `the job does not answer query "${name}"`);
    // Past the deadline the answer is DEADLINE_EXCEEDED or, when the server sees the cancellation first, CANCELLED
    // (the SDK treats both alike for updates).
    const code = grpcCodeOf(err);
    if (code === grpcStatus.DEADLINE_EXCEEDED || code === grpcStatus.CANCELLED) {
      throw new ProblemError('workers-unavailable', `no worker answered query "${name}" for job ${row.id} in time`);
    }
    throw err;
  }
}
