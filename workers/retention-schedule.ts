/**
 * The Temporal Schedule that runs the document retention workflow. Every
 * worker process that polls the `documents` queue ensures it at start:
 * created when missing, its interval and task queue brought in line with the
 * config when not. Several replicas starting at once are fine: one create
 * wins, the others update to the same spec. Done by the workers (not by a
 * deploy step) because they are what must be configured for the workflow to
 * run at all, and the Kubernetes migration Job has no Temporal access.
 */
import { ScheduleAlreadyRunning, ScheduleOverlapPolicy, type Client } from '@temporalio/client';
import { documentRetention, type DocumentRetentionInput } from '../contracts/index.ts';
import type { Config } from '../runtime/config.ts';
import { taskQueueName } from '../runtime/temporal.ts';

export function retentionScheduleId(config: Pick<Config, 'taskQueuePrefix'>): string {
  return `${config.taskQueuePrefix}${documentRetention.scheduleId}`;
}

/** Creates or updates the retention schedule; returns its id. */
export async function ensureRetentionSchedule(client: Client, config: Pick<Config, 'taskQueuePrefix' | 'documentRetentionIntervalSeconds'>): Promise<string> {
  const scheduleId = retentionScheduleId(config);
  const taskQueue = taskQueueName(config, documentRetention.taskQueue);
  const every = `${config.documentRetentionIntervalSeconds}s`;
  const args: [DocumentRetentionInput] = [{ batchSize: 100 }];
  try {
    await client.schedule.create({
      scheduleId,
      spec: { intervals: [{ every }] },
      action: { type: 'startWorkflow', workflowType: documentRetention.workflowType, workflowId: scheduleId, taskQueue, args },
      // One sweep at a time; a missed one is simply the next one.
      policies: { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: '1 minute' },
      memo: { purpose: 'Deletes documents past their tenant retention (see README "Documents")' },
    });
  } catch (err) {
    if (!(err instanceof ScheduleAlreadyRunning)) throw err;
    const handle = client.schedule.getHandle(scheduleId);
    const desc = await handle.describe();
    const interval = desc.spec.intervals?.[0];
    const currentEvery = interval ? Number(interval.every) : undefined;
    const sameQueue = desc.action.type === 'startWorkflow' && desc.action.taskQueue === taskQueue;
    if (currentEvery !== config.documentRetentionIntervalSeconds * 1000 || !sameQueue) {
      await handle.update((prev) => ({
        ...prev,
        spec: { intervals: [{ every }] },
        action: { type: 'startWorkflow', workflowType: documentRetention.workflowType, workflowId: scheduleId, taskQueue, args },
      }));
    }
  }
  return scheduleId;
}
