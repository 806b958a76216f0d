/**
 * The measurements of one peer × workload: sequential jobs (submit latency
 * and submit-to-done at concurrency 1), then a fixed number of jobs with a
 * fixed number in flight (each lane submits, waits until done, submits the
 * next) for jobs/s to completion, CPU-seconds per 1,000 jobs over every
 * process involved and peak memory.
 */
import { performance } from 'node:perf_hooks';
import { round, runPool, summarize, type Summary } from '../util.ts';
import type { RunningPeer, WorkloadName } from './peer.ts';
import { ProcSampler, type Group, type Usage } from './procstat.ts';

export interface Settings {
  /** Sequential jobs per workload. */
  n: number;
  /** Jobs of the throughput phase per workload. */
  throughputN: number;
  /** Jobs in flight in the throughput phase. */
  concurrency: number;
  /** Sequential jobs before any clock runs, per workload. */
  warmup: number;
}

export interface WorkloadFigures {
  /** Submit: HTTP request sent → answer with the job id (ms). */
  submitMs: Summary;
  /** Submit-to-done: HTTP request sent → the engine reported the job done (ms), one job at a time. */
  toDoneMs: Summary;
  throughput: {
    jobs: number;
    concurrency: number;
    seconds: number;
    jobsPerSec: number;
    cpuSeconds: number;
    cpuSecondsPer1000: number;
    cpuByGroup: Record<string, number>;
  };
  /** Highest sum of PSS (MiB) over every process of the peer during this workload's two phases. */
  peakMemMiB: number;
  peakMemByGroupMiB: Record<string, number>;
  /** Effects observed afterwards (receiver requests or step rows) against what the jobs should have made. */
  effects: { expected: number; observed: number };
}

export async function measureWorkload(
  peer: RunningPeer,
  workload: WorkloadName,
  settings: Settings,
  groups: () => Record<string, Group>,
  signal: AbortSignal,
  effects: () => Promise<number>,
  effectsPerJob: number,
): Promise<WorkloadFigures> {
  const one = async () => {
    const t0 = performance.now();
    const id = await peer.submit(workload);
    const t1 = performance.now();
    const doneAt = await peer.done(id);
    return { submit: t1 - t0, toDone: doneAt - t0 };
  };
  const before = await effects();
  for (let i = 0; i < settings.warmup; i++) await one();

  const seqSampler = new ProcSampler(groups);
  seqSampler.start();
  const seq: { submit: number; toDone: number }[] = [];
  for (let i = 0; i < settings.n; i++) {
    signal.throwIfAborted();
    seq.push(await one());
  }
  const seqUsage = seqSampler.stop();

  const sampler = new ProcSampler(groups);
  sampler.start();
  const t0 = performance.now();
  await runPool(settings.throughputN, settings.concurrency, signal, one);
  const seconds = (performance.now() - t0) / 1000;
  const usage: Usage = sampler.stop();

  const jobs = settings.warmup + settings.n + settings.throughputN;
  return {
    submitMs: summarize(seq.map((s) => s.submit)),
    toDoneMs: summarize(seq.map((s) => s.toDone)),
    throughput: {
      jobs: settings.throughputN,
      concurrency: settings.concurrency,
      seconds: round(seconds, 3),
      jobsPerSec: round(settings.throughputN / seconds, 1),
      cpuSeconds: usage.cpuSeconds,
      cpuSecondsPer1000: round((usage.cpuSeconds / settings.throughputN) * 1000, 1),
      cpuByGroup: usage.cpuByGroup,
    },
    peakMemMiB: Math.max(seqUsage.peakMemMiB, usage.peakMemMiB),
    peakMemByGroupMiB: Object.fromEntries(
      Object.keys({ ...seqUsage.peakMemByGroupMiB, ...usage.peakMemByGroupMiB }).map((g) => [g, Math.max(seqUsage.peakMemByGroupMiB[g] ?? 0, usage.peakMemByGroupMiB[g] ?? 0)]),
    ),
    effects: { expected: jobs * effectsPerJob, observed: (await effects()) - before },
  };
}
