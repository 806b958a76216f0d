/**
 * A decision that races another event, on the real dev server. The approve
 * update's workflow task also closes the run; if a comment signal lands while
 * that task is in flight, the server refuses the completion (UnhandledCommand:
 * the run must see the new event before it may close) and aborts the update,
 * which was never applied (FAILED_PRECONDITION "unexpected workflow task
 * failure"). The API must send it again, not answer 500.
 *
 * The race is made certain, not hoped for: the workers reach the server
 * through a gRPC proxy that holds their next `RespondWorkflowTaskCompleted`
 * until the test has sent the signal.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startGrpcProxy, type GrpcProxy } from '../helpers/grpc-proxy.ts';
import { startTestStack, waitForJob, type TestStack } from '../helpers/stack.ts';

let stack: TestStack;
let proxy: GrpcProxy;
/** Armed by the test: the next workflow-task completion waits for `release`. */
let holdNextCompletion: { reached: () => void; release: Promise<void> } | undefined;

beforeAll(async () => {
  stack = await startTestStack('decision-race');
  proxy = await startGrpcProxy({
    upstream: stack.temporal.address,
    hold: (method) => {
      if (method !== 'RespondWorkflowTaskCompleted' || !holdNextCompletion) return undefined;
      const { reached, release } = holdNextCompletion;
      holdNextCompletion = undefined;
      reached();
      return release;
    },
  });
  await stack.startWorkers({ temporalAddress: proxy.address });
});
afterAll(async () => {
  await stack?.close();
  await proxy?.close();
});

it('an approve whose task the server refuses (a signal arrived meanwhile) is sent again and applied once', async () => {
  const created = await stack.api('/v1/jobs', {
    method: 'POST',
    role: 'submitter',
    body: JSON.stringify({ type: 'approval.request', input: { subject: 'Rotate keys', expiresInSeconds: 300 } }),
  });
  expect(created.status).toBe(201);
  const job = (await created.json()) as { id: string; workflowId: string };
  // The first task has run (handlers registered) once the status query answers.
  await expect.poll(async () => (await stack.api(`/v1/jobs/${job.id}/queries/status`, { role: 'viewer' })).status, { timeout: 30_000 }).toBe(200);

  let reached!: () => void;
  const completionHeld = new Promise<void>((resolve) => (reached = resolve));
  let release!: () => void;
  holdNextCompletion = { reached, release: new Promise<void>((resolve) => (release = resolve)) };

  const approve = stack.api(`/v1/jobs/${job.id}/updates/approve`, { method: 'POST', role: 'submitter', body: JSON.stringify({ by: 'ops@example.com' }) });
  await completionHeld; // the worker accepted the update and wants to close the run
  const comment = await stack.api(`/v1/jobs/${job.id}/signals/comment`, { method: 'POST', role: 'submitter', body: JSON.stringify({ by: 'dev@example.com', text: 'late note' }) });
  expect(comment.status).toBe(202);
  release();

  const decided = await approve;
  expect(decided.status).toBe(200);
  expect(((await decided.json()) as { result: unknown }).result).toMatchObject({ decision: 'approved', decidedBy: 'ops@example.com' });
  expect((await waitForJob(stack, job.id)).result).toMatchObject({ decision: 'approved', decidedBy: 'ops@example.com' });

  // The race happened (one refused task) and the decision counted once.
  const history = await stack.client.workflow.getHandle(job.workflowId).fetchHistory();
  const events = history.events ?? [];
  const failedTasks = events.filter((e) => e.workflowTaskFailedEventAttributes);
  expect(failedTasks.map((e) => e.workflowTaskFailedEventAttributes?.failure?.message)).toEqual(['UnhandledCommand']);
  expect(events.filter((e) => e.workflowExecutionUpdateAcceptedEventAttributes)).toHaveLength(1);
  expect(events.filter((e) => e.workflowExecutionUpdateCompletedEventAttributes)).toHaveLength(1);
  expect(events.filter((e) => e.workflowExecutionSignaledEventAttributes)).toHaveLength(1);
});
