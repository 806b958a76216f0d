/**
 * One worker process of the local pool: `node --import tsx workers/main.ts`
 * with its own health (and, when metrics are on, metrics) port, ready once its
 * `/readyz` answers 200 (every worker polls), stopped by SIGTERM so it drains
 * in-flight activities within JOBPLANE_WORKER_SHUTDOWN_GRACE_MS.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { freePort } from '../../runtime/host-port.ts';
import { parseHostPort } from '../../runtime/host-port.ts';

export const repoRoot = path.resolve(import.meta.dirname, '../..');
const mainEntry = path.join(repoRoot, 'workers/main.ts');

export type ChildOutput = 'inherit' | 'ignore' | ((line: string, child: { id: number; pid: number | undefined }) => void);

export interface SpawnOptions {
  id: number;
  /** Environment of the child (the pool's); health and metrics addresses are replaced per child. */
  env: NodeJS.ProcessEnv;
  /** Host the child's health (and metrics) endpoints bind to. @default 127.0.0.1 */
  host?: string;
  /** Give the child a metrics port of its own; false disables its metrics endpoint. */
  metrics: boolean;
  output: ChildOutput;
  /** How long the child may take to poll before it counts as failed. */
  readyTimeoutMs: number;
  /** Extra Node flags before the entry point (`--cpu-prof`, which NODE_OPTIONS refuses). @default [] */
  nodeArgs?: string[];
}

export type ProcessState = 'starting' | 'ready' | 'stopping' | 'exited';

export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface WorkerProcess {
  id: number;
  pid: number | undefined;
  healthAddress: string;
  metricsAddress: string;
  startedAt: number;
  /** When the pool sent SIGTERM (undefined while it runs). */
  stopRequestedAt: number | undefined;
  state: ProcessState;
  /** Resolves when `/readyz` answers 200; rejects when the child exits or times out first. */
  ready: Promise<void>;
  exited: Promise<ExitInfo>;
  /** SIGTERM (drain), SIGKILL after `killAfterMs`; resolves on exit. */
  stop(killAfterMs: number): Promise<ExitInfo>;
  kill(): void;
}

export async function spawnWorkerProcess(opts: SpawnOptions): Promise<WorkerProcess> {
  const host = opts.host ?? '127.0.0.1';
  const bracketed = host.includes(':') ? `[${host}]` : host;
  const healthAddress = `${bracketed}:${await freePort()}`;
  const metricsAddress = opts.metrics ? `${bracketed}:${await freePort()}` : '';
  const stdio = typeof opts.output === 'function' ? 'pipe' : opts.output;
  const child: ChildProcess = spawn(process.execPath, [...(opts.nodeArgs ?? []), '--import', 'tsx', mainEntry], {
    cwd: repoRoot,
    env: { ...opts.env, JOBPLANE_WORKER_HEALTH_ADDRESS: healthAddress, JOBPLANE_WORKER_METRICS_ADDRESS: metricsAddress },
    stdio: ['ignore', stdio, stdio],
    // Own process group: a terminal's Ctrl-C reaches only the pool, which then drains its children in order.
    detached: true,
  });
  if (typeof opts.output === 'function') {
    const onLine = opts.output;
    for (const stream of [child.stdout!, child.stderr!]) {
      createInterface({ input: stream }).on('line', (line) => onLine(line, { id: opts.id, pid: child.pid }));
    }
  }

  const exited = new Promise<ExitInfo>((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }));
    // Spawn failures (no such binary) emit 'error' and maybe no 'exit'.
    child.once('error', () => resolve({ code: child.exitCode ?? -1, signal: null }));
  });

  const proc: WorkerProcess = {
    id: opts.id,
    pid: child.pid,
    healthAddress,
    metricsAddress,
    startedAt: Date.now(),
    stopRequestedAt: undefined,
    state: 'starting',
    ready: Promise.resolve(),
    exited,
    async stop(killAfterMs) {
      if (proc.state !== 'exited') {
        proc.state = 'stopping';
        proc.stopRequestedAt ??= Date.now();
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), killAfterMs);
        timer.unref();
        const info = await exited;
        clearTimeout(timer);
        return info;
      }
      return await exited;
    },
    kill() {
      if (proc.state !== 'exited') child.kill('SIGKILL');
    },
  };
  void exited.then(() => (proc.state = 'exited'));
  proc.ready = waitReady(healthAddress, exited, opts.readyTimeoutMs).then(() => {
    if (proc.state === 'starting') proc.state = 'ready';
  });
  // The caller may never await `ready` (e.g. a child stopped while starting).
  proc.ready.catch(() => {});
  return proc;
}

async function waitReady(healthAddress: string, exited: Promise<ExitInfo>, timeoutMs: number): Promise<void> {
  const { host, port } = parseHostPort(healthAddress);
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}/readyz`;
  let gone: ExitInfo | undefined;
  void exited.then((info) => (gone = info));
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (gone) throw new Error(`worker process exited before it polled (code ${gone.code}, signal ${gone.signal})`);
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(1000) });
      await res.body?.cancel();
      if (res.status === 200) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`worker process not polling after ${timeoutMs} ms`);
}
