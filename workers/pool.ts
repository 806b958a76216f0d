/**
 * The local worker pool (`npm run workers -- --pool min..max`): one machine
 * scales worker processes on the same signal KEDA uses in production. Every
 * `intervalMs` it reads the task-queue backlog of the queues its processes
 * serve, asks KEDA's formula for a replica count, passes it through the
 * stabilising policy (`pool-policy.ts`), and starts or drains processes.
 * Each decision is one JSON log line with the reading, target and reason.
 */
import { Client, Connection } from '@temporalio/client';
import { loadConfig, type Config } from '../runtime/config.ts';
import { createLogger, type Logger } from '../runtime/logger.ts';
import { recommendedReplicas, taskQueueStats, type ScalePolicy } from '../runtime/task-queue-stats.ts';
import { taskQueueName, temporalConnectionOptions } from '../runtime/temporal.ts';
import { selectedTaskQueues } from './create-workers.ts';
import { decide, defaultPoolPolicy, initialPoolState, type DecisionReason, type PoolPolicy, type PoolState } from './pool-policy.ts';
import { spawnWorkerProcess, type ChildOutput, type WorkerProcess } from './pool-process.ts';

export interface PoolOptions {
  min: number;
  max: number;
  /** How often the backlog is read. @default 5000 */
  intervalMs?: number;
  /** Consecutive readings above the current count before scaling up. @default 1 */
  scaleUpReadings?: number;
  /** How long the recommendation must stay lower before one step down. @default 60000 */
  scaleDownWindowMs?: number;
  /** Environment of the pool and its children. @default process.env */
  env?: NodeJS.ProcessEnv;
  log?: Logger;
  /** Where children's output goes. @default 'inherit' */
  childOutput?: ChildOutput;
  /** How long a child may take to start polling. @default 60000 */
  readyTimeoutMs?: number;
  /** SIGKILL a draining child after this long. @default JOBPLANE_WORKER_SHUTDOWN_GRACE_MS + 15 s */
  stopTimeoutMs?: number;
  /** Called with every decision (tests record the timeline). */
  onDecision?: (entry: DecisionEntry) => void;
}

export interface QueueReading {
  taskQueue: string;
  workflowBacklog: number;
  activityBacklog: number;
  recommended: number;
}

export interface PoolReadingLog {
  /** Backlog of every served queue and type, summed. */
  backlog: number;
  /** The largest per-queue recommendation (KEDA: one trigger per queue, the HPA takes the max). */
  recommended: number;
  queues: QueueReading[];
}

export interface DecisionEntry {
  at: number;
  reading: PoolReadingLog;
  /** Processes running or starting before the decision. */
  current: number;
  /** Of those, processes polling. */
  ready: number;
  target: number;
  reason: DecisionReason;
}

export interface PoolCounts {
  starting: number;
  ready: number;
  stopping: number;
}

export interface Pool {
  counts(): PoolCounts;
  processes(): readonly WorkerProcess[];
  /** Stops reading, drains every child (SIGTERM, waits for exit), closes the Temporal connection. */
  stop(): Promise<void>;
}

/** `"1..4"` → {min: 1, max: 4}; `"3"` → {min: 3, max: 3}. */
export function parsePoolRange(value: string): { min: number; max: number } {
  const m = /^(\d+)(?:\.\.(\d+))?$/.exec(value.trim());
  if (!m) throw new RangeError(`--pool ${value}: expected min..max, e.g. 1..4`);
  const min = Number(m[1]);
  const max = Number(m[2] ?? m[1]);
  if (max < 1 || min > max) throw new RangeError(`--pool ${value}: need min <= max and max >= 1`);
  return { min, max };
}

/** The task queues (with prefix) the pool's worker processes poll. */
export function servedTaskQueues(config: Config): string[] {
  return selectedTaskQueues(config).map((q) => taskQueueName(config, q));
}

export async function readBacklog(client: Client, config: Config, queues: string[], scale: ScalePolicy): Promise<PoolReadingLog> {
  const perQueue = await Promise.all(
    queues.map(async (taskQueue): Promise<QueueReading> => {
      const types = await taskQueueStats(client, config.temporalNamespace, taskQueue);
      const of = (t: string) => types.find((s) => s.type === t)?.backlogCount ?? 0;
      return { taskQueue, workflowBacklog: of('workflow'), activityBacklog: of('activity'), recommended: recommendedReplicas(types, scale) };
    }),
  );
  return {
    backlog: perQueue.reduce((n, q) => n + q.workflowBacklog + q.activityBacklog, 0),
    recommended: Math.max(scale.minReplicas, ...perQueue.map((q) => q.recommended)),
    queues: perQueue,
  };
}

export async function startPool(opts: PoolOptions): Promise<Pool> {
  const env = opts.env ?? process.env;
  const config = loadConfig(env);
  const log = opts.log ?? createLogger('worker-pool', config.logLevel);
  const policy: PoolPolicy = {
    min: opts.min,
    max: opts.max,
    scaleUpReadings: opts.scaleUpReadings ?? defaultPoolPolicy.scaleUpReadings,
    scaleDownWindowMs: opts.scaleDownWindowMs ?? defaultPoolPolicy.scaleDownWindowMs,
  };
  let state: PoolState = initialPoolState(policy);
  const scale: ScalePolicy = { targetQueueSize: config.scaleTargetQueueSize, minReplicas: policy.min, maxReplicas: policy.max };
  const intervalMs = opts.intervalMs ?? 5000;
  const readyTimeoutMs = opts.readyTimeoutMs ?? 60_000;
  const stopTimeoutMs = opts.stopTimeoutMs ?? config.workerShutdownGraceMs + 15_000;
  const queues = servedTaskQueues(config);
  const healthHost = config.workerHealthAddress ? config.workerHealthAddress.slice(0, config.workerHealthAddress.lastIndexOf(':')).replace(/^\[|\]$/g, '') || '127.0.0.1' : '127.0.0.1';

  const connection = await Connection.connect(temporalConnectionOptions(config));
  const client = new Client({ connection, namespace: config.temporalNamespace });

  const children: WorkerProcess[] = [];
  const draining = new Set<Promise<unknown>>();
  /** Children the pool asked to stop: their exit is expected, not a crash. */
  const retired = new WeakSet<WorkerProcess>();
  let nextId = 1;
  let desired = 0;
  let stopping = false;
  let crashStreak = 0;
  const active = () => children.filter((c) => c.state === 'starting' || c.state === 'ready');
  const counts = (): PoolCounts => ({
    starting: children.filter((c) => c.state === 'starting').length,
    ready: children.filter((c) => c.state === 'ready').length,
    stopping: children.filter((c) => c.state === 'stopping').length,
  });

  // Every change to the set of children runs one after another (ticks, restarts, stop).
  let chain: Promise<unknown> = Promise.resolve();
  const serial = <T>(fn: () => Promise<T>): Promise<T> => {
    const run = chain.then(fn);
    chain = run.catch(() => {});
    return run;
  };

  // If the pool itself exits without draining (an uncaught error), children must not outlive it.
  const killAll = () => {
    for (const c of children) c.kill();
  };
  process.once('exit', killAll);

  async function launch(): Promise<void> {
    const child = await spawnWorkerProcess({
      id: nextId++,
      env,
      host: healthHost,
      metrics: Boolean(config.workerMetricsAddress),
      output: opts.childOutput ?? 'inherit',
      readyTimeoutMs,
    });
    children.push(child);
    log.info({ child: child.id, pid: child.pid, health: child.healthAddress, metrics: child.metricsAddress || 'off' }, 'worker process starting');
    child.ready.then(
      () => log.info({ child: child.id, pid: child.pid, startupMs: Date.now() - child.startedAt, ...counts() }, 'worker process polling'),
      (err: Error) => {
        if (child.state === 'starting') {
          log.error({ child: child.id, pid: child.pid, err: err.message }, 'worker process did not start polling; killing it');
          child.kill();
        }
      },
    );
    void child.exited.then((exit) => onExit(child, exit));
  }

  function onExit(child: WorkerProcess, exit: { code: number | null; signal: NodeJS.Signals | null }) {
    children.splice(children.indexOf(child), 1);
    if (retired.has(child)) return;
    const livedMs = Date.now() - child.startedAt;
    crashStreak = livedMs < 30_000 ? crashStreak + 1 : 1;
    const delayMs = Math.min(30_000, 1000 * 2 ** (crashStreak - 1));
    log.error({ child: child.id, pid: child.pid, ...exit, livedMs, restartInMs: stopping ? undefined : delayMs }, 'worker process exited unexpectedly');
    if (stopping) return;
    setTimeout(() => {
      void serial(async () => {
        if (stopping || active().length >= desired) return;
        log.info({ replacing: child.id }, 'restarting worker process');
        await launch();
      }).catch((err: Error) => log.error({ err: err.message }, 'could not restart worker process'));
    }, delayMs).unref();
  }

  function retire(child: WorkerProcess, why: string) {
    retired.add(child);
    log.info({ child: child.id, pid: child.pid, why, graceMs: config.workerShutdownGraceMs }, 'draining worker process');
    const started = Date.now();
    const done = child.stop(stopTimeoutMs).then((exit) => {
      log.info({ child: child.id, pid: child.pid, ...exit, drainMs: Date.now() - started, ...counts() }, 'worker process stopped');
    });
    draining.add(done);
    void done.finally(() => draining.delete(done));
    return done;
  }

  async function apply(target: number) {
    desired = target;
    while (active().length < target) await launch();
    // Newest first: the oldest processes have the warmest caches.
    for (const child of active().slice(target).reverse()) void retire(child, 'scale-down');
  }

  let last: { reason: DecisionReason; backlog: number; target: number } | undefined;
  async function tick() {
    let reading: PoolReadingLog;
    try {
      reading = await readBacklog(client, config, queues, scale);
    } catch (err) {
      log.warn({ err: (err as Error).message }, 'could not read task-queue stats; holding');
      if (active().length < policy.min) await apply(policy.min);
      return;
    }
    const current = active().length;
    const ready = counts().ready;
    const d = decide({ ...state, current }, reading, Date.now());
    state = d.state;
    const entry: DecisionEntry = { at: Date.now(), reading, current, ready, target: d.target, reason: d.reason };
    opts.onDecision?.(entry);
    const changed = !last || last.reason !== d.reason || last.backlog !== reading.backlog || d.target !== current;
    const { at: _at, ...fields } = entry;
    log[changed ? 'info' : 'debug'](fields, 'pool decision');
    last = { reason: d.reason, backlog: reading.backlog, target: d.target };
    if (d.target !== current) await apply(d.target);
  }

  let wake: (() => void) | undefined;
  const loop = (async () => {
    log.info({ min: policy.min, max: policy.max, intervalMs, scaleUpReadings: policy.scaleUpReadings, scaleDownWindowMs: policy.scaleDownWindowMs, targetQueueSize: scale.targetQueueSize, taskQueues: queues }, 'worker pool started');
    while (!stopping) {
      await serial(tick).catch((err: Error) => log.error({ err: err.message }, 'pool tick failed'));
      if (stopping) break;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, intervalMs);
        wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
  })();

  let stopped: Promise<void> | undefined;
  return {
    counts,
    processes: () => children,
    stop() {
      stopped ??= (async () => {
        stopping = true;
        wake?.();
        await loop;
        await serial(async () => {
          const all = active();
          log.info({ children: all.length, graceMs: config.workerShutdownGraceMs }, 'worker pool stopping; draining every process');
          for (const child of all) void retire(child, 'pool stopping');
        });
        while (draining.size > 0) await Promise.all([...draining]);
        await connection.close();
        process.removeListener('exit', killAll);
        log.info('worker pool stopped');
      })();
      return stopped;
    },
  };
}
