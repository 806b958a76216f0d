/**
 * W3 — burst. M `webhook.deliver` jobs started at once (straight with the SDK
 * client) against worker *child processes* (`node --import tsx
 * workers/main.ts`, spawned exactly as the local pool spawns them), to a
 * receiver that answers after `receiverDelayMs`, so activity slots matter.
 * Two phases on the same dev server, each on its own task queue:
 *   - single: one worker process with a fixed slot count (the baseline);
 *   - pool:   the local pool (`--pool 1..N`, short interval and scale-down
 *             window) with the same slot count per process.
 * Per phase: time to drain (first start → every workflow closed), the largest
 * backlog count and age the task-queue stats reported (sampled every second),
 * activity schedule-to-start from the histories of a sample of workflows, and
 * CPU-seconds of the worker processes (and, separately, the dev server).
 */
import { randomBytes } from 'node:crypto';
import { rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import type { Client } from '@temporalio/client';
import proto from '@temporalio/proto';
import { createTenant } from '../api/tenants/service.ts';
import { webhookDeliver } from '../contracts/webhook-deliver.ts';
import { loadConfig } from '../runtime/config.ts';
import { createLogger } from '../runtime/logger.ts';
import { taskQueueStats } from '../runtime/task-queue-stats.ts';
import { taskQueueName } from '../runtime/temporal.ts';
import { startPool, type DecisionEntry, type Pool } from '../workers/pool/pool.ts';
import { spawnWorkerProcess, type WorkerProcess } from '../workers/pool/process.ts';
import { awaitClosed, deliveryInput, startViaSdk } from './jobs.ts';
import { openDb, workloadEnv, type BenchBase } from './stack.ts';
import { round, runPool, summarize, type Summary } from './util.ts';
import { clockTicksPerSecond, treeTicks } from './proc-cpu.ts';

const { EventType } = proto.temporal.api.enums.v1;

export interface W3Settings {
  /** Jobs per phase. */
  n: number;
  /** Activity slots per worker process (JOBPLANE_WORKER_MAX_CONCURRENT_ACTIVITIES). */
  slots: number;
  /** The pool runs 1..poolMax processes. */
  poolMax: number;
  /** How long the receiver takes to answer each delivery. */
  receiverDelayMs: number;
  /** Starts in flight while submitting the burst. */
  submitConcurrency: number;
  /** Workflows whose histories give schedule-to-start. */
  historySample: number;
  /** Pool: how often it reads the backlog, and how long a lower reading must last before a step down. */
  poolIntervalMs: number;
  poolScaleDownWindowMs: number;
  warmup: number;
}

export interface BurstPhase {
  phase: 'single' | 'pool';
  /** Worker processes allowed, e.g. "1" or "1..3". */
  processes: string;
  /** Most worker processes running (starting or polling) at any sample. */
  maxProcesses: number;
  jobs: number;
  /** First start → last start answered. */
  submitSeconds: number;
  /** First start → every workflow closed. */
  drainSeconds: number;
  jobsPerSec: number;
  /** Largest workflow + activity backlog any 1 s sample of the task-queue stats reported. */
  maxBacklog: number;
  /** Largest backlog age (either type) any sample reported. */
  maxBacklogAgeSeconds: number;
  /** Activity ScheduledTime → StartedTime (ms) from the histories of `historySample` workflows spread over the burst. */
  scheduleToStartMs: Summary;
  /** The same for each workflow's first workflow task: where a burst queues before any activity exists. */
  workflowTaskScheduleToStartMs: Summary;
  /** utime + stime of the worker processes (and their descendants) from the first start to drained. */
  workerCpuSeconds: number;
  workerCpuSecondsPer1000: number;
  /** The same for the Temporal dev server (shared by both phases, measured per phase). */
  serverCpuSeconds: number;
  /** Requests the receiver saw (one per job when nothing retried). */
  deliveries: number;
  /** Pool only: every change of the process count, seconds after the first start. */
  scaleEvents?: { atSeconds: number; from: number; to: number; reason: string; backlog: number }[];
  /** Every sample: seconds after the first start, backlog, oldest age, processes. */
  samples: { t: number; backlog: number; ageSeconds: number; processes: number }[];
}

export interface W3Result {
  settings: W3Settings;
  /** How the burst is submitted. */
  submitVia: 'sdk';
  single: BurstPhase;
  pool: BurstPhase;
  /** pool / single: below 1 means the pool did better (for every figure here, lower is better). */
  ratio: { drainSeconds: number; maxBacklog: number; maxBacklogAgeSeconds: number; workflowTaskScheduleToStartP99: number; scheduleToStartP99: number; workerCpuSecondsPer1000: number };
}

export async function runW3(base: BenchBase, s: W3Settings, signal: AbortSignal, log: (m: string) => void): Promise<W3Result> {
  // Children load a prebuilt bundle: bundling costs each new process seconds of CPU that is not what we measure.
  const bundleFile = path.join(os.tmpdir(), `jobplane-bench-bundle-${randomBytes(4).toString('hex')}.js`);
  writeFileSync(bundleFile, base.bundle.code);
  base.cleanup.add('w3 workflow bundle file', async () => rmSync(bundleFile, { force: true }));
  const db = openDb(base, 'w3 db');
  const tenant = await createTenant(db, 'bench-w3');

  const run = (phase: BurstPhase['phase']) => runPhase(base, s, phase, tenant.id, bundleFile, signal, log);
  const single = await run('single');
  const pool = await run('pool');
  const r = (a: number, b: number) => round(a / b);
  return {
    settings: s,
    submitVia: 'sdk',
    single,
    pool,
    ratio: {
      drainSeconds: r(pool.drainSeconds, single.drainSeconds),
      maxBacklog: r(pool.maxBacklog, single.maxBacklog),
      maxBacklogAgeSeconds: r(pool.maxBacklogAgeSeconds, single.maxBacklogAgeSeconds),
      workflowTaskScheduleToStartP99: r(pool.workflowTaskScheduleToStartMs.p99, single.workflowTaskScheduleToStartMs.p99),
      scheduleToStartP99: r(pool.scheduleToStartMs.p99, single.scheduleToStartMs.p99),
      workerCpuSecondsPer1000: r(pool.workerCpuSecondsPer1000, single.workerCpuSecondsPer1000),
    },
  };
}

/** The worker side of a phase: one fixed process or the pool, behind one interface. */
interface Workers {
  /** Processes running or starting now, with their pids. */
  live(): WorkerProcess[];
  stop(): Promise<void>;
}

async function runPhase(
  base: BenchBase,
  s: W3Settings,
  phase: BurstPhase['phase'],
  tenantId: string,
  bundleFile: string,
  signal: AbortSignal,
  log: (m: string) => void,
): Promise<BurstPhase> {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    ...workloadEnv(base, `w3-${phase}`),
    JOBPLANE_WORKER_TASK_QUEUES: webhookDeliver.taskQueue,
    // A fixed slot count per process, whatever the shell sets: the pool, not a tuner, is what varies.
    JOBPLANE_WORKER_TUNER: 'fixed',
    JOBPLANE_WORKER_MAX_CONCURRENT_ACTIVITIES: String(s.slots),
    JOBPLANE_WORKFLOW_BUNDLE: bundleFile,
    JOBPLANE_LOG_LEVEL: 'warn',
    // No tracing export from the children, whatever the shell says.
    OTEL_EXPORTER_OTLP_ENDPOINT: '',
    OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: '',
  };
  const config = loadConfig(env);
  const taskQueue = taskQueueName(config, webhookDeliver.taskQueue);
  const relay = (line: string, child: { id: number; pid: number | undefined }) => process.stderr.write(`[bench w3 ${phase} #${child.id}] ${line}\n`);

  const decisions: DecisionEntry[] = [];
  let workers: Workers;
  if (phase === 'single') {
    const child = await spawnWorkerProcess({ id: 1, env, metrics: false, output: relay, readyTimeoutMs: 120_000 });
    base.cleanup.add('w3 single worker process', async () => void (await child.stop(10_000)));
    workers = { live: () => (child.state === 'exited' || child.state === 'stopping' ? [] : [child]), stop: async () => void (await child.stop(10_000)) };
    await child.ready;
  } else {
    const pool: Pool = await startPool({
      min: 1,
      max: s.poolMax,
      intervalMs: s.poolIntervalMs,
      scaleDownWindowMs: s.poolScaleDownWindowMs,
      env,
      log: createLogger('worker-pool', 'silent'),
      childOutput: relay,
      readyTimeoutMs: 120_000,
      stopTimeoutMs: 10_000,
      onDecision: (e) => decisions.push(e),
    });
    base.cleanup.add('w3 worker pool', () => pool.stop());
    workers = { live: () => pool.processes().filter((p) => p.state === 'starting' || p.state === 'ready'), stop: () => pool.stop() };
    await waitFor(() => pool.counts().ready >= 1, 120_000, 'pool: first worker process not polling', signal);
  }

  const wl = { client: base.client, signal, taskQueue, tenantId };
  // One at a time, so the warm-up never builds a backlog the pool would scale up on.
  const warm = deliveryInput(base.receiver.urlFor(`w3-${phase}-warmup`, s.receiverDelayMs));
  for (let i = 0; i < s.warmup; i++) await awaitClosed(base.client, [await startViaSdk(wl, warm)], signal);
  if (phase === 'pool') {
    // Back to one process before the clock runs (the warm-up should not have moved it; wait if it did).
    await waitFor(() => workers.live().length === 1, s.poolScaleDownWindowMs * 3 + 30_000, 'pool did not settle at 1 process', signal);
  }

  const clkTck = clockTicksPerSecond();
  // Every Temporal process (one dev server, or the cluster's services).
  const serverTicks = () => base.temporal.pids().reduce((sum, pid) => sum + (treeTicks(pid) ?? 0), 0);
  const cpuStart = new Map<number, number>();
  const cpuLast = new Map<number, number>();
  for (const p of workers.live()) if (p.pid) cpuStart.set(p.pid, treeTicks(p.pid) ?? 0);
  const serverStart = serverTicks();
  const readCpu = () => {
    for (const p of workers.live()) {
      if (!p.pid) continue;
      const t = treeTicks(p.pid);
      if (t !== undefined) cpuLast.set(p.pid, t);
    }
  };

  const samples: BurstPhase['samples'] = [];
  const receiverPath = `w3-${phase}`;
  const input = deliveryInput(base.receiver.urlFor(receiverPath, s.receiverDelayMs));
  log(`W3 ${phase}: ${s.n} jobs at once on ${phase === 'single' ? '1 worker process' : `a pool of 1..${s.poolMax}`}, ${s.slots} slots each`);
  const t0 = performance.now();
  const decisionsFrom = decisions.length;
  const wallT0 = Date.now();
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      const at = performance.now();
      readCpu();
      try {
        const stats = await taskQueueStats(base.client, config.temporalNamespace, taskQueue);
        samples.push({
          t: round((at - t0) / 1000, 1),
          backlog: stats.reduce((n, x) => n + x.backlogCount, 0),
          ageSeconds: round(Math.max(...stats.map((x) => x.backlogAgeSeconds)), 2),
          processes: workers.live().length,
        });
      } catch (err) {
        log(`W3 ${phase}: could not read task-queue stats: ${(err as Error).message}`);
      }
      await new Promise((r) => setTimeout(r, Math.max(0, 1000 - (performance.now() - at))));
    }
  })();

  let ids: string[];
  let submitted: number;
  try {
    ids = await runPool(s.n, s.submitConcurrency, signal, () => startViaSdk(wl, input));
    submitted = performance.now();
    await awaitClosed(base.client, ids, signal);
  } finally {
    sampling = false;
  }
  const drained = performance.now();
  readCpu();
  const serverEnd = serverTicks();
  await sampler;
  const maxProcesses = Math.max(1, ...samples.map((x) => x.processes));
  await workers.stop();

  let ticks = 0;
  for (const [pid, last] of cpuLast) ticks += last - (cpuStart.get(pid) ?? 0);
  const workerCpuSeconds = ticks / clkTck;
  const sampleIds = spread(ids, s.historySample);
  const latencies = await runPool(sampleIds.length, 16, signal, (i) => scheduleToStartMs(base.client, sampleIds[i]!));
  const drainSeconds = (drained - t0) / 1000;

  const scaleEvents = phase === 'pool'
    ? decisions.slice(decisionsFrom).filter((d) => d.target !== d.current).map((d) => ({
        atSeconds: round((d.at - wallT0) / 1000, 1),
        from: d.current,
        to: d.target,
        reason: d.reason,
        backlog: d.reading.backlog,
      }))
    : undefined;
  return {
    phase,
    processes: phase === 'single' ? '1' : `1..${s.poolMax}`,
    maxProcesses,
    jobs: s.n,
    submitSeconds: round((submitted - t0) / 1000, 3),
    drainSeconds: round(drainSeconds, 3),
    jobsPerSec: round(s.n / drainSeconds, 1),
    maxBacklog: Math.max(0, ...samples.map((x) => x.backlog)),
    maxBacklogAgeSeconds: Math.max(0, ...samples.map((x) => x.ageSeconds)),
    scheduleToStartMs: summarize(latencies.flatMap((l) => l.activity)),
    workflowTaskScheduleToStartMs: summarize(latencies.flatMap((l) => l.firstWorkflowTask)),
    workerCpuSeconds: round(workerCpuSeconds, 2),
    workerCpuSecondsPer1000: round((workerCpuSeconds / s.n) * 1000, 2),
    serverCpuSeconds: round((serverEnd - serverStart) / clkTck, 2),
    deliveries: base.receiver.count(receiverPath),
    ...(scaleEvents ? { scaleEvents } : {}),
    samples,
  };
}

/** Schedule-to-start (ms) of every activity, and of the first workflow task, in one workflow's history. */
async function scheduleToStartMs(client: Client, workflowId: string): Promise<{ activity: number[]; firstWorkflowTask: number[] }> {
  const history = await client.workflow.getHandle(workflowId).fetchHistory();
  const scheduledAt = new Map<string, number>();
  const out: number[] = [];
  const firstWorkflowTask: number[] = [];
  const ms = (t: { seconds?: unknown; nanos?: number | null } | null | undefined) => Number(t?.seconds ?? 0) * 1000 + (t?.nanos ?? 0) / 1e6;
  for (const e of history.events ?? []) {
    if (e.eventType === EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED) scheduledAt.set(String(e.eventId), ms(e.eventTime));
    if (e.eventType === EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED) {
      const at = scheduledAt.get(String(e.activityTaskStartedEventAttributes?.scheduledEventId));
      if (at !== undefined) out.push(ms(e.eventTime) - at);
    }
    if (e.eventType === EventType.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED) scheduledAt.set(String(e.eventId), ms(e.eventTime));
    if (e.eventType === EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED && firstWorkflowTask.length === 0) {
      const at = scheduledAt.get(String(e.workflowTaskStartedEventAttributes?.scheduledEventId ?? Number(e.eventId) - 1));
      if (at !== undefined) firstWorkflowTask.push(ms(e.eventTime) - at);
    }
  }
  return { activity: out, firstWorkflowTask };
}

/** `k` items spread evenly over `items` (first and last included), so the sample covers the whole burst. */
function spread<T>(items: T[], k: number): T[] {
  if (items.length <= k) return items;
  return Array.from({ length: k }, (_, i) => items[Math.round((i * (items.length - 1)) / (k - 1))]!);
}

async function waitFor(ok: () => boolean, timeoutMs: number, what: string, signal: AbortSignal): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!ok()) {
    signal.throwIfAborted();
    if (Date.now() > deadline) throw new Error(`${what} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 200));
  }
}
