/**
 * Keeps one cluster process running the way Kubernetes keeps a pod's
 * container running: when it exits without being asked to, it is started
 * again after a back-off (1 s, doubling to 30 s, back to 1 s once a run has
 * lasted a minute), and each restart is logged. Output goes to a log file per
 * process; the pid of the current run is written to `<name>.pid`, so tools
 * (the chaos suite, on-call) can signal it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync, rmSync, writeFileSync, type WriteStream } from 'node:fs';
import path from 'node:path';

export interface SupervisedOptions {
  /** Service name, used for the pid and log file names (`history` → `history.pid`, `history.log`). */
  name: string;
  command: string;
  args: string[];
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Directory for `<name>.pid`. */
  pidDir: string;
  /** Directory for `<name>.log` (appended to across restarts). */
  logDir: string;
  /** Receives one line per start, exit and restart. */
  log: (line: string) => void;
  /** First restart delay. @default 1000 */
  initialBackoffMs?: number;
  /** Longest restart delay. @default 30000 */
  maxBackoffMs?: number;
  /** A run that lasted this long resets the back-off. @default 60000 */
  healthyAfterMs?: number;
}

export interface Supervised {
  readonly name: string;
  /** The current run's process, if one is running. */
  current(): ChildProcess | undefined;
  /** How many times the process was started again after an unasked exit. */
  restarts(): number;
  /** Stops supervising: SIGTERM (or `signal`), SIGKILL after `graceMs`; resolves once it exited. */
  stop(graceMs?: number, signal?: NodeJS.Signals): Promise<void>;
  /** Starts supervising again after `stop()` (an outage that ends). */
  start(): void;
}

const everyRun = new Set<ChildProcess>();
// Cluster processes are detached (Ctrl-C reaches only the launcher, which stops them in order): never leave one behind.
process.on('exit', () => {
  for (const child of everyRun) child.kill('SIGKILL');
});

export function supervise(opts: SupervisedOptions): Supervised {
  const initialBackoff = opts.initialBackoffMs ?? 1000;
  const maxBackoff = opts.maxBackoffMs ?? 30_000;
  const healthyAfter = opts.healthyAfterMs ?? 60_000;
  mkdirSync(opts.pidDir, { recursive: true });
  mkdirSync(opts.logDir, { recursive: true });
  const pidFile = path.join(opts.pidDir, `${opts.name}.pid`);
  let logFile: WriteStream = createWriteStream(path.join(opts.logDir, `${opts.name}.log`), { flags: 'a' });

  let child: ChildProcess | undefined;
  let stopping = false;
  let restartCount = 0;
  let backoff = initialBackoff;
  let restartTimer: NodeJS.Timeout | undefined;
  let exited: Promise<void> = Promise.resolve();

  const run = () => {
    const startedAt = Date.now();
    const proc = spawn(opts.command, opts.args, {
      cwd: opts.cwd,
      env: opts.env ?? process.env,
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    child = proc;
    everyRun.add(proc);
    proc.stdout!.pipe(logFile, { end: false });
    proc.stderr!.pipe(logFile, { end: false });
    if (proc.pid) writeFileSync(pidFile, `${proc.pid}\n`);
    exited = new Promise((resolve) =>
      proc.once('exit', (code, signal) => {
        everyRun.delete(proc);
        if (child === proc) child = undefined;
        resolve();
        if (stopping) return;
        const lasted = Date.now() - startedAt;
        if (lasted >= healthyAfter) backoff = initialBackoff;
        restartCount++;
        opts.log(`${opts.name} exited (${signal ? `signal ${signal}` : `code ${code}`}) after ${(lasted / 1000).toFixed(1)} s; restarting in ${(backoff / 1000).toFixed(0)} s (restart ${restartCount})`);
        restartTimer = setTimeout(() => {
          restartTimer = undefined;
          if (stopping) return;
          run();
          opts.log(`${opts.name} restarted (pid ${child?.pid})`);
        }, backoff);
        backoff = Math.min(backoff * 2, maxBackoff);
      }),
    );
    proc.once('error', (err) => opts.log(`${opts.name} could not start: ${err.message}`));
  };
  run();

  return {
    name: opts.name,
    current: () => child,
    restarts: () => restartCount,
    async stop(graceMs = 10_000, signal: NodeJS.Signals = 'SIGTERM') {
      if (stopping) return await exited;
      stopping = true;
      if (restartTimer) clearTimeout(restartTimer);
      const proc = child;
      if (proc && proc.exitCode === null && proc.signalCode === null) {
        proc.kill(signal);
        const killer = setTimeout(() => proc.kill('SIGKILL'), graceMs);
        await exited;
        clearTimeout(killer);
      }
      rmSync(pidFile, { force: true });
      // 'exit' can come before the child's pipes have drained: unpipe first, or their last chunk is written after
      // end() and the stream's 'write after end' error takes the whole launcher down mid-shutdown.
      proc?.stdout?.unpipe(logFile);
      proc?.stderr?.unpipe(logFile);
      await new Promise<void>((resolve) => logFile.end(() => resolve()));
    },
    start() {
      if (!stopping) return;
      stopping = false;
      backoff = initialBackoff;
      logFile = createWriteStream(path.join(opts.logDir, `${opts.name}.log`), { flags: 'a' });
      run();
      opts.log(`${opts.name} started again (pid ${child?.pid})`);
    },
  };
}
