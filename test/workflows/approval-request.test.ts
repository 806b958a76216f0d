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
  approvalRequestInput,
  approvalRequestOutput,
  decisionFailureTypes,
  decisionMessageNames as names,
  decisionStatus,
  decisionUpdateOutput,
  type DecisionStatus,
} from '../../contracts/index.ts';
import { recordHistory } from '../helpers/record-history.ts';
import { workerDataConverter } from '../../workers/create-workers.ts';
import { startTestStack, waitForJob, workflowBundlePath, type TestStack } from '../helpers/stack.ts';
import { startReceiver, type Receiver } from '../helpers/receiver.ts';
import { executeUpdate } from '../helpers/update.ts';

let stack: TestStack;
let receiver: Receiver;

beforeAll(async () => {
  stack = await startTestStack('approval');
  await stack.startWorkers();
  receiver = await startReceiver(() => ({ status: 200 }));
});
afterAll(async () => {
  await receiver?.close();
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
      await executeUpdate(handle, names.approve, { by: 'alice@example.com', comment: 'fine' }),
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
    const answer = await executeUpdate(handle, names.reject, { by: 'bob', comment: 'not yet' });
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
      executeUpdate(handle, names.approve, { by: 'carol' }),
      executeUpdate(handle, names.reject, { by: 'dave' }),
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
    await executeUpdate(handle, names.approve, { by: 'carol' });
    await handle.result();
    await expect(executeUpdate(handle, names.reject, { by: 'dave' })).rejects.toThrow(WorkflowNotFoundError);
    expect(await handle.result()).toMatchObject({ decision: 'approved', decidedBy: 'carol' });
  });

  it('refuses invalid input and non-approvers without recording anything', async () => {
    const { handle, workflowId } = await startApproval({ subject: 'Strict inputs', approvers: ['erin', 'frank'] });

    const empty = await refusal(executeUpdate(handle, names.approve, { by: '' }));
    expect(empty.type).toBe(decisionFailureTypes.invalidInput);
    expect(empty.details?.[0]).toEqual([expect.objectContaining({ path: 'by' })]);
    const extra = await refusal(executeUpdate(handle, names.approve, { by: 'erin', extra: true }));
    expect(extra.type).toBe(decisionFailureTypes.invalidInput);
    const long = await refusal(executeUpdate(handle, names.reject, { by: 'erin', comment: 'x'.repeat(2001) }));
    expect(long.type).toBe(decisionFailureTypes.invalidInput);
    const stranger = await refusal(executeUpdate(handle, names.approve, { by: 'mallory' }));
    expect(stranger.type).toBe(decisionFailureTypes.notAnApprover);

    expect((await status(handle)).state).toBe('pending');
    expect(await acceptedUpdates(handle)).toBe(0);
    await executeUpdate(handle, names.approve, { by: 'frank' });
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

    await executeUpdate(handle, names.reject, { by: 'gina' });
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

/** Notifications the receiver got for one request, by event type. */
function noticesFor(jobId: string): string[] {
  return receiver.requests
    .map((r) => JSON.parse(r.body) as { event: string; jobId: string })
    .filter((b) => b.jobId === jobId)
    .map((b) => b.event);
}

/** Child workflows the run started, by workflow id. */
async function childStarts(handle: WorkflowHandle): Promise<string[]> {
  const history = await handle.fetchHistory();
  return (history.events ?? []).flatMap((e) => e.startChildWorkflowExecutionInitiatedEventAttributes?.workflowId ?? []);
}

describe('approval.request reminders, escalation and expiry (short real timers)', () => {
  it('validates the policy: notify with a time, escalation after the reminder, both before expiry', () => {
    const paths = (input: unknown) => approvalRequestInput.safeParse(input).error?.issues.map((i) => i.path.join('.')) ?? [];
    expect(paths({ subject: 's', remindAfterSeconds: 5 })).toEqual(['notify']);
    expect(paths({ subject: 's', notify: { url: receiver.url } })).toEqual(['notify']);
    expect(paths({ subject: 's', notify: { url: receiver.url }, remindAfterSeconds: 5, escalateAfterSeconds: 5 })).toEqual(['escalateAfterSeconds']);
    expect(paths({ subject: 's', notify: { url: receiver.url }, remindAfterSeconds: 60, expiresInSeconds: 30 })).toEqual(['remindAfterSeconds']);
    expect(paths({ subject: 's', notify: { url: receiver.url }, remindAfterSeconds: 5, escalateTo: ['x'] })).toEqual(['escalateTo']);
    expect(paths({ subject: 's', notify: { url: receiver.url }, remindAfterSeconds: 5, escalateAfterSeconds: 9, escalateTo: ['x'] })).toEqual([]);
  });

  it('remind, then approve through the API: one reminder webhook, no escalation', async () => {
    const res = await stack.api('/v1/jobs', {
      method: 'POST',
      role: 'submitter',
      body: JSON.stringify({
        type: 'approval.request',
        input: { subject: 'Ship release 7', notify: { url: receiver.url }, remindAfterSeconds: 1, escalateAfterSeconds: 120, expiresInSeconds: 300 },
      }),
    });
    const job = (await res.json()) as { id: string; workflowId: string };
    expect(res.status).toBe(201);
    await expect.poll(() => noticesFor(job.id), { timeout: 30_000 }).toEqual(['approval.reminder']);
    const status = (await (await stack.api(`/v1/jobs/${job.id}/queries/status`, { role: 'viewer' })).json()) as { result: DecisionStatus };
    expect(status.result.state).toBe('pending');
    expect(status.result.remindedAt).toBeDefined();
    expect(status.result.escalatedAt).toBeUndefined();
    const decided = await stack.api(`/v1/jobs/${job.id}/updates/approve`, { method: 'POST', role: 'submitter', body: JSON.stringify({ by: 'ops@example.com' }) });
    expect(decided.status).toBe(200);
    expect((await waitForJob(stack, job.id)).result).toMatchObject({ decision: 'approved', decidedBy: 'ops@example.com' });
    const reminder = receiver.requests.find((r) => (JSON.parse(r.body) as { jobId: string }).jobId === job.id)!;
    expect(reminder.headers['jobplane-signature']).toMatch(/t=\d+,v1=/);
    const handle = stack.client.workflow.getHandle(job.workflowId);
    expect(await childStarts(handle)).toEqual([`${job.workflowId}/reminder`]);
    expect(noticesFor(job.id)).toEqual(['approval.reminder']);
    await recordHistory(stack.temporal.address, job.workflowId, 'approval-request', 'reminded-then-approved');
  });

  it('escalate: escalateTo may decide only after the escalation, which is notified', async () => {
    const { handle, workflowId } = await startApproval({
      subject: 'Wire 1M',
      approvers: ['alice'],
      notify: { url: receiver.url },
      remindAfterSeconds: 1,
      escalateAfterSeconds: 4,
      escalateTo: ['boss'],
      expiresInSeconds: 300,
    });
    const jobId = workflowId.slice(stack.tenantId.length + 1);
    // After the reminder, before the escalation: boss may not decide yet.
    await expect.poll(() => noticesFor(jobId), { timeout: 30_000 }).toContain('approval.reminder');
    if (!(await status(handle)).escalatedAt) {
      const early = await refusal(executeUpdate(handle, names.approve, { by: 'boss' }));
      expect(early.type).toBe(decisionFailureTypes.notAnApprover);
    }
    await expect.poll(() => noticesFor(jobId), { timeout: 30_000 }).toEqual(['approval.reminder', 'approval.escalation']);
    await expect.poll(async () => (await status(handle)).escalatedAt, { timeout: 10_000 }).toBeDefined();
    expect((await status(handle)).approvers).toEqual(['alice', 'boss']);
    const escalation = receiver.requests.map((r) => JSON.parse(r.body) as Record<string, unknown>).find((b) => b.jobId === jobId && b.event === 'approval.escalation');
    expect(escalation).toMatchObject({ subject: 'Wire 1M', approvers: ['alice'], escalatedTo: ['boss'] });
    await executeUpdate(handle, names.approve, { by: 'boss' });
    expect(await handle.result()).toMatchObject({ decision: 'approved', decidedBy: 'boss' });
    await recordHistory(stack.temporal.address, workflowId, 'approval-request', 'escalated-then-approved');
  });

  it('reject before the reminder: nothing is sent', async () => {
    const { handle, workflowId } = await startApproval({ subject: 'Quick no', notify: { url: receiver.url }, remindAfterSeconds: 2, expiresInSeconds: 60 });
    await executeUpdate(handle, names.reject, { by: 'carl' });
    expect(await handle.result()).toMatchObject({ decision: 'rejected', decidedBy: 'carl' });
    expect(await childStarts(handle)).toEqual([]);
    await recordHistory(stack.temporal.address, workflowId, 'approval-request', 'rejected-before-reminder');
  });

  it('remind, escalate, expire; a reset replaying the same timers sends nothing twice', async () => {
    const { handle, workflowId } = await startApproval({
      subject: 'Nobody cares',
      notify: { url: receiver.url },
      remindAfterSeconds: 1,
      escalateAfterSeconds: 2,
      expiresInSeconds: 3,
    });
    const jobId = workflowId.slice(stack.tenantId.length + 1);
    expect(await handle.result()).toEqual({ decision: 'expired' });
    await expect.poll(() => noticesFor(jobId), { timeout: 30_000 }).toEqual(['approval.reminder', 'approval.escalation']);
    await recordHistory(stack.temporal.address, workflowId, 'approval-request', 'reminded-escalated-expired');

    // Reset to the first workflow task: the new run passes both timers again.
    const events = (await handle.fetchHistory()).events ?? [];
    const firstTask = events.find((e) => e.workflowTaskCompletedEventAttributes)!;
    const { runId } = await stack.client.workflowService.resetWorkflowExecution({
      namespace: stack.config.temporalNamespace,
      workflowExecution: { workflowId },
      reason: 'approval reset test',
      workflowTaskFinishEventId: firstTask.eventId,
      requestId: `reset-${workflowId}`,
    });
    expect(await stack.client.workflow.getHandle(workflowId, runId!).result()).toEqual({ decision: 'expired' });
    for (const kind of ['reminder', 'escalation']) expect((await stack.client.workflow.count(`WorkflowId = "${workflowId}/${kind}"`)).count).toBe(1);
    expect(noticesFor(jobId)).toEqual(['approval.reminder', 'approval.escalation']);
  });
});
