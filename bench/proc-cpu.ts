/**
 * CPU time of a process tree, read from /proc (Linux only): what the
 * workloads that run workers in child processes (W3, W7) charge per job.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

export function clockTicksPerSecond(): number {
  try {
    const n = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
    return Number.isInteger(n) && n > 0 ? n : 100;
  } catch {
    return 100;
  }
}

/** Fields of /proc/<pid>/stat after the command name (which may contain spaces and parentheses). */
function statFields(pid: number): string[] | undefined {
  try {
    const raw = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return raw.slice(raw.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined;
  }
}

/**
 * CPU clock ticks of a process and its descendants: its own utime + stime,
 * plus cutime + cstime (children it has reaped), plus utime + stime of every
 * descendant still alive. Undefined once the process is gone (Linux only).
 */
export function treeTicks(root: number): number | undefined {
  // After the name: [0] state, [1] ppid, … [11] utime, [12] stime, [13] cutime, [14] cstime.
  const own = statFields(root);
  if (!own) return undefined;
  let ticks = Number(own[11]) + Number(own[12]) + Number(own[13]) + Number(own[14]);
  const parent = new Map<number, number>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const f = statFields(Number(name));
    if (f) parent.set(Number(name), Number(f[1]));
  }
  const inTree = new Set([root]);
  let grew = true;
  while (grew) {
    grew = false;
    for (const [pid, ppid] of parent) {
      if (!inTree.has(pid) && inTree.has(ppid)) {
        inTree.add(pid);
        grew = true;
        const f = statFields(pid);
        if (f) ticks += Number(f[11]) + Number(f[12]);
      }
    }
  }
  return ticks;
}
