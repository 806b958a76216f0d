/**
 * CPU and memory of a set of processes and their descendants, read from
 * /proc: utime+stime of `/proc/<pid>/stat` (÷ CLK_TCK) and the proportional
 * set size of `/proc/<pid>/smaps_rollup` (PSS: shared pages such as
 * Postgres's shared buffers split between the processes mapping them, so a
 * sum over processes does not count them once per backend; VmRSS where PSS
 * cannot be read, e.g. a Postgres owned by another user).
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

const clockTicks = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;
  } catch {
    return 100;
  }
})();

interface Stat {
  ppid: number;
  ticks: number;
  comm: string;
}

function readStat(pid: number): Stat | undefined {
  try {
    const raw = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // comm may contain spaces and parentheses: fields start after the last ')'.
    const close = raw.lastIndexOf(')');
    const comm = raw.slice(raw.indexOf('(') + 1, close);
    const f = raw.slice(close + 2).split(' ');
    return { ppid: Number(f[1]), ticks: Number(f[11]) + Number(f[12]), comm };
  } catch {
    return undefined;
  }
}

function readMemKiB(pid: number): number {
  try {
    const m = /^Pss:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'));
    if (m) return Number(m[1]);
  } catch {
    /* not ours: fall back to VmRSS */
  }
  try {
    const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

/** A group of processes: the roots, with or without their descendants. */
export interface Group {
  pids: number[];
  descendants: boolean;
}

/** The roots and (with `descendants`) every live descendant, with their stats. */
function tree({ pids: roots, descendants }: Group): Map<number, Stat> {
  const all = new Map<number, Stat>();
  for (const name of readdirSync('/proc')) {
    const pid = Number(name);
    if (!Number.isInteger(pid)) continue;
    const s = readStat(pid);
    if (s) all.set(pid, s);
  }
  const children = new Map<number, number[]>();
  for (const [pid, s] of all) children.set(s.ppid, [...(children.get(s.ppid) ?? []), pid]);
  const out = new Map<number, Stat>();
  const stack = roots.filter((p) => all.has(p));
  while (stack.length > 0) {
    const pid = stack.pop()!;
    if (out.has(pid)) continue;
    out.set(pid, all.get(pid)!);
    if (descendants) stack.push(...(children.get(pid) ?? []));
  }
  return out;
}

export interface Usage {
  cpuSeconds: number;
  /** CPU-seconds per group (`bench process`, `postgres`, `redis-server`, …). */
  cpuByGroup: Record<string, number>;
  /** Highest sum of PSS over every process of every group, MiB, over the samples. */
  peakMemMiB: number;
  peakMemByGroupMiB: Record<string, number>;
}

/**
 * Samples groups of process trees every `intervalMs` from `start()` to
 * `stop()`. A process's CPU counts from the first sample (or from 0 when it
 * appeared during the window) to the last one it was seen in, so a process
 * that exits between samples loses at most one interval.
 */
export class ProcSampler {
  private readonly first = new Map<number, number>();
  private readonly last = new Map<number, { group: string; ticks: number }>();
  private peak = 0;
  private readonly peakByGroup: Record<string, number> = {};
  private timer: NodeJS.Timeout | undefined;
  private started = false;

  constructor(
    private readonly groups: () => Record<string, Group>,
    private readonly intervalMs = 500,
  ) {}

  private sample(): void {
    let total = 0;
    for (const [group, spec] of Object.entries(this.groups())) {
      let groupMem = 0;
      for (const [pid, s] of tree(spec)) {
        if (!this.started) this.first.set(pid, s.ticks);
        else if (!this.first.has(pid)) this.first.set(pid, 0);
        this.last.set(pid, { group, ticks: s.ticks });
        groupMem += readMemKiB(pid);
      }
      this.peakByGroup[group] = Math.max(this.peakByGroup[group] ?? 0, groupMem / 1024);
      total += groupMem;
    }
    this.peak = Math.max(this.peak, total / 1024);
    this.started = true;
  }

  start(): void {
    this.sample();
    this.timer = setInterval(() => this.sample(), this.intervalMs);
    this.timer.unref();
  }

  stop(): Usage {
    clearInterval(this.timer);
    this.sample();
    const cpuByGroup: Record<string, number> = {};
    for (const [pid, { group, ticks }] of this.last) cpuByGroup[group] = (cpuByGroup[group] ?? 0) + (ticks - (this.first.get(pid) ?? 0)) / clockTicks;
    const round2 = (x: number) => Math.round(x * 100) / 100;
    return {
      cpuSeconds: round2(Object.values(cpuByGroup).reduce((a, b) => a + b, 0)),
      cpuByGroup: Object.fromEntries(Object.entries(cpuByGroup).map(([k, v]) => [k, round2(v)])),
      peakMemMiB: Math.round(this.peak),
      peakMemByGroupMiB: Object.fromEntries(Object.entries(this.peakByGroup).map(([k, v]) => [k, Math.round(v)])),
    };
  }
}

/** The postmaster behind a connection: the parent of its backend. */
export function postmasterOf(backendPid: number): number | undefined {
  return readStat(backendPid)?.ppid;
}
