/**
 * The job-end watcher: Temporal owns execution state, and a job can end
 * without its workflow code running (terminate, execution timeout), so job
 * ends are observed from outside, in Temporal visibility, not emitted from
 * workflows. Every JOBPLANE_JOB_EVENTS_INTERVAL_MS the active watcher (one
 * per namespace, leader-lock.ts) lists the runs that closed in
 * `(cursor − overlap, min(now, cursor + max window)]`, page by page on its
 * own visibility budget, creates the delivery jobs they owe
 * (deliveries.ts), and only once every page of the window is handled moves
 * the cursor (cursor.ts) to the window's end. Visibility lists newest
 * first, so a window is the unit of progress: a crash mid-window handles it
 * again, and the derived delivery ids make that (and the overlap) send
 * nothing twice. It also records what each closed run of a job cost
 * (usage.ts), keyed by run, so that too counts nothing twice.
 */
import { Runtime } from '@temporalio/worker';
import type { Client } from '@temporalio/client';
import type { MetricMeter } from '@temporalio/common';
import type { Db } from '../../db/client.ts';
import type { JobContract } from '../../contracts/index.ts';
import type { JobRow } from '../../db/schema/index.ts';
import type { Config } from '../../runtime/config.ts';
import { grpcCodeOf, grpcStatus } from '../../runtime/grpc-status.ts';
import type { Logger } from '../../runtime/logger.ts';
import { closedRunsQuery, listClosedRunsPage, type ClosedRun } from './closed-runs.ts';
import { advanceCursor, readOrInitCursor } from './cursor.ts';
import { deliverJobEvents } from './deliveries.ts';
import { failureOfRun } from './failures.ts';
import { listStartedRunsPage, registerStartedRuns, startedRunsQuery } from './started-runs.ts';
import { createUsageRecorder, sweepAttemptRows } from './usage.ts';
import type { LeaderLock } from './leader-lock.ts';

export type WatcherConfig = Pick<
  Config,
  'temporalNamespace' | 'taskQueuePrefix' | 'publicUrl' | 'jobEventsIntervalMs' | 'jobEventsOverlapMs' | 'jobEventsMaxWindowMs' | 'jobEventsVisibilityRatePerSecond'
>;

/** What a watcher runs on. */
export interface JobEventWatcherDeps {
  config: WatcherConfig;
  db: Db;
  /** Lists closed runs (closed-runs.ts `connectListingClient`: throttled calls are not retried). */
  listingClient: Client;
  /** Describes workflows (is a terminated run the current one?). */
  client: Client;
  /** Starts a delivery job's workflow (domain/jobs/start.ts). */
  startJob: (contract: JobContract, row: JobRow, input: unknown) => Promise<string>;
  lock: LeaderLock;
  log: Logger;
  /** Where the watcher's metrics go. @default the worker Runtime's meter (its Prometheus endpoint) */
  meter?: MetricMeter;
}

/** What one tick did. */
export type TickOutcome =
  | { state: 'standby' }
  | { state: 'handled'; from: Date; to: Date; runs: number; pages: number; emitted: number }
  | { state: 'throttled' | 'error'; error: string };

export interface JobEventWatcher {
  /** One tick now (tests; the loop calls it every interval). */
  tick(): Promise<TickOutcome>;
  /** Ticks until `stop()`. */
  run(): Promise<void>;
  /** Ends the loop after the tick in progress and releases the lock. */
  stop(): Promise<void>;
}

/** Metric names, exported by the workers' Prometheus endpoint (no `_total` suffix, as the SDK exports its own). */
export const jobEventMetrics = {
  emitted: 'jobplane_job_events_emitted',
  lagSeconds: 'jobplane_job_events_watcher_lag_seconds',
  active: 'jobplane_job_events_watcher_active',
} as const;

/** Rows per visibility page. */
const pageSize = 200;
const listTimeoutMs = 10_000;
/** How often the leader sweeps old activity attempt rows (usage.ts). */
const attemptSweepEveryMs = 3600_000;
/** Longest pause after throttling or errors. */
const maxBackoffMs = 60_000;

export function createJobEventWatcher(deps: JobEventWatcherDeps): JobEventWatcher {
  const { config, db, log } = deps;
  const meter = deps.meter ?? Runtime.instance().metricMeter;
  const emitted = meter.createCounter(jobEventMetrics.emitted, undefined, 'Job-end events emitted as delivery jobs, by event type');
  const lag = meter.createGauge(jobEventMetrics.lagSeconds, 'float', 's', 'Now minus the job-end watcher cursor (how late events are announced at worst)');
  const active = meter.createGauge(jobEventMetrics.active, 'int', undefined, '1 in the process whose job-end watcher holds the lock');
  const minCallGapMs = 1000 / config.jobEventsVisibilityRatePerSecond;
  let lastCallAt = 0;
  let lastSweepAt = 0;
  let stopped = false;
  let backoffMs = 0;
  let wake: (() => void) | undefined;
  let loop: Promise<void> | undefined;

  const deliveryDeps = {
    db,
    startJob: deps.startJob,
    publicUrl: config.publicUrl,
    currentRunId: async (workflowId: string) => (await deps.client.workflow.getHandle(workflowId).describe()).runId,
    failureOf: (run: ClosedRun) => failureOfRun(deps.client, run.workflowId, run.runId),
  };
  const recordUsage = createUsageRecorder({ db, client: deps.client, log, meter });

  /** Waits out the visibility budget before the next list call. */
  async function paced<T>(fn: () => Promise<T>): Promise<T> {
    const wait = lastCallAt + minCallGapMs - Date.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    lastCallAt = Date.now();
    return await fn();
  }

  async function handleWindow(): Promise<TickOutcome> {
    const now = Date.now();
    const cursor = await readOrInitCursor(db, config.temporalNamespace, new Date(now - config.jobEventsOverlapMs));
    const from = new Date(cursor.getTime() - config.jobEventsOverlapMs);
    const to = new Date(Math.min(now, cursor.getTime() + config.jobEventsMaxWindowMs));
    let pages = 0;
    // First the runs schedules and parents started in the window (by start time): they become jobs
    // (started-runs.ts), so a run that started and ended within the window is announced like any job.
    let registered = 0;
    let token: Uint8Array | undefined;
    const startedQuery = startedRunsQuery(config, from, to);
    do {
      const page = await paced(() => listStartedRunsPage(deps.listingClient, startedQuery, { pageSize, nextPageToken: token, timeoutMs: listTimeoutMs }));
      pages++;
      registered += await registerStartedRuns(db, page.runs);
      token = page.nextPageToken.length > 0 ? page.nextPageToken : undefined;
    } while (token && !stopped);
    // Then the runs that closed in it (by close time).
    let runs = 0;
    let count = 0;
    let usageRecorded = 0;
    if (!token) {
      const query = closedRunsQuery(config, from, to);
      do {
        const page = await paced(() => listClosedRunsPage(deps.listingClient, query, { pageSize, nextPageToken: token, timeoutMs: listTimeoutMs }));
        pages++;
        runs += page.runs.length;
        for (const d of await deliverJobEvents(deliveryDeps, page.runs)) {
          emitted.add(1, { event: d.event.type });
          count++;
        }
        usageRecorded += await recordUsage(page.runs);
        token = page.nextPageToken.length > 0 ? page.nextPageToken : undefined;
      } while (token && !stopped);
    }
    // Stopped mid-window: the rest of it is handled by whoever ticks next.
    if (!token) await advanceCursor(db, config.temporalNamespace, to);
    lag.set(Math.max(0, (Date.now() - (token ? cursor : to).getTime()) / 1000));
    if (count > 0) log.info({ from, to, runs, pages, emitted: count }, 'job-end events emitted');
    if (usageRecorded > 0) log.debug({ from, to, usageRecorded }, 'run usage recorded');
    if (registered > 0) log.info({ from, to, registered }, 'runs started by schedules and parents registered as jobs');
    return { state: 'handled', from, to, runs, pages, emitted: count };
  }

  async function tick(): Promise<TickOutcome> {
    try {
      if (!(await deps.lock.held())) {
        active.set(0);
        return { state: 'standby' };
      }
      active.set(1);
      const outcome = await handleWindow();
      if (Date.now() - lastSweepAt > attemptSweepEveryMs) {
        lastSweepAt = Date.now();
        const swept = await sweepAttemptRows(db);
        if (swept > 0) log.info({ swept }, 'usage: old activity attempt rows no job run took deleted');
      }
      backoffMs = 0;
      return outcome;
    } catch (err) {
      backoffMs = Math.min(maxBackoffMs, Math.max(config.jobEventsIntervalMs, backoffMs * 2));
      if (grpcCodeOf(err) === grpcStatus.RESOURCE_EXHAUSTED) {
        log.warn({ backoffMs }, 'job-end watcher: Temporal throttled the visibility list (namespace rate limit); backing off, cursor kept');
        return { state: 'throttled', error: (err as Error).message };
      }
      log.error({ err, backoffMs }, 'job-end watcher tick failed; backing off, cursor kept');
      return { state: 'error', error: (err as Error).message };
    }
  }

  async function run(): Promise<void> {
    while (!stopped) {
      await tick();
      if (stopped) break;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, backoffMs || config.jobEventsIntervalMs);
        wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
  }

  return {
    tick,
    run() {
      loop ??= run();
      return loop;
    },
    async stop() {
      stopped = true;
      wake?.();
      await loop;
      active.set(0);
      await deps.lock.close();
    },
  };
}
