/**
 * A decision that races another event, on the real dev server. The approve
 * update's workflow task also closes the run; if a comment signal lands while
 * that task is in flight, the server refuses the completion (UnhandledCommand:
 * the run must see the new event before it may close) and aborts the update,
 * which was never applied (FAILED_PRECONDITION "unexpected workflow task
 * failure"). The API must send it again, not answer 500.
 *
 * The race is made certain, not hoped for: the workers reach the server
 * through a gRPC proxy that holds their `RespondWorkflowTaskCompleted` calls
 * until the test has sent a signal.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startGrpcProxy, type GrpcProxy } from '../helpers/grpc-proxy.ts';
import { startTestStack, waitForJob, type TestStack } from '../helpers/stack.ts';
import { createJob, expectProblem, problemType } from '../helpers/http.ts';

let stack: TestStack;
let proxy: GrpcProxy;
let workers: { stop(): Promise<void> };
/** Set by a test: runs while a worker's workflow-task completion is held, which goes on once it settles. */
let whileCompletionHeld: (() => Promise<void>) | undefined;

beforeAll(async () => {
  // Short enough for the no-worker test, long enough that a held completion (a signal sent through the API while
  // the suite loads the machine) is never mistaken for a missing worker.
  stack = await startTestStack('decision-race', { env: { JOBPLANE_MESSAGE_TIMEOUT_MS: '6000' } });
  proxy = await startGrpcProxy({
    upstream: stack.temporal.address,
    hold: (method) => (method === 'RespondWorkflowTaskCompleted' ? whileCompletionHeld?.() : undefined),
  });
  workers = await stack.startWorkers({ temporalAddress: proxy.address });
});
afterAll(async () => {
  await stack?.close();
  await proxy?.close();
});

const createApproval = (subject: string) => createJob(stack, { type: 'approval.request', input: { subject, expiresInSeconds: 300 } });

async function startApproval(subject: string): Promise<{ id: string; workflowId: string }> {
  const job = await createApproval(subject);
  // The first task has run (handlers registered) once the status query answers.
  await expect.poll(async () => (await stack.api(`/v1/jobs/${job.id}/queries/status`, { role: 'viewer' })).status, { timeout: 30_000 }).toBe(200);
  return job;
}

const approve = (jobId: string) =>
  stack.api(`/v1/jobs/${jobId}/updates/approve`, { method: 'POST', role: 'submitter', body: JSON.stringify({ by: 'ops@example.com' }) });

async function comment(jobId: string, text: string): Promise<void> {
  const res = await stack.api(`/v1/jobs/${jobId}/signals/comment`, { method: 'POST', role: 'submitter', body: JSON.stringify({ by: 'dev@example.com', text }) });
  expect(res.status).toBe(202);
}

async function historyOf(workflowId: string) {
  const events = (await stack.client.workflow.getHandle(workflowId).fetchHistory()).events ?? [];
  return {
    refusedTasks: events.flatMap((e) => e.workflowTaskFailedEventAttributes?.failure?.message ?? []),
    acceptedUpdates: events.filter((e) => e.workflowExecutionUpdateAcceptedEventAttributes).length,
    completedUpdates: events.filter((e) => e.workflowExecutionUpdateCompletedEventAttributes).length,
    signals: events.filter((e) => e.workflowExecutionSignaledEventAttributes).length,
  };
}

it('an approve whose task the server refuses (a signal arrived meanwhile) is sent again and applied once', async () => {
  const job = await startApproval('Rotate keys');
  // Only the next completion: the worker accepted the update and wants to close the run; a signal lands first.
  whileCompletionHeld = () => {
    whileCompletionHeld = undefined;
    return comment(job.id, 'late note');
  };

  const decided = await approve(job.id);
  expect(decided.status).toBe(200);
  expect(((await decided.json()) as { result: unknown }).result).toMatchObject({ decision: 'approved', decidedBy: 'ops@example.com' });
  expect((await waitForJob(stack, job.id)).result).toMatchObject({ decision: 'approved', decidedBy: 'ops@example.com' });
  // The race happened (one refused task) and the decision counted once.
  expect(await historyOf(job.workflowId)).toEqual({ refusedTasks: ['UnhandledCommand'], acceptedUpdates: 1, completedUpdates: 1, signals: 1 });
});

it('an approve refused every time answers 503 update-not-applied, changes nothing, and a later approve counts', async () => {
  const job = await startApproval('Rotate more keys');
  // Every completion: each task that carries the update is refused, so no attempt gets through.
  let sent = 0;
  whileCompletionHeld = () => comment(job.id, `note ${++sent}`);
  let refused: Response;
  try {
    refused = await approve(job.id);
  } finally {
    whileCompletionHeld = undefined;
  }
  await expectProblem(refused, 503, 'update-not-applied');

  const status = (await (await stack.api(`/v1/jobs/${job.id}/queries/status`, { role: 'viewer' })).json()) as { result: { state: string } };
  expect(status.result.state).toBe('pending');
  const before = await historyOf(job.workflowId);
  expect(before.acceptedUpdates).toBe(0);
  expect(before.refusedTasks.length).toBeGreaterThanOrEqual(4); // one per attempt
  expect(before.signals).toBe(sent);

  const decided = await approve(job.id);
  expect(decided.status).toBe(200);
  expect((await waitForJob(stack, job.id)).result).toMatchObject({ decision: 'approved', decidedBy: 'ops@example.com' });
  expect(await historyOf(job.workflowId)).toMatchObject({ acceptedUpdates: 1, completedUpdates: 1 });
});

it('with no worker polling, a query and an approve answer 503 workers-unavailable after JOBPLANE_MESSAGE_TIMEOUT_MS, and the approve applies once a worker comes', async () => {
  await workers.stop();
  const job = await createApproval('Approve while nobody works');
  const asked = await stack.api(`/v1/jobs/${job.id}/queries/status`, { role: 'viewer' });
  expect(asked.status).toBe(503);
  expect(await asked.json()).toMatchObject({ type: problemType('workers-unavailable') });

  const started = Date.now();
  const waited = await approve(job.id);
  expect(waited.status).toBe(503);
  expect(await waited.json()).toMatchObject({ type: problemType('workers-unavailable'), detail: expect.stringContaining('may still apply') });
  expect(Date.now() - started).toBeGreaterThanOrEqual(6000);
  expect(Date.now() - started).toBeLessThan(20_000);

  // The server kept the update: the first worker to poll runs it with the first task, as the answer warned.
  workers = await stack.startWorkers({ temporalAddress: proxy.address });
  expect((await waitForJob(stack, job.id)).result).toMatchObject({ decision: 'approved', decidedBy: 'ops@example.com' });
  expect(await historyOf(job.workflowId)).toMatchObject({ acceptedUpdates: 1, completedUpdates: 1 });
});
