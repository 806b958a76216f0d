/**
 * The autoscaling signal: per task queue and type, the backlog Temporal
 * reports, and the replica count KEDA's `temporal` scaler would ask for
 * (ceil(backlog / targetQueueSize), clamped). Shared by the ops API, the
 * Prometheus gauges and the local worker pool, so all three agree with KEDA.
 */
import type { Client } from '@temporalio/client';
// The proto package is CommonJS: Node's ESM loader sees only its default export.
import proto from '@temporalio/proto';
import type { temporal } from '@temporalio/proto';

const { TaskQueueType, TaskQueueKind } = proto.temporal.api.enums.v1;

export const queueTypes = ['workflow', 'activity'] as const;
export type QueueType = (typeof queueTypes)[number];

const protoType: Record<QueueType, temporal.api.enums.v1.TaskQueueType> = {
  workflow: TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
  activity: TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY,
};

export interface QueueTypeStats {
  type: QueueType;
  backlogCount: number;
  backlogAgeSeconds: number;
  tasksAddRate: number;
  tasksDispatchRate: number;
  pollers: number;
}

export interface ScalePolicy {
  /** KEDA `targetQueueSize`. @default 5 */
  targetQueueSize: number;
  minReplicas: number;
  maxReplicas: number;
}

/** KEDA's formula: the backlog of all queue types summed, divided by the target, clamped to min..max. */
export function recommendedReplicas(stats: Pick<QueueTypeStats, 'backlogCount'>[], policy: ScalePolicy): number {
  const backlog = stats.reduce((sum, s) => sum + s.backlogCount, 0);
  const wanted = Math.ceil(backlog / policy.targetQueueSize);
  return Math.min(policy.maxReplicas, Math.max(policy.minReplicas, wanted));
}

/** One describeTaskQueue per type (stats are cached by the server for about 5 s). */
export async function taskQueueStats(client: Client, namespace: string, taskQueue: string): Promise<QueueTypeStats[]> {
  return await Promise.all(
    queueTypes.map(async (type) => {
      const res = await client.workflowService.describeTaskQueue({
        namespace,
        taskQueue: { name: taskQueue, kind: TaskQueueKind.TASK_QUEUE_KIND_NORMAL },
        taskQueueType: protoType[type],
        reportStats: true,
      });
      const s = res.stats;
      const age = s?.approximateBacklogAge;
      return {
        type,
        backlogCount: Number(s?.approximateBacklogCount ?? 0),
        backlogAgeSeconds: age ? Number(age.seconds ?? 0) + (age.nanos ?? 0) / 1e9 : 0,
        tasksAddRate: s?.tasksAddRate ?? 0,
        tasksDispatchRate: s?.tasksDispatchRate ?? 0,
        pollers: res.pollers?.length ?? 0,
      };
    }),
  );
}
