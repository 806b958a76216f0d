/**
 * `npx tsx bench/profile-top.ts <file.cpuprofile> [n]`: where a V8 CPU
 * profile (`node --cpu-prof`, W7's `BENCH_W7_CPU_PROF`) spent its samples —
 * self time by function and by package (or Node internals, native code,
 * idle, garbage collection), as shares of the busy (non-idle) samples.
 */
import { readFileSync } from 'node:fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** `node_modules/@scope/pkg/…` → `@scope/pkg`; the project's own files by top folder; the rest by kind. */
function packageOf(url: string, fn: string): string {
  if (fn === '(idle)' || fn === '(program)' || fn === '(garbage collector)') return fn;
  if (!url) return '(native)';
  const m = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (m) return m[1]!;
  if (url.startsWith('node:')) return 'node core';
  const own = /\/work\/[^/]+\/([^/]+)\//.exec(url) ?? /file:\/\/.*?\/((?:api|activities|workers|workflows|runtime|db|contracts|domain)\/)/.exec(url);
  return own ? `jobplane ${own[1]}` : url.replace(/^file:\/\//, '');
}

export function topOfProfile(profile: Profile, n = 25): string {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const selfUs = new Map<number, number>();
  profile.samples.forEach((id, i) => selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));
  const byFunction = new Map<string, number>();
  const byPackage = new Map<string, number>();
  let busy = 0;
  let idle = 0;
  for (const [id, us] of selfUs) {
    const { callFrame } = byId.get(id)!;
    const pkg = packageOf(callFrame.url, callFrame.functionName);
    if (pkg === '(idle)') {
      idle += us;
      continue;
    }
    busy += us;
    const where = callFrame.url ? `${callFrame.url.replace(/^.*node_modules\//, '').replace(/^file:\/\/\/work\/[^/]+\//, '')}:${callFrame.lineNumber + 1}` : '';
    const fn = `${callFrame.functionName || '(anonymous)'} ${where}`.trim();
    byFunction.set(fn, (byFunction.get(fn) ?? 0) + us);
    byPackage.set(pkg, (byPackage.get(pkg) ?? 0) + us);
  }
  const pct = (us: number) => `${((us / busy) * 100).toFixed(1).padStart(5)}%`;
  const top = (m: Map<string, number>) =>
    [...m.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, n)
      .map(([k, us]) => `${pct(us)}  ${(us / 1000).toFixed(0).padStart(6)} ms  ${k}`);
  return [
    `busy ${(busy / 1000).toFixed(0)} ms, idle ${(idle / 1000).toFixed(0)} ms`,
    '',
    'self time by package',
    ...top(byPackage),
    '',
    'self time by function',
    ...top(byFunction),
  ].join('\n');
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const [file, n] = process.argv.slice(2);
  if (!file) throw new Error('usage: tsx bench/profile-top.ts <file.cpuprofile> [n]');
  process.stdout.write(topOfProfile(JSON.parse(readFileSync(file, 'utf8')) as Profile, Number(n ?? 25)) + '\n');
}
