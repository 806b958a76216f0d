/**
 * Billable Temporal actions of one run, counted from its history the way
 * Temporal Cloud bills them (docs/USAGE.md lists each rule and what the
 * history cannot show). Pure: the job-end watcher feeds it the events it
 * read (usage.ts), tests feed it recorded histories.
 */
import proto from '@temporalio/proto';
import type { temporal } from '@temporalio/proto';
import { longToNumber as idOf } from './closed-runs.ts';

type HistoryEvent = temporal.api.history.v1.IHistoryEvent;

const eventType = proto.temporal.api.enums.v1.EventType;
const resetCause = proto.temporal.api.enums.v1.WorkflowTaskFailedCause.WORKFLOW_TASK_FAILED_CAUSE_RESET_WORKFLOW;

/** The kinds actions are reported by (`actionsByKind`). */
export const actionKinds = ['workflow', 'schedule', 'reset', 'activity', 'localActivity', 'timer', 'signal', 'update', 'searchAttributes', 'nexus'] as const;
export type ActionKind = (typeof actionKinds)[number];

export interface BillableActions {
  total: number;
  byKind: Partial<Record<ActionKind, number>>;
  /** Activity attempts the history shows (each is an `activity` action). */
  activityAttempts: number;
}

/** Search attributes the SDK writes for versioning: Temporal Cloud does not bill their upserts. */
const unbilledSearchAttributes = new Set(['TemporalChangeVersion']);
const localActivityMarker = 'core_local_activity';

/**
 * The events of a reset run up to its reset point are copies of the base
 * run's (billed there): the run's own events start after the workflow task
 * the reset failed, and the reset itself is one action.
 */
function resetPointOf(events: readonly HistoryEvent[]): number {
  let point = 0;
  for (const e of events) {
    if (e.eventType === eventType.EVENT_TYPE_WORKFLOW_TASK_FAILED && e.workflowTaskFailedEventAttributes?.cause === resetCause) point = idOf(e.eventId);
  }
  return point;
}

export function countBillableActions(events: readonly HistoryEvent[]): BillableActions {
  const byKind: Partial<Record<ActionKind, number>> = {};
  const add = (kind: ActionKind, n = 1) => {
    byKind[kind] = (byKind[kind] ?? 0) + n;
  };
  const resetPoint = resetPointOf(events);
  if (resetPoint > 0) add('reset');
  // Attempts per scheduled activity: the started event carries the attempt that ran last
  // (retries write no events); an activity that never started was still scheduled once.
  const attemptsByActivity = new Map<number, number>();
  // All local activities of one workflow task are one action: the task that recorded them is the key.
  const localActivityTasks = new Set<number>();
  let lastCompletedTask = 0;
  for (const e of events) {
    const id = idOf(e.eventId);
    if (e.eventType === eventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED) lastCompletedTask = id;
    if (id <= resetPoint) continue;
    switch (e.eventType) {
      case eventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED: {
        add('workflow');
        // A schedule's start is the schedule's action and the workflow's start.
        if (e.workflowExecutionStartedEventAttributes?.searchAttributes?.indexedFields?.TemporalScheduledById) add('schedule');
        break;
      }
      case eventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
        attemptsByActivity.set(id, 1);
        break;
      case eventType.EVENT_TYPE_ACTIVITY_TASK_STARTED: {
        const a = e.activityTaskStartedEventAttributes;
        attemptsByActivity.set(idOf(a?.scheduledEventId), Math.max(1, a?.attempt ?? 1));
        break;
      }
      case eventType.EVENT_TYPE_MARKER_RECORDED:
        if (e.markerRecordedEventAttributes?.markerName === localActivityMarker) localActivityTasks.add(lastCompletedTask);
        break;
      case eventType.EVENT_TYPE_TIMER_STARTED:
        add('timer');
        break;
      // Counted where the signal arrives, whether a client or a workflow sent it (the sender's
      // SignalExternal… event is the same action, not a second one).
      case eventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED:
        add('signal');
        break;
      case eventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED:
        add('update');
        break;
      case eventType.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES: {
        const fields = Object.keys(e.upsertWorkflowSearchAttributesEventAttributes?.searchAttributes?.indexedFields ?? {});
        if (fields.some((f) => !unbilledSearchAttributes.has(f))) add('searchAttributes');
        break;
      }
      case eventType.EVENT_TYPE_NEXUS_OPERATION_SCHEDULED:
        add('nexus');
        break;
    }
  }
  const activityAttempts = [...attemptsByActivity.values()].reduce((sum, n) => sum + n, 0);
  if (activityAttempts > 0) add('activity', activityAttempts);
  if (localActivityTasks.size > 0) add('localActivity', localActivityTasks.size);
  const total = Object.values(byKind).reduce((sum, n) => sum + n, 0);
  return { total, byKind, activityAttempts };
}
