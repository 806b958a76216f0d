/** The peers run for people (a table on stdout) and for tools (`bench/results/peers-<start time>.json`). */
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { resultsDir, type machineInfo } from '../report.ts';
import type { Settings } from './measure.ts';
import { workloadNames } from './peer.ts';
import type { PeerResult } from './peers.ts';

export interface PeersResults {
  startedAt: string;
  finishedAt: string;
  machine: ReturnType<typeof machineInfo>;
  postgres: 'DATABASE_URL' | 'embedded';
  settings: Settings;
  peers: PeerResult[];
  /** Peers that did not finish, with why. */
  failures: Record<string, string>;
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  const line = (r: string[]) => r.map((cell, c) => (c <= 1 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join('  ');
  return [line(rows[0]!), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.slice(1).map(line)].join('\n');
}

const baselinePeer = 'temporal-sdk';

export function formatPeers(r: PeersResults): string {
  const m = r.machine;
  const s = r.settings;
  const main: string[][] = [['peer', 'workload', 'submit p50', 'submit p99', 'done p50', 'done p99', 'jobs/s', 'vs sdk', 'CPU s/1k', 'vs sdk', 'peak MiB']];
  const cpu: string[][] = [['peer', 'workload', 'bench process', 'engine', 'postgres', 'total']];
  for (const workload of workloadNames) {
    const base = r.peers.find((p) => p.peer === baselinePeer)?.workloads[workload];
    for (const p of r.peers) {
      const f = p.workloads[workload];
      if (!f) {
        if (p.skipped[workload]) main.push([p.peer, workload, 'n/a', '', '', '', '', '', '', '', '']);
        continue;
      }
      const t = f.throughput;
      main.push([
        p.peer,
        workload,
        f.submitMs.p50.toFixed(1),
        f.submitMs.p99.toFixed(1),
        f.toDoneMs.p50.toFixed(1),
        f.toDoneMs.p99.toFixed(1),
        t.jobsPerSec.toFixed(1),
        base ? `${(t.jobsPerSec / base.throughput.jobsPerSec).toFixed(2)}x` : '-',
        t.cpuSecondsPer1000.toFixed(1),
        base ? `${(t.cpuSecondsPer1000 / base.throughput.cpuSecondsPer1000).toFixed(2)}x` : '-',
        String(f.peakMemMiB),
      ]);
      const g = t.cpuByGroup;
      const per1k = (x: number | undefined) => (((x ?? 0) / t.jobs) * 1000).toFixed(1);
      cpu.push([p.peer, workload, per1k(g['bench process']), per1k(g.engine), per1k(g.postgres), t.cpuSecondsPer1000.toFixed(1)]);
    }
  }
  const notes = [
    ...r.peers.flatMap((p) => Object.entries(p.skipped).map(([w, why]) => `${p.peer} ${w}: n/a — ${why}`)),
    ...r.peers.flatMap((p) =>
      Object.entries(p.workloads)
        .filter(([, f]) => f.effects.observed !== f.effects.expected)
        .map(([w, f]) => `${p.peer} ${w}: ${f.effects.observed} effects observed, ${f.effects.expected} expected`),
    ),
    ...Object.entries(r.failures).map(([p, why]) => `${p}: FAILED — ${why}`),
  ];
  return [
    `Jobplane bench:peers — ${r.startedAt}`,
    `machine: ${m.cpus} CPU (${m.cpuModel}), ${m.totalMemMiB} MiB, node ${m.node}, ${m.platform}; postgres: ${r.postgres} (${r.peers[0]?.postgresDurability ?? '?'})`,
    `post1 = 1 step, HTTP POST to a local receiver; chain10 = 10 sequential steps, one Postgres insert each. Latencies in ms at concurrency 1 (${s.n} jobs after ${s.warmup} warm-up);`,
    `jobs/s, CPU-seconds per 1,000 jobs (every process: bench process with client, route and workers; engine; Postgres postmaster tree) at ${s.concurrency} in flight (${s.throughputN} jobs); peak MiB = highest sum of PSS.`,
    '',
    table(main),
    '',
    'CPU-seconds per 1,000 jobs by process group (throughput phase)',
    table(cpu),
    '',
    'durability (what is fsynced before a write is acknowledged):',
    ...r.peers.map((p) => `  ${p.peer}: ${p.durability}`),
    ...(notes.length > 0 ? ['', ...notes] : []),
  ].join('\n');
}

export function writePeerResults(r: PeersResults): string {
  mkdirSync(resultsDir, { recursive: true });
  const file = path.join(resultsDir, `peers-${r.startedAt.replace(/:/g, '-')}.json`);
  writeFileSync(`${file}.tmp`, `${JSON.stringify(r, null, 2)}\n`);
  renameSync(`${file}.tmp`, file);
  return path.relative(process.cwd(), file);
}
