/**
 * approval.request on the real dev server: approve and reject through
 * updates, refused concurrent, late or invalid decisions (validator: nothing
 * in history), comments and the status query, and expiry. Workflows are started
 * with the Temporal client, the way the API starts them.
 */
import { workerTracingOptions } from '../../runtime/tracing.ts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApplicationFailure, WorkflowNotFoundError, WorkflowUpdateFailedError, type WorkflowHandle } from '@temporalio/client';
import { NativeConnection, Worker } from '@temporalio/worker';
import {
  approvalRequestOutput,
  decisionFailureTypes,
  decisionMessageNames as names,
  decisionStatus,
  decisionUpdateOutput,
  type DecisionStatus,
} from '../../contracts/index.ts';
import { recordHistory } from '../helpers/record-history.ts';
import { workerDataConverter } from '../../workers/create-workers.ts';
import { startTestStack, workflowBundlePath, type TestStack } from '../helpers/stack.ts';

let stack: TestStack;

beforeAll(async () => {
  stack = await startTestStack('approval');
  await stack.startWorkers();
});
afterAll(async () => {
  await stack?.close();
});

let seq = 0;
async function startApproval(
  input: Record<string, unknown>,
  taskQueue = stack.env.JOBPLANE_TASK_QUEUE_PREFIX + 'default',
): Promise<{ handle: WorkflowHandle; workflowId: string }> {
  const jobId = `job_approval_${Date.now()}_${++seq}`;
  const workflowId = `${stack.tenantId}:${jobId}`;
  const handle = await stack.client.workflow.start('approvalRequestWorkflow', {
    taskQueue,
    workflowId,
    args: [{ tenantId: stack.tenantId, jobId, input }],
  });
  return { handle, workflowId };
}

/** The failure a refused update carries; fails the test if the update was accepted. */
async function refusal(update: Promise<unknown>): Promise<ApplicationFailure> {
  const err = await update.then(
    (value) => {
      throw new Error(`update was accepted: ${JSON.stringify(value)}`);
    },
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(WorkflowUpdateFailedError);
  const cause = (err as WorkflowUpdateFailedError).cause;
  expect(cause).toBeInstanceOf(ApplicationFailure);
  return cause as ApplicationFailure;
}

async function status(handle: WorkflowHandle): Promise<DecisionStatus> {
  return decisionStatus.parse(await handle.query(names.status));
}

/** How many updates the history shows as accepted (refused ones never appear). */
async function acceptedUpdates(handle: WorkflowHandle): Promise<number> {
  const history = await handle.fetchHistory();
  return (history.events ?? []).filter((e) => e.workflowExecutionUpdateAcceptedEventAttributes).length;
}

describe('approval.request', () => {
  it('approve: the update answers with the decision and the result matches', async () => {
    const { handle, workflowId } = await startApproval({ subject: 'Refund order 42', approvers: ['alice@example.com'] });
    const answer = decisionUpdateOutput.parse(
      await handle.executeUpdate(names.approve, { args: [{ by: 'alice@example.com', comment: 'fine' }] }),
    );
    expect(answer).toMatchObject({ decision: 'approved', decidedBy: 'alice@example.com' });

    const result = approvalRequestOutput.parse(await handle.result());
    expect(result).toEqual({ decision: 'approved', decidedBy: 'alice@example.com', comment: 'fine', decidedAt: answer.decidedAt });
    expect((await status(handle)).state).toBe('approved');
    // What the Web UI shows as the run's current details.
    const meta = (await handle.query('__temporal_workflow_metadata')) as { currentDetails: string };
    expect(meta.currentDetails).toContain('Refund order 42');
    expect(meta.currentDetails).toContain('State: approved');
    expect(meta.currentDetails).toContain('Decided by: alice@example.com');
    await recordHistory(stack.temporal.address, workflowId, 'approval-request', 'approved');
  });

  it('reject: the result says who rejected and why', async () => {
    const { handle, workflowId } = await startApproval({ subject: 'Delete tenant data', details: 'All of it.' });
    const answer = await handle.executeUpdate(names.reject, { args: [{ by: 'bob', comment: 'not yet' }] });
    expect(answer).toMatchObject({ decision: 'rejected', decidedBy: 'bob' });
    expect(await handle.result()).toMatchObject({ decision: 'rejected', decidedBy: 'bob', comment: 'not yet' });
    await recordHistory(stack.temporal.address, workflowId, 'approval-request', 'rejected');
  });

  it('refuses the second of two concurrent decisions in the validator: nothing of it reaches history', async () => {
    // Once one decision is in, the run closes, so a later one finds it closed. The
    // validator matters when two arrive together: hold the run on a queue nobody
    // polls until both updates are admitted, so its first task carries both.
    const taskQueue = stack.env.JOBPLANE_TASK_QUEUE_PREFIX + 'held';
    const { handle, workflowId } = await startApproval({ subject: 'Two deciders' }, taskQueue);
    const decisions = Promise.allSettled([
      handle.executeUpdate(names.approve, { args: [{ by: 'carol' }] }),
      handle.executeUpdate(names.reject, { args: [{ by: 'dave' }] }),
    ]);
    await new Promise((r) => setTimeout(r, 1000));

    const connection = await NativeConnection.connect({ address: stack.temporal.address });
    try {
      const worker = await Worker.create({
        connection,
        namespace: stack.config.temporalNamespace,
        taskQueue,
        workflowBundle: { codePath: await workflowBundlePath() },
        dataConverter: workerDataConverter(stack.config),
        // The bundle's tracing interceptors call this sink, as in real workers.
        sinks: workerTracingOptions().sinks,
      });
      await worker.runUntil(async () => {
        const settled = await decisions;
        const won = settled.find((s) => s.status === 'fulfilled');
        const lost = settled.find((s) => s.status === 'rejected');
        expect(won && lost, JSON.stringify(settled)).toBeTruthy();
        const winner = decisionUpdateOutput.parse((won as PromiseFulfilledResult<unknown>).value);
        const refused = await refusal(Promise.reject((lost as PromiseRejectedResult).reason));
        expect(refused.type).toBe(decisionFailureTypes.alreadyDecided);
        expect(refused.message).toContain(`already ${winner.decision} by ${winner.decidedBy}`);

        expect(await handle.result()).toEqual(winner);
        expect(await status(handle)).toMatchObject({ state: winner.decision, decidedBy: winner.decidedBy });
      });
    } finally {
      await connection.close();
    }
    expect(await acceptedUpdates(handle)).toBe(1);
    await recordHistory(stack.temporal.address, workflowId, 'approval-request', 'concurrent-decision-refused');
  });

  it('a decision after the run closed is refused by the server (the run is complete)', async () => {
    const { handle } = await startApproval({ subject: 'Late decider' });
    await handle.executeUpdate(names.approve, { args: [{ by: 'carol' }] });
    await handle.result();
    await expect(handle.executeUpdate(names.reject, { args: [{ by: 'dave' }] })).rejects.toThrow(WorkflowNotFoundError);
    expect(await handle.result()).toMatchObject({ decision: 'approved', decidedBy: 'carol' });
  });

  it('refuses invalid input and non-approvers without recording anything', async () => {
    const { handle, workflowId } = await startApproval({ subject: 'Strict inputs', approvers: ['erin', 'frank'] });

    const empty = await refusal(handle.executeUpdate(names.approve, { args: [{ by: '' }] }));
    expect(empty.type).toBe(decisionFailureTypes.invalidInput);
    expect(empty.details?.[0]).toEqual([expect.objectContaining({ path: 'by' })]);
    const extra = await refusal(handle.executeUpdate(names.approve, { args: [{ by: 'erin', extra: true }] }));
    expect(extra.type).toBe(decisionFailureTypes.invalidInput);
    const long = await refusal(handle.executeUpdate(names.reject, { args: [{ by: 'erin', comment: 'x'.repeat(2001) }] }));
    expect(long.type).toBe(decisionFailureTypes.invalidInput);
    const stranger = await refusal(handle.executeUpdate(names.approve, { args: [{ by: 'mallory' }] }));
    expect(stranger.type).toBe(decisionFailureTypes.notAnApprover);

    expect((await status(handle)).state).toBe('pending');
    expect(await acceptedUpdates(handle)).toBe(0);
    await handle.executeUpdate(names.approve, { args: [{ by: 'frank' }] });
    expect(await handle.result()).toMatchObject({ decision: 'approved', decidedBy: 'frank' });
    expect(await acceptedUpdates(handle)).toBe(1);
    await recordHistory(stack.temporal.address, workflowId, 'approval-request', 'invalid-decisions-refused');
  });

  it('collects comments and reports them in the status query', async () => {
    const { handle, workflowId } = await startApproval({ subject: 'Raise limit' });
    const started = (await handle.describe()).startTime.getTime();
    await handle.signal(names.comment, { by: 'gina', text: 'Why now?' });
    await handle.signal(names.comment, { by: '', text: 'dropped: invalid' });
    await handle.signal(names.comment, { by: 'hal', text: 'Quarter end.' });

    const pending = await status(handle);
    expect(pending).toMatchObject({
      state: 'pending',
      subject: 'Raise limit',
      comments: [
        { by: 'gina', text: 'Why now?' },
        { by: 'hal', text: 'Quarter end.' },
      ],
    });
    expect(pending.decidedBy).toBeUndefined();
    // Default expiry: 7 days from the start.
    expect(Date.parse(pending.expiresAt) - started).toBe(7 * 24 * 3600 * 1000);

    await handle.executeUpdate(names.reject, { args: [{ by: 'gina' }] });
    await handle.result();
    expect(await status(handle)).toMatchObject({ state: 'rejected', decidedBy: 'gina' });
    expect((await status(handle)).comments).toHaveLength(2);
    await recordHistory(stack.temporal.address, workflowId, 'approval-request', 'comments-then-rejected');
  });

  it('expires when nobody decides in time', async () => {
    const { handle, workflowId } = await startApproval({ subject: 'Nobody answers', expiresInSeconds: 2 });
    const started = (await handle.describe()).startTime.getTime();
    expect(await handle.result()).toEqual({ decision: 'expired' });
    expect(Date.now() - started).toBeGreaterThanOrEqual(1900);
    expect((await status(handle)).state).toBe('expired');
    await recordHistory(stack.temporal.address, workflowId, 'approval-request', 'expired');
  });
});
