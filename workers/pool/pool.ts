/**
 * The local worker pool (`npm run workers -- --pool min..max`): one machine
 * scales worker processes on the same signal KEDA uses in production. Every
 * `intervalMs` it reads the task-queue backlog of the queues its processes
 * serve, asks KEDA's formula for a replica count, passes it through the
 * stabilising policy (`pool-policy.ts`), and starts or drains processes.
 * Each decision is one JSON log line with the reading, target and reason.
 */
import { Client, Connection } from '@temporalio/client';
import { loadConfig, type Config } from '../../runtime/config.ts';
import { createLogger, type Logger } from '../../runtime/logger.ts';
import { recommendedReplicas, taskQueueStats, type ScalePolicy } from '../../runtime/task-queue-stats.ts';
import { taskQueueName, temporalConnectionOptions } from '../../runtime/temporal.ts';
import { selectedTaskQueues } from '../create-workers.ts';
import { WorkerChildren, type PoolCounts } from './children.ts';
import { decide, defaultPoolPolicy, initialPoolState, type DecisionReason, type PoolPolicy, type PoolState } from './policy.ts';
import type { ChildOutput, WorkerProcess } from './process.ts';

export type { PoolCounts } from './children.ts';

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

/** What the pool runs with, resolved once from its options and the config. */
interface PoolSettings {
  env: NodeJS.ProcessEnv;
  config: Config;
  log: Logger;
  policy: PoolPolicy;
  scale: ScalePolicy;
  intervalMs: number;
  readyTimeoutMs: number;
  stopTimeoutMs: number;
  /** The task queues (with prefix) whose backlog is read. */
  queues: string[];
  healthHost: string;
}

function poolSettings(opts: PoolOptions): PoolSettings {
  const env = opts.env ?? process.env;
  const config = loadConfig(env);
  const policy: PoolPolicy = {
    min: opts.min,
    max: opts.max,
    scaleUpReadings: opts.scaleUpReadings ?? defaultPoolPolicy.scaleUpReadings,
    scaleDownWindowMs: opts.scaleDownWindowMs ?? defaultPoolPolicy.scaleDownWindowMs,
  };
  return {
    env,
    config,
    log: opts.log ?? createLogger('worker-pool', config.logLevel),
    policy,
    scale: { targetQueueSize: config.scaleTargetQueueSize, minReplicas: policy.min, maxReplicas: policy.max },
    intervalMs: opts.intervalMs ?? 5000,
    readyTimeoutMs: opts.readyTimeoutMs ?? 60_000,
    stopTimeoutMs: opts.stopTimeoutMs ?? config.workerShutdownGraceMs + 15_000,
    queues: servedTaskQueues(config),
    healthHost: healthHostOf(config),
  };
}

/** The host of `JOBPLANE_WORKER_HEALTH_ADDRESS` (brackets removed), which the children's endpoints bind to; 127.0.0.1 when unset. */
function healthHostOf(config: Config): string {
  const address = config.workerHealthAddress;
  if (!address) return '127.0.0.1';
  return address.slice(0, address.lastIndexOf(':')).replace(/^\[|\]$/g, '') || '127.0.0.1';
}

export async function startPool(opts: PoolOptions): Promise<Pool> {
  const settings = poolSettings(opts);
  const { config, log, policy, scale, intervalMs, queues } = settings;
  const connection = await Connection.connect(temporalConnectionOptions(config));
  const client = new Client({ connection, namespace: config.temporalNamespace });
  const children = new WorkerChildren({ ...settings, output: opts.childOutput ?? 'inherit' });
  // If the pool itself exits without draining (an uncaught error), children must not outlive it.
  process.once('exit', children.killAll);

  const tick = decisionTick(settings, client, children, opts.onDecision);
  log.info({ min: policy.min, max: policy.max, intervalMs, scaleUpReadings: policy.scaleUpReadings, scaleDownWindowMs: policy.scaleDownWindowMs, targetQueueSize: scale.targetQueueSize, taskQueues: queues }, 'worker pool started');
  const loop = tickEvery(intervalMs, children, tick, log);

  let stopped: Promise<void> | undefined;
  return {
    counts: () => children.counts(),
    processes: () => children.all,
    stop() {
      stopped ??= (async () => {
        children.stopping = true;
        loop.wake();
        await loop.done;
        await children.serial(async () => children.retireAll('pool stopping'));
        await children.drained();
        await connection.close();
        process.removeListener('exit', children.killAll);
        log.info('worker pool stopped');
      })();
      return stopped;
    },
  };
}

/**
 * One scaling decision per call: read the backlog, pass it through the
 * policy, log it (at info when something changed) and apply it. When the
 * stats cannot be read the pool holds, topped up to `min`.
 */
function decisionTick(settings: PoolSettings, client: Client, children: WorkerChildren, onDecision?: (entry: DecisionEntry) => void): () => Promise<void> {
  const { config, log, policy, scale, queues } = settings;
  let state: PoolState = initialPoolState(policy);
  let last: { reason: DecisionReason; backlog: number; target: number } | undefined;
  return async function tick() {
    let reading: PoolReadingLog;
    try {
      reading = await readBacklog(client, config, queues, scale);
    } catch (err) {
      log.warn({ err: (err as Error).message }, 'could not read task-queue stats; holding');
      if (children.active().length < policy.min) await children.apply(policy.min);
      return;
    }
    const current = children.active().length;
    const ready = children.counts().ready;
    const d = decide({ ...state, current }, reading, Date.now());
    state = d.state;
    const entry: DecisionEntry = { at: Date.now(), reading, current, ready, target: d.target, reason: d.reason };
    onDecision?.(entry);
    const changed = !last || last.reason !== d.reason || last.backlog !== reading.backlog || d.target !== current;
    const { at: _at, ...fields } = entry;
    log[changed ? 'info' : 'debug'](fields, 'pool decision');
    last = { reason: d.reason, backlog: reading.backlog, target: d.target };
    if (d.target !== current) await children.apply(d.target);
  };
}

/** Runs `tick` (serialised with every other change to the children) every `intervalMs` until the pool stops; `wake` cuts the wait short. */
function tickEvery(intervalMs: number, children: WorkerChildren, tick: () => Promise<void>, log: Logger): { done: Promise<void>; wake: () => void } {
  let wake: (() => void) | undefined;
  const done = (async () => {
    while (!children.stopping) {
      await children.serial(tick).catch((err: Error) => log.error({ err: err.message }, 'pool tick failed'));
      if (children.stopping) break;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, intervalMs);
        wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
  })();
  return { done, wake: () => wake?.() };
}
