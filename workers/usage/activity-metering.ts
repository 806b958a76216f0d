/**
 * Activity metering: an activity interceptor that measures each attempt's
 * wall time and CPU share (cpu-share.ts) and writes one
 * `activity_attempt_usage` row before the attempt reports its end. Written
 * first, so when the run closes its rows are already in and the job-end
 * watcher sums all of them (workers/job-events/usage.ts). Rows of attempts
 * that end together go in one INSERT. Metering never fails or holds an
 * activity: a write that errs or takes longer than `writeTimeoutMs` is
 * logged and counted, and the attempt goes on without its row.
 */
import type { Context as ActivityContext } from '@temporalio/activity';
import type { MetricMeter } from '@temporalio/common';
import type { ActivityInboundCallsInterceptor, ActivityInterceptors } from '@temporalio/worker';
import type { Db } from '../../db/client.ts';
import { activityAttemptUsage } from '../../db/schema/index.ts';
import type { Logger } from '../../runtime/logger.ts';
import { CpuShares } from './cpu-share.ts';

type AttemptRow = typeof activityAttemptUsage.$inferInsert;

export interface ActivityMeteringOptions {
  db: Db;
  log: Logger;
  meter: MetricMeter;
  /** Longest an attempt waits for its row to be written. @default 2000 */
  writeTimeoutMs?: number;
}

/** Rows per INSERT at most. */
const maxBatch = 500;

export const meteringMetrics = {
  writeErrors: 'jobplane_usage_attempt_write_errors',
} as const;

/** Batches the rows of attempts that end in the same turn of the event loop. */
function createAttemptWriter(opts: ActivityMeteringOptions): (row: AttemptRow) => Promise<void> {
  const writeTimeoutMs = opts.writeTimeoutMs ?? 2000;
  const errors = opts.meter.createCounter(meteringMetrics.writeErrors, undefined, 'Activity attempts whose usage row could not be written');
  let pending: { row: AttemptRow; done: () => void }[] = [];
  let scheduled = false;

  async function flush(): Promise<void> {
    scheduled = false;
    const batch = pending.slice(0, maxBatch);
    pending = pending.slice(maxBatch);
    if (pending.length > 0) schedule();
    try {
      await opts.db.insert(activityAttemptUsage).values(batch.map((p) => p.row)).onConflictDoNothing();
    } catch (err) {
      errors.add(batch.length);
      opts.log.warn({ err, rows: batch.length }, 'activity usage rows not written; those attempts count no CPU or wall time');
    } finally {
      for (const p of batch) p.done();
    }
  }

  function schedule(): void {
    if (scheduled) return;
    scheduled = true;
    setImmediate(() => void flush());
  }

  return (row) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        errors.add(1);
        opts.log.warn({ workflowId: row.workflowId, activityId: row.activityId, writeTimeoutMs }, 'activity usage row slow to write; the attempt goes on');
        resolve();
      }, writeTimeoutMs);
      pending.push({
        row,
        done: () => {
          clearTimeout(timer);
          resolve();
        },
      });
      schedule();
    });
}

/** The worker's `interceptors.activity` entry that meters every attempt. */
export function activityMeteringInterceptor(opts: ActivityMeteringOptions): (ctx: ActivityContext) => ActivityInterceptors {
  const shares = new CpuShares();
  const write = createAttemptWriter(opts);
  return (ctx) => {
    const inbound: ActivityInboundCallsInterceptor = {
      async execute(input, next) {
        const share = shares.begin();
        try {
          return await next(input);
        } finally {
          const cost = shares.end(share);
          const { info } = ctx;
          // Activities not started by a workflow (none today) have no run to bill.
          if (info.workflowExecution) {
            await write({
              workflowId: info.workflowExecution.workflowId,
              runId: info.workflowExecution.runId,
              activityId: info.activityId,
              attempt: info.attempt,
              activityType: info.activityType,
              wallMs: cost.wallMs,
              cpuUs: cost.cpuUs,
            });
          }
        }
      },
    };
    return { inbound };
  };
}
