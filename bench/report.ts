/** Renders a run for people (a table on stdout) and for tools (JSON under bench/results/). */
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Summary } from './util.ts';
import type { W1Result } from './w1-start-latency.ts';
import type { W2Result } from './w2-throughput.ts';
import type { BurstPhase, W3Result } from './w3-burst.ts';
import type { FanoutPhase, W4Result } from './w4-fanout.ts';
import type { W5Result } from './w5-documents.ts';
import type { W6Result } from './w6-isolation.ts';
import type { W7Result } from './w7-worker-cpu.ts';
import type { W8Result } from './w8-outbox.ts';
import type { W9Result } from './w9-usage.ts';

export interface BenchResults {
  startedAt: string;
  finishedAt: string;
  machine: ReturnType<typeof machineInfo>;
  config: { w1N: number; w2N: number; w2Concurrency: number; warmup: number; postgres: string; postgresDurability?: string; temporalCli: string; temporal?: { engine: string; durability: string } };
  /** Absent when BENCH_WORKLOADS left the workload out. */
  w1?: W1Result;
  w2?: W2Result;
  w3?: W3Result;
  w4?: W4Result;
  w5?: W5Result;
  w6?: W6Result;
  w7?: W7Result;
  w8?: W8Result;
  w9?: W9Result;
}

export const resultsDir = path.join(import.meta.dirname, 'results');

export function machineInfo() {
  const cpus = os.cpus();
  return {
    platform: `${os.platform()} ${os.release()} ${os.arch()}`,
    cpus: cpus.length,
    cpuModel: cpus[0]?.model.trim() ?? 'unknown',
    totalMemMiB: Math.round(os.totalmem() / 2 ** 20),
    node: process.version,
  };
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  const line = (r: string[]) => r.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join('  ');
  return [line(rows[0]!), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.slice(1).map(line)].join('\n');
}

const burstRow = (label: string, p: BurstPhase) => [
  label,
  p.maxProcesses === 1 ? '1' : `1→${p.maxProcesses}`,
  p.drainSeconds.toFixed(1),
  p.submitSeconds.toFixed(1),
  p.jobsPerSec.toFixed(1),
  String(p.maxBacklog),
  p.maxBacklogAgeSeconds.toFixed(1),
  p.workflowTaskScheduleToStartMs.p99.toFixed(0),
  p.scheduleToStartMs.p99.toFixed(0),
  p.workerCpuSecondsPer1000.toFixed(1),
  p.serverCpuSeconds.toFixed(1),
];

const latencyRow = (label: string, s: Summary) => [label, s.p50.toFixed(2), s.p99.toFixed(2), s.mean.toFixed(2), String(s.n)];

export function formatResults(r: BenchResults): string {
  const m = r.machine;
  const { w1, w2, w3, w4, w5, w6, w7, w8, w9 } = r;
  const sections: string[][] = [];
  if (w1) {
    sections.push([
      `W1 start latency (ms, ${w1.n} sequential, interleaved)`,
      table([
        ['path', 'p50', 'p99', 'mean', 'n'],
        latencyRow('POST /v1/jobs (api)', w1.api),
        latencyRow('workflow.start (sdk)', w1.sdk),
        ...(w1.sdkAsApi ? [latencyRow('the API’s start (sdk)', w1.sdkAsApi)] : []),
        latencyRow('plain Hono POST (http)', w1.plainHttp),
        latencyRow('Postgres insert+commit', w1.postgresCommit),
      ]),
      `ratio api/sdk: p50 ${w1.ratio.p50.toFixed(2)}x, p99 ${w1.ratio.p99.toFixed(2)}x`,
      ...(w1.apiPhases && Object.keys(w1.apiPhases).length > 0
        ? [
            '',
            "where a create's time goes (ms, from its Server-Timing; outside = client-measured minus server total: HTTP and the client)",
            table([['phase', 'p50', 'p99', 'mean', 'n'], ...Object.entries(w1.apiPhases).map(([name, s]) => latencyRow(name, s))]),
          ]
        : []),
    ]);
  }
  if (w2) {
    sections.push([
      `W2 throughput (${w2.n} webhook.deliver jobs, ${w2.concurrency} in flight, until all closed)`,
      table([
        ['path', 'jobs/s', 'total s', 'submit s', 'deliveries'],
        ...(['api', 'sdk'] as const).map((k) => [
          k === 'api' ? 'POST /v1/jobs (api)' : 'workflow.start (sdk)',
          w2[k].jobsPerSec.toFixed(1),
          w2[k].seconds.toFixed(2),
          w2[k].submitSeconds.toFixed(2),
          String(w2[k].deliveries),
        ]),
      ]),
      `ratio api/sdk jobs/s: ${w2.ratio.toFixed(2)}x`,
    ]);
  }
  if (w3) {
    const w3s = w3.settings;
    sections.push([
      `W3 burst (${w3s.n} webhook.deliver jobs started at once via SDK, receiver ${w3s.receiverDelayMs} ms, ${w3s.slots} activity slots per process)`,
      table([
        ['workers', 'procs', 'drain s', 'submit s', 'jobs/s', 'max backlog', 'max age s', 'wft s2s p99 ms', 'act s2s p99 ms', 'worker CPU s/1k', 'server CPU s'],
        burstRow('1 process (fixed)', w3.single),
        burstRow(`pool --pool 1..${w3s.poolMax}`, w3.pool),
      ]),
      `ratio pool/single: drain ${w3.ratio.drainSeconds.toFixed(2)}x, max backlog ${w3.ratio.maxBacklog.toFixed(2)}x, ` +
        `max age ${w3.ratio.maxBacklogAgeSeconds.toFixed(2)}x, wft s2s p99 ${w3.ratio.workflowTaskScheduleToStartP99.toFixed(2)}x, act s2s p99 ${w3.ratio.scheduleToStartP99.toFixed(2)}x, CPU/1k ${w3.ratio.workerCpuSecondsPer1000.toFixed(2)}x`,
    ]);
  }
  if (w4) {
    const row = (label: string, p: FanoutPhase) => [
      label,
      String(p.items),
      p.seconds.toFixed(1),
      p.itemsPerSec.toFixed(1),
      String(p.workerPeakRssMiB),
      p.workerCpuMsPerItem === undefined ? '-' : p.workerCpuMsPerItem.toFixed(1),
      p.runs === undefined ? '-' : String(p.runs),
    ];
    sections.push([
      `W4 fan-out (${w4.settings.n} noop items; batch concurrency ${w4.settings.concurrency}, one-by-one ${w4.settings.submitConcurrency} starts in flight; one worker process per phase)`,
      table([
        ['path', 'items', 'total s', 'items/s', 'worker peak RSS MiB', 'worker CPU ms/item', 'runs'],
        row('one batch.run (api, stored list)', w4.batch),
        row('separate workflows (sdk)', w4.separate),
      ]),
      `ratio batch/separate: items/s ${w4.ratio.itemsPerSec.toFixed(2)}x, worker peak RSS ${w4.ratio.workerPeakRss.toFixed(2)}x`,
    ]);
  }
  if (w5) {
    const a = w5.api;
    sections.push([
      `W5 documents (${w5.settings.n} small text documents via POST /v1/documents, ${w5.settings.concurrency} in flight, until all searchable)`,
      table([
        ['path', 'docs/s', 'total s', 'submit s', 'upload p50 ms', 'upload p99 ms', 'to-searchable p50 ms', 'to-searchable p99 ms', 'failed'],
        [
          'upload → ingested (api)',
          a.documentsPerSec.toFixed(1),
          a.seconds.toFixed(2),
          a.submitSeconds.toFixed(2),
          a.uploadMs.p50.toFixed(0),
          a.uploadMs.p99.toFixed(0),
          a.uploadToSearchableMs.p50.toFixed(0),
          a.uploadToSearchableMs.p99.toFixed(0),
          String(a.failed),
        ],
      ]),
      table([
        ['baseline', 'inserts/s', 'total s'],
        ['raw INSERT+COMMIT, tsvector + GIN', w5.baseline.insertsPerSec.toFixed(1), w5.baseline.seconds.toFixed(2)],
      ]),
      `one at a time (${w5.sequentialToSearchableMs.n} documents, no queue): upload → searchable p50 ${w5.sequentialToSearchableMs.p50.toFixed(0)} ms, p99 ${w5.sequentialToSearchableMs.p99.toFixed(0)} ms`,
      `search check: ${w5.search.found}/${w5.search.checked} found by their own word (p50 ${w5.search.latencyMs.p50.toFixed(1)} ms, p99 ${w5.search.latencyMs.p99.toFixed(1)} ms)`,
      `ratio documents/s ÷ raw inserts/s: ${w5.ratio.toFixed(4)}x`,
    ]);
  }
  if (w6) {
    const statuses = Object.entries(w6.flood.statuses).map(([k, v]) => `${k}: ${v}`).join(', ');
    sections.push([
      `W6 tenant isolation at the API (API and workers in processes of their own; tenant B: ${w6.settings.n} sequential creates, quiet, then while tenant A, quota ${w6.settings.floodRatePerSecond}/s, floods from ${w6.settings.floodConcurrency} loops)`,
      table([
        ['tenant B creates', 'p50', 'p99', 'mean', 'n'],
        latencyRow('quiet', w6.quiet),
        latencyRow('during A’s flood', w6.flooded),
      ]),
      `A's flood: ${w6.flood.requests} requests, ${w6.flood.perSecond}/s (${statuses})`,
      `ratio flooded/quiet: p50 ${w6.ratio.p50.toFixed(2)}x, p99 ${w6.ratio.p99.toFixed(2)}x (bar: p99 at most 2x)`,
    ]);
  }
  if (w7) {
    sections.push([
      `W7 worker CPU per job (${w7.settings.n} jobs of each type via SDK, ${w7.settings.concurrency} in flight, one worker process per type${w7.settings.cpuProfDir ? `, profiles in ${w7.settings.cpuProfDir}` : ''})`,
      table([
        ['job type', 'jobs', 'worker CPU ms/job', 'Temporal CPU ms/job', 'jobs/s'],
        ...w7.rows.map((x) => [x.jobType, String(x.jobs), x.workerCpuMsPerJob.toFixed(1), x.temporalCpuMsPerJob.toFixed(1), x.jobsPerSec.toFixed(1)]),
      ]),
    ]);
  }
  if (w8) {
    sections.push([
      `W8 commit-to-start (${w8.settings.n} jobs per path, ${w8.settings.ratePerSecond} commits/s interleaved; ms from the service's COMMIT to the workflow's start)`,
      table([
        ['path', 'p50', 'p99', 'mean', 'n'],
        latencyRow('outbox (enqueueJob in the transaction, relay creates)', w8.outbox),
        latencyRow('direct (commit, then POST /v1/jobs)', w8.direct),
        latencyRow('outbox: commit → row relayed', w8.outboxRelayed),
      ]),
      `ratio outbox/direct: p50 ${w8.ratio.p50.toFixed(2)}x, p99 ${w8.ratio.p99.toFixed(2)}x`,
    ]);
  }
  if (w9) {
    const pass = (name: string, p: W9Result['recording']) => [name, p.watcherCpuMsPerRun.toFixed(2), p.temporalCpuMsPerRun.toFixed(2), p.seconds.toFixed(2)];
    sections.push([
      `W9 usage recording (${w9.settings.n} webhook.deliver jobs via API; the job-end watcher reads the window they closed in twice)`,
      table([
        ['watcher pass', 'watcher CPU ms/run', 'Temporal CPU ms/run', 'seconds'],
        pass('recording usage (first pass)', w9.recording),
        pass('baseline (same runs, all recorded)', w9.baseline),
      ]),
      `usage recording costs ${w9.usageCpuMsPerRun.toFixed(2)} ms of watcher CPU and ${w9.usageTemporalCpuMsPerRun.toFixed(2)} ms of Temporal CPU per run; ratio recording/baseline ${w9.ratio.toFixed(2)}x`,
    ]);
  }
  return [
    `Jobplane bench — ${r.startedAt}`,
    `machine: ${m.cpus} CPU (${m.cpuModel}), ${m.totalMemMiB} MiB, node ${m.node}, ${m.platform}`,
    `postgres: ${r.config.postgres}${r.config.postgresDurability ? ` (${r.config.postgresDurability})` : ''}; warm-up ${r.config.warmup} of each`,
    `temporal: ${r.config.temporal ? `${r.config.temporal.engine} — ${r.config.temporal.durability}` : 'dev server'}`,
    ...sections.flatMap((section) => ['', ...section]),
  ].join('\n');
}

/**
 * Writes `<timestamp>.json`, and `latest.json` when `latest` is set (a run of
 * every workload: a partial run must not replace the figures the docs
 * quotes), each via a `.tmp` file so a reader never sees half a file.
 */
export function writeResults(r: BenchResults, { latest }: { latest: boolean }): string[] {
  mkdirSync(resultsDir, { recursive: true });
  // Colons are not allowed in Windows file names.
  const stamp = r.startedAt.replace(/:/g, '-');
  const json = `${JSON.stringify(r, null, 2)}\n`;
  return [`${stamp}.json`, ...(latest ? ['latest.json'] : [])].map((name) => {
    const file = path.join(resultsDir, name);
    writeFileSync(`${file}.tmp`, json);
    renameSync(`${file}.tmp`, file);
    return path.relative(process.cwd(), file);
  });
}
