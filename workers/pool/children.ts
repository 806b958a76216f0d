/**
 * The pool's worker processes: starting them, draining them, restarting one
 * that exits on its own (with backoff after crashes). Every change to the set
 * runs through `serial`, one after another (ticks, restarts, stop).
 */
import type { Config } from '../../runtime/config.ts';
import type { Logger } from '../../runtime/logger.ts';
import { spawnWorkerProcess, type ChildOutput, type ExitInfo, type WorkerProcess } from './process.ts';

export interface ChildSettings {
  env: NodeJS.ProcessEnv;
  config: Config;
  log: Logger;
  /** Host the children's health (and metrics) endpoints bind to. */
  healthHost: string;
  output: ChildOutput;
  readyTimeoutMs: number;
  stopTimeoutMs: number;
}

export interface PoolCounts {
  starting: number;
  ready: number;
  stopping: number;
}

/** A child that lived less than this before exiting counts as a crash in a row (longer backoff). */
const crashWindowMs = 30_000;
const maxRestartDelayMs = 30_000;

export class WorkerChildren {
  /** Running, starting and stopping children. */
  readonly all: WorkerProcess[] = [];
  /** Set by `stop()`: nothing starts or restarts from now on. */
  stopping = false;
  readonly #draining = new Set<Promise<unknown>>();
  /** Children the pool asked to stop: their exit is expected, not a crash. */
  readonly #retired = new WeakSet<WorkerProcess>();
  #nextId = 1;
  #desired = 0;
  #crashStreak = 0;
  #chain: Promise<unknown> = Promise.resolve();

  constructor(private readonly settings: ChildSettings) {}

  active(): WorkerProcess[] {
    return this.all.filter((c) => c.state === 'starting' || c.state === 'ready');
  }

  counts(): PoolCounts {
    return {
      starting: this.all.filter((c) => c.state === 'starting').length,
      ready: this.all.filter((c) => c.state === 'ready').length,
      stopping: this.all.filter((c) => c.state === 'stopping').length,
    };
  }

  /** Runs `fn` after every change queued before it. */
  serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#chain.then(fn);
    this.#chain = run.catch(() => {});
    return run;
  }

  /** Starts or drains processes until `target` run. */
  async apply(target: number): Promise<void> {
    this.#desired = target;
    while (this.active().length < target) await this.launch();
    // Newest first: the oldest processes have the warmest caches.
    for (const child of this.active().slice(target).reverse()) void this.retire(child, 'scale-down');
  }

  /** Drains every running child (the pool is stopping). */
  retireAll(why: string): void {
    const all = this.active();
    this.settings.log.info({ children: all.length, graceMs: this.settings.config.workerShutdownGraceMs }, 'worker pool stopping; draining every process');
    for (const child of all) void this.retire(child, why);
  }

  /** Resolves once every child asked to stop has exited. */
  async drained(): Promise<void> {
    while (this.#draining.size > 0) await Promise.all([...this.#draining]);
  }

  /** SIGKILL for every child: the pool itself is exiting without a drain. */
  readonly killAll = (): void => {
    for (const c of this.all) c.kill();
  };

  async launch(): Promise<void> {
    const { env, config, log, healthHost, output, readyTimeoutMs } = this.settings;
    const child = await spawnWorkerProcess({ id: this.#nextId++, env, host: healthHost, metrics: Boolean(config.workerMetricsAddress), output, readyTimeoutMs });
    this.all.push(child);
    log.info({ child: child.id, pid: child.pid, health: child.healthAddress, metrics: child.metricsAddress || 'off' }, 'worker process starting');
    child.ready.then(
      () => log.info({ child: child.id, pid: child.pid, startupMs: Date.now() - child.startedAt, ...this.counts() }, 'worker process polling'),
      (err: Error) => {
        if (child.state === 'starting') {
          log.error({ child: child.id, pid: child.pid, err: err.message }, 'worker process did not start polling; killing it');
          child.kill();
        }
      },
    );
    void child.exited.then((exit) => this.#onExit(child, exit));
  }

  retire(child: WorkerProcess, why: string): Promise<void> {
    const { log, config, stopTimeoutMs } = this.settings;
    this.#retired.add(child);
    log.info({ child: child.id, pid: child.pid, why, graceMs: config.workerShutdownGraceMs }, 'draining worker process');
    const started = Date.now();
    const done = child.stop(stopTimeoutMs).then((exit) => {
      log.info({ child: child.id, pid: child.pid, ...exit, drainMs: Date.now() - started, ...this.counts() }, 'worker process stopped');
    });
    this.#draining.add(done);
    void done.finally(() => this.#draining.delete(done));
    return done;
  }

  #onExit(child: WorkerProcess, exit: ExitInfo): void {
    this.all.splice(this.all.indexOf(child), 1);
    if (this.#retired.has(child)) return;
    const livedMs = Date.now() - child.startedAt;
    this.#crashStreak = livedMs < crashWindowMs ? this.#crashStreak + 1 : 1;
    const delayMs = Math.min(maxRestartDelayMs, 1000 * 2 ** (this.#crashStreak - 1));
    this.settings.log.error({ child: child.id, pid: child.pid, ...exit, livedMs, restartInMs: this.stopping ? undefined : delayMs }, 'worker process exited unexpectedly');
    if (!this.stopping) this.#restartAfter(child, delayMs);
  }

  /** Replaces a child that exited on its own, unless the pool is stopping or already has enough by then. */
  #restartAfter(child: WorkerProcess, delayMs: number): void {
    const { log } = this.settings;
    setTimeout(() => {
      void this.serial(async () => {
        if (this.stopping || this.active().length >= this.#desired) return;
        log.info({ replacing: child.id }, 'restarting worker process');
        await this.launch();
      }).catch((err: Error) => log.error({ err: err.message }, 'could not restart worker process'));
    }, delayMs).unref();
  }
}
