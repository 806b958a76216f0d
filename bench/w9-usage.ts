/**
 * W9 — what measuring usage costs the job-end watcher. `BENCH_W9_N`
 * `webhook.deliver` jobs are created through the API and run to the end;
 * then the real watcher (in this process) reads the window they closed in
 * twice:
 *
 * - **recording**: the first pass lists the runs, projects their outcome and
 *   records each run's usage (one history read, one attempt-row sum, one
 *   transaction per run: workers/job-events/usage.ts);
 * - **baseline**: the cursor set back over the same window, the same pass
 *   again: everything is recorded, so it lists and projects and records
 *   nothing (what the watcher did per run before usage existed).
 *
 * Figures per run: this process's CPU (the watcher; the API and workers are
 * idle by then) and every Temporal process's CPU, for both passes; their
 * difference is what recording usage costs. Activity metering (one row per
 * attempt, written by the worker) is in W7's worker CPU.
 */
import { performance } from 'node:perf_hooks';
import { count, eq } from 'drizzle-orm';
import { jobEventCursors, jobRunUsage } from '../db/schema/index.ts';
import { createLogger } from '../runtime/logger.ts';
import { startJobEventWatcher } from '../workers/job-events/start.ts';
import { NativeConnection } from '@temporalio/worker';
import { awaitClosed, createViaApi, deliveryInput } from './jobs.ts';
import { clockTicksPerSecond, treeTicks } from './proc-cpu.ts';
import { openDb, startWorkload, type BenchBase } from './stack.ts';
import { round, runPool } from './util.ts';

export interface W9Settings {
  n: number;
  concurrency: number;
}

export interface WatcherPass {
  /** This process's CPU per run (ms). */
  watcherCpuMsPerRun: number;
  temporalCpuMsPerRun: number;
  seconds: number;
}

export interface W9Result {
  settings: W9Settings;
  recording: WatcherPass;
  baseline: WatcherPass;
  /** recording − baseline, per run. */
  usageCpuMsPerRun: number;
  usageTemporalCpuMsPerRun: number;
  ratio: number;
}

const passTimeoutMs = 300_000;

export async function runW9(base: BenchBase, s: W9Settings, signal: AbortSignal, log: (m: string) => void): Promise<W9Result> {
  const wl = await startWorkload(base, 'w9');
  const db = openDb(base, 'w9 watcher db');
  const config = { ...wl.config, jobEventsIntervalMs: 100 };
  const namespace = config.temporalNamespace;
  log(`W9: ${s.n} webhook.deliver jobs via API, then the watcher records their usage, then reads them again`);
  const windowStart = new Date(Date.now() - 1000);
  const input = deliveryInput(base.receiver.urlFor('w9'));
  await awaitClosed(base.client, await runPool(s.n, s.concurrency, signal, () => createViaApi(wl, input)), signal);

  const connection = await NativeConnection.connect({ address: base.temporal.address });
  base.cleanup.add('w9 watcher connection', () => connection.close());
  const clkTck = clockTicksPerSecond();
  const temporalTicks = () => base.temporal.pids().reduce((sum, pid) => sum + (treeTicks(pid) ?? 0), 0);
  const recorded = async () => (await db.select({ n: count() }).from(jobRunUsage).where(eq(jobRunUsage.tenantId, wl.tenantId)))[0]!.n;

  async function pass(): Promise<WatcherPass> {
    // The window the jobs closed in, from its start: both passes read the same runs.
    await db.insert(jobEventCursors).values({ namespace, handledUntil: windowStart }).onConflictDoUpdate({ target: jobEventCursors.namespace, set: { handledUntil: windowStart } });
    const until = Date.now();
    const cpuBefore = process.cpuUsage();
    const temporalBefore = temporalTicks();
    const t0 = performance.now();
    const watcher = await startJobEventWatcher({ config, databaseUrl: base.databaseUrl, db, connection, log: createLogger('bench-w9', 'silent') });
    try {
      for (;;) {
        signal.throwIfAborted();
        const [c] = await db.select().from(jobEventCursors).where(eq(jobEventCursors.namespace, namespace));
        if (c && c.handledUntil.getTime() >= until) break;
        if (performance.now() - t0 > passTimeoutMs) throw new Error(`W9: the watcher did not catch up in ${passTimeoutMs} ms`);
        await new Promise((r) => setTimeout(r, 50));
      }
    } finally {
      await watcher.stop();
    }
    const cpu = process.cpuUsage(cpuBefore);
    const temporalCpuTicks = temporalTicks() - temporalBefore;
    return {
      watcherCpuMsPerRun: round((cpu.user + cpu.system) / 1000 / s.n, 2),
      temporalCpuMsPerRun: round(((temporalCpuTicks / clkTck) * 1000) / s.n, 2),
      seconds: round((performance.now() - t0) / 1000, 2),
    };
  }

  const recording = await pass();
  const runs = await recorded();
  if (runs !== s.n) throw new Error(`W9: ${runs} of ${s.n} runs recorded`);
  const baseline = await pass();
  if ((await recorded()) !== s.n) throw new Error('W9: the second pass recorded runs again');
  return {
    settings: s,
    recording,
    baseline,
    usageCpuMsPerRun: round(recording.watcherCpuMsPerRun - baseline.watcherCpuMsPerRun, 2),
    usageTemporalCpuMsPerRun: round(recording.temporalCpuMsPerRun - baseline.temporalCpuMsPerRun, 2),
    ratio: round(recording.watcherCpuMsPerRun / baseline.watcherCpuMsPerRun, 2),
  };
}
