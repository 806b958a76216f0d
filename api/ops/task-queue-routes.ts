/** `GET /v1/ops/task-queues`: backlog per queue and type, and the replicas KEDA's formula recommends. */
import { createRoute, z } from '@hono/zod-openapi';
import type { Client } from '@temporalio/client';
import { catalogTaskQueues } from '../../contracts/index.ts';
import type { Config } from '../../runtime/config.ts';
import { recommendedReplicas, taskQueueStats } from '../../runtime/task-queue-stats.ts';
import { taskQueueName } from '../../runtime/temporal.ts';
import { requireRole } from '../http/auth.ts';
import { requireUnscoped } from '../http/key-scope.ts';
import { bearer, newRouter } from '../http/openapi-app.ts';
import { commonProblems } from '../http/schemas.ts';

const QueueStats = z
  .object({
    taskQueue: z.string(),
    types: z.array(
      z.object({
        type: z.enum(['workflow', 'activity']),
        backlogCount: z.number(),
        backlogAgeSeconds: z.number(),
        tasksAddRate: z.number(),
        tasksDispatchRate: z.number(),
        pollers: z.number(),
      }),
    ),
    recommendedReplicas: z.number().int(),
  })
  .openapi('TaskQueueStats');

const route = createRoute({
  method: 'get', path: '/', tags: ['Operations'], summary: 'Task-queue backlog and recommended worker replicas (operator or platform key)', security: bearer,
  responses: {
    200: { description: 'Per queue', content: { 'application/json': { schema: z.object({ items: z.array(QueueStats), policy: z.object({ targetQueueSize: z.number(), minReplicas: z.number(), maxReplicas: z.number() }) }) } } },
    ...commonProblems,
  },
});

export function taskQueueRoutes(deps: { client: Client; config: Config }) {
  const policy = {
    targetQueueSize: deps.config.scaleTargetQueueSize,
    minReplicas: deps.config.scaleMinReplicas,
    maxReplicas: deps.config.scaleMaxReplicas,
  };
  const router = newRouter();
  router.openapi(route, async (c) => {
    const caller = c.get('caller');
    // Queues are shared by all tenants: the platform key and tenant operators may read their load.
    if (caller.kind !== 'platform') requireRole(caller, 'operator');
    // Shared by every tenant's jobs of every type: no scope can confine them.
    requireUnscoped(caller, 'task queues');
    const items = await Promise.all(
      catalogTaskQueues.map(async (queue) => {
        const taskQueue = taskQueueName(deps.config, queue);
        const types = await taskQueueStats(deps.client, deps.config.temporalNamespace, taskQueue);
        return { taskQueue, types, recommendedReplicas: recommendedReplicas(types, policy) };
      }),
    );
    return c.json({ items, policy }, 200);
  });
  return router;
}
