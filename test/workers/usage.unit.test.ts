/**
 * The two measuring rules of usage, without servers: billable actions read
 * from a history (each rule on a history built for it), and the CPU share of
 * activity attempts (real busy loops on this thread).
 */
import proto from '@temporalio/proto';
import type { temporal } from '@temporalio/proto';
import { describe, expect, it } from 'vitest';
import { countBillableActions } from '../../workers/job-events/billable-actions.ts';
import { CpuShares } from '../../workers/usage/cpu-share.ts';

type Event = temporal.api.history.v1.IHistoryEvent;
const E = proto.temporal.api.enums.v1.EventType;
const payloads = (value: string) => ({ indexedFields: { [value]: { data: new TextEncoder().encode('"x"') } } });

/** Event ids are Longs in the proto types; plain numbers are what the counter reads too. */
const id = (n: number) => n as unknown as NonNullable<Event['eventId']>;

/** A history from `[type, attributes]` pairs, ids from 1. */
function history(...events: [number, Partial<Event>?][]): Event[] {
  return events.map(([eventType, rest], i) => ({ ...rest, eventId: id(i + 1), eventType }));
}
const started = (attrs: Partial<temporal.api.history.v1.IWorkflowExecutionStartedEventAttributes> = {}): [number, Partial<Event>] => [
  E.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED,
  { workflowExecutionStartedEventAttributes: attrs },
];
const task: [number, Partial<Event>?][] = [[E.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED], [E.EVENT_TYPE_WORKFLOW_TASK_STARTED], [E.EVENT_TYPE_WORKFLOW_TASK_COMPLETED]];

describe('billable actions of a history', () => {
  it('a start, a timer, a signal and an accepted update are one action each', () => {
    const h = history(started(), ...task, [E.EVENT_TYPE_TIMER_STARTED], [E.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED], [E.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED]);
    expect(countBillableActions(h)).toEqual({ total: 4, byKind: { workflow: 1, timer: 1, signal: 1, update: 1 }, activityAttempts: 0 });
  });

  it('an activity counts each attempt: the attempt its started event records, or one if it never started', () => {
    const h = history(
      started(),
      ...task,
      [E.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED], // 5: ran three attempts
      [E.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED], // 6: never started (cancelled, say)
      [E.EVENT_TYPE_ACTIVITY_TASK_STARTED, { activityTaskStartedEventAttributes: { scheduledEventId: id(5), attempt: 3 } }],
      [E.EVENT_TYPE_ACTIVITY_TASK_COMPLETED, { activityTaskCompletedEventAttributes: { scheduledEventId: id(5) } }],
    );
    expect(countBillableActions(h)).toMatchObject({ total: 5, byKind: { workflow: 1, activity: 4 }, activityAttempts: 4 });
  });

  it("a scheduled run is the schedule's action and the start; versioning upserts are free; other upserts are one", () => {
    const h = history(
      started({ searchAttributes: payloads('TemporalScheduledById') }),
      ...task,
      [E.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES, { upsertWorkflowSearchAttributesEventAttributes: { searchAttributes: payloads('TemporalChangeVersion') } }],
      [E.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES, { upsertWorkflowSearchAttributesEventAttributes: { searchAttributes: payloads('JobplaneTenant') } }],
    );
    expect(countBillableActions(h).byKind).toEqual({ workflow: 1, schedule: 1, searchAttributes: 1 });
  });

  it('local activities of one workflow task are one action', () => {
    const marker: [number, Partial<Event>] = [E.EVENT_TYPE_MARKER_RECORDED, { markerRecordedEventAttributes: { markerName: 'core_local_activity' } }];
    const patch: [number, Partial<Event>] = [E.EVENT_TYPE_MARKER_RECORDED, { markerRecordedEventAttributes: { markerName: 'core_patch' } }];
    const h = history(started(), ...task, marker, marker, patch, ...task, marker);
    expect(countBillableActions(h).byKind).toEqual({ workflow: 1, localActivity: 2 });
  });

  it("a reset run's events up to the reset point are the base run's (billed there): the reset is one action", () => {
    const h = history(
      started(),
      ...task,
      [E.EVENT_TYPE_TIMER_STARTED],
      [E.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED],
      [E.EVENT_TYPE_WORKFLOW_TASK_STARTED],
      [E.EVENT_TYPE_WORKFLOW_TASK_FAILED, { workflowTaskFailedEventAttributes: { cause: proto.temporal.api.enums.v1.WorkflowTaskFailedCause.WORKFLOW_TASK_FAILED_CAUSE_RESET_WORKFLOW } }],
      ...task,
      [E.EVENT_TYPE_TIMER_STARTED],
    );
    expect(countBillableActions(h).byKind).toEqual({ reset: 1, timer: 1 });
  });
});

/** Keeps this thread busy for `ms`. */
function busy(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end) {
    /* spin */
  }
}
const idle = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('CPU share of activity attempts', () => {
  it('one attempt at a time gets the thread busy time it caused, and an attempt that only waits gets next to none', async () => {
    const shares = new CpuShares();
    const computing = shares.begin();
    busy(60);
    const computed = shares.end(computing);
    expect(computed.cpuUs / 1000).toBeGreaterThanOrEqual(55);
    expect(computed.cpuUs / 1000).toBeLessThanOrEqual(computed.wallMs + 1);
    const waiting = shares.begin();
    await idle(60);
    const waited = shares.end(waiting);
    expect(waited.wallMs).toBeGreaterThanOrEqual(55);
    expect(waited.cpuUs / 1000).toBeLessThan(15);
  });

  it('two attempts in flight split the busy time equally: the sum is exact, the split is the stated approximation', async () => {
    const shares = new CpuShares();
    const a = shares.begin();
    const b = shares.begin();
    busy(60); // a computes while b waits
    await idle(1);
    const costA = shares.end(a);
    const costB = shares.end(b);
    expect(shares.size).toBe(0);
    expect((costA.cpuUs + costB.cpuUs) / 1000).toBeGreaterThanOrEqual(55);
    expect(Math.abs(costA.cpuUs - costB.cpuUs) / 1000).toBeLessThan(5);
  });
});
