/**
 * Signals, updates and queries a job type declares in its contract. Names
 * and payloads are checked against the contract's zod schemas before
 * anything reaches Temporal; unknown names answer 404.
 */
import { ApplicationFailure, QueryNotRegisteredError, WorkflowNotFoundError, WorkflowUpdateFailedError, type Client } from '@temporalio/client';
import type { z } from 'zod';
import { findJobContract } from '../contracts/index.ts';
import type { Db } from '../db/client.ts';
import type { TenantCaller } from './auth.ts';
import { assertRunning, audit } from './job-service.ts';
import type { JobRow } from './job-view.ts';
import { fieldErrors, ProblemError, type FieldError } from './problems.ts';

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
  await deps.client.workflow.getHandle(row.workflowId).signal(name, input);
  await audit(deps.db, caller, `job.signal.${name}`, row.id, requestId);
}

export async function updateJob(
  deps: { db: Db; client: Client },
  caller: TenantCaller,
  row: JobRow,
  name: string,
  body: unknown,
  requestId: string,
): Promise<unknown> {
  const input = parse(messageDef(row, 'updates', name).input, body);
  await assertRunning(deps.client, row);
  try {
    const result = await deps.client.workflow.getHandle(row.workflowId).executeUpdate(name, { args: [input] });
    await audit(deps.db, caller, `job.update.${name}`, row.id, requestId);
    return result;
  } catch (err) {
    throw updateProblem(row, err);
  }
}

/** Maps a refused update to the problem its contract declares (see `JobMessages.failures`). */
function updateProblem(row: JobRow, err: unknown): unknown {
  // The run closed between our check and the update: the decision can no longer be taken.
  if (err instanceof WorkflowNotFoundError) return new ProblemError('job-already-finished', `job ${row.id} has finished`);
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

export async function queryJob(client: Client, row: JobRow, name: string): Promise<unknown> {
  messageDef(row, 'queries', name);
  try {
    return await client.workflow.getHandle(row.workflowId).query(name);
  } catch (err) {
    if (err instanceof QueryNotRegisteredError) throw new ProblemError('not-found', `the job does not answer query "${name}"`);
    throw err;
  }
}
