/**
 * `GET /v1/ops/task-queues` on a fresh stack with no worker polling: jobs
 * created through the API pile up as workflow tasks, the backlog shows up
 * (after the server's ~5 s stats cache), and the recommendation is KEDA's
 * ceil(backlog / targetQueueSize) within the default 1..10. Operators and
 * the platform key may read it; viewers and submitters may not.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startTestStack, type TestStack } from '../helpers/stack.ts';
import { problemType } from '../helpers/http.ts';
import { waitAtMost } from '../helpers/poll.ts';

const platformKey = `jpp_${randomBytes(24).toString('hex')}`;
let stack: TestStack;

interface TypeStats {
  type: 'workflow' | 'activity';
  backlogCount: number;
  backlogAgeSeconds: number;
  pollers: number;
}
interface Body {
  items: { taskQueue: string; types: TypeStats[]; recommendedReplicas: number }[];
  policy: { targetQueueSize: number; minReplicas: number; maxReplicas: number };
}

beforeAll(async () => {
  stack = await startTestStack('taskqueues', { env: { JOBPLANE_PLATFORM_KEY: platformKey } });
});
afterAll(async () => {
  await stack?.close();
});

it('shows the workflow backlog of 12 unpolled jobs and recommends ceil(12/5) = 3 replicas', async () => {
  const created = await Promise.all(
    Array.from({ length: 12 }, (_, i) =>
      stack.api('/v1/jobs', {
        method: 'POST',
        role: 'submitter',
        body: JSON.stringify({ type: 'webhook.deliver', input: { url: 'http://127.0.0.1:9/hook', payload: { i } } }),
      }),
    ),
  );
  expect(created.map((r) => r.status)).toEqual(Array(12).fill(201));

  const webhooks = `${stack.env.JOBPLANE_TASK_QUEUE_PREFIX}webhooks`;
  const other = `${stack.env.JOBPLANE_TASK_QUEUE_PREFIX}default`;
  let body: Body | undefined;
  let queue: Body['items'][number] | undefined;
  let status = 200;
  await waitAtMost(
    async () => {
      const res = await stack.api('/v1/ops/task-queues', { role: 'operator' });
      status = res.status;
      if (status !== 200) return true;
      body = (await res.json()) as Body;
      queue = body.items.find((q) => q.taskQueue === webhooks);
      return (queue?.types.find((t) => t.type === 'workflow')?.backlogCount ?? 0) >= 12;
    },
    { timeout: 20_000, interval: 500 },
  );
  expect(status).toBe(200);
  expect(body!.policy).toEqual({ targetQueueSize: 5, minReplicas: 1, maxReplicas: 10 });
  expect(queue, JSON.stringify(body)).toBeDefined();
  const workflow = queue!.types.find((t) => t.type === 'workflow')!;
  const activity = queue!.types.find((t) => t.type === 'activity')!;
  expect(workflow.backlogCount, JSON.stringify(queue)).toBe(12);
  expect(workflow.backlogAgeSeconds).toBeGreaterThan(0);
  expect(workflow.pollers).toBe(0);
  expect(activity.backlogCount).toBe(0);
  expect(queue!.recommendedReplicas).toBe(3);
  // The approval queue has nothing waiting: the policy's minimum.
  expect(body!.items.find((q) => q.taskQueue === other)?.recommendedReplicas).toBe(1);
});

it('operators and the platform key may read queue load; viewers and submitters get 403', async () => {
  expect((await stack.api('/v1/ops/task-queues', { role: 'admin' })).status).toBe(200);
  const platform = await stack.api('/v1/ops/task-queues', { role: null, headers: { authorization: `Bearer ${platformKey}` } });
  expect(platform.status).toBe(200);
  for (const role of ['viewer', 'submitter'] as const) {
    const res = await stack.api('/v1/ops/task-queues', { role });
    expect(res.status).toBe(403);
    expect(((await res.json()) as { type: string }).type).toBe(problemType('forbidden'));
  }
  expect((await stack.api('/v1/ops/task-queues', { role: null })).status).toBe(401);
});
