/**
 * Which part of Temporal answers. One cheap call per part, each routed by the
 * frontend to that part, with a short deadline:
 *
 * - frontend: `GetSystemInfo` (answered by the frontend alone);
 * - history: `DescribeWorkflowExecution` of an id that never exists (the
 *   frontend asks the history shard that owns it; NotFound means it answered);
 * - matching: `DescribeTaskQueue` of a queue nobody polls (answered by the
 *   matching partition that owns it).
 *
 * None of them reads visibility, so probing never spends the namespace's
 * visibility rate limit. Results are cached briefly and shared by concurrent
 * callers, so a flood of readiness probes or creates costs one probe per part
 * per interval.
 */
import proto from '@temporalio/proto';
import type { temporal } from '@temporalio/proto';
import { grpcCodeOf, grpcStatus } from './grpc-status.ts';

export const temporalParts = ['frontend', 'history', 'matching'] as const;
export type TemporalPart = (typeof temporalParts)[number];

export interface PartHealth {
  ok: boolean;
  /** Why it is not ok (the gRPC error, or "no answer within N ms"). */
  error?: string;
}

export type TemporalHealth = Record<TemporalPart, PartHealth> & { checkedAt: number };

/** What the probe needs of a `Connection` (API) or `NativeConnection` (workers). */
export interface ProbeConnection {
  workflowService: {
    getSystemInfo(req: object): Promise<unknown>;
    describeWorkflowExecution(req: temporal.api.workflowservice.v1.IDescribeWorkflowExecutionRequest): Promise<unknown>;
    describeTaskQueue(req: temporal.api.workflowservice.v1.IDescribeTaskQueueRequest): Promise<unknown>;
  };
  withDeadline<T>(deadline: number | Date, fn: () => Promise<T>): Promise<T>;
}

export interface TemporalHealthOptions {
  namespace: string;
  /** Deadline of each probe call. @default 1500 */
  timeoutMs?: number;
  /** How long a result is reused. @default 2000 */
  cacheMs?: number;
}

const probeId = 'jobplane-health-probe-never-started';

/** A health probe with a cache; `check()` never takes longer than the deadline of one call. */
export class TemporalHealthProbe {
  private cached: TemporalHealth | undefined;
  private inFlight: Promise<TemporalHealth> | undefined;
  private readonly timeoutMs: number;
  private readonly cacheMs: number;

  constructor(
    private readonly connection: ProbeConnection,
    private readonly opts: TemporalHealthOptions,
  ) {
    this.timeoutMs = opts.timeoutMs ?? 1500;
    this.cacheMs = opts.cacheMs ?? 2000;
  }

  /** The latest result if fresh, else a new probe (shared by every caller waiting for it). */
  async check(): Promise<TemporalHealth> {
    if (this.cached && Date.now() - this.cached.checkedAt < this.cacheMs) return this.cached;
    this.inFlight ??= this.probe().finally(() => (this.inFlight = undefined));
    return await this.inFlight;
  }

  /** The parts that did not answer at the last check ([] = all of them answered). */
  async unreachable(): Promise<TemporalPart[]> {
    const health = await this.check();
    return temporalParts.filter((part) => !health[part].ok);
  }

  /**
   * The parts known not to answer, without waiting: the last result (a new
   * probe starts in the background when it is stale), or [] before the first
   * probe. For hot paths: a create must not wait on a probe.
   */
  knownUnreachable(): TemporalPart[] {
    const cached = this.cached;
    if (!cached || Date.now() - cached.checkedAt >= this.cacheMs) void this.check();
    return cached ? temporalParts.filter((part) => !cached[part].ok) : [];
  }

  private async probe(): Promise<TemporalHealth> {
    const ws = this.connection.workflowService;
    const namespace = this.opts.namespace;
    const [frontend, history, matching] = await Promise.all([
      this.call(() => ws.getSystemInfo({})),
      // NotFound is the answer of a live history shard.
      this.call(() => ws.describeWorkflowExecution({ namespace, execution: { workflowId: probeId } }), [grpcStatus.NOT_FOUND]),
      this.call(() =>
        ws.describeTaskQueue({
          namespace,
          taskQueue: { name: probeId, kind: proto.temporal.api.enums.v1.TaskQueueKind.TASK_QUEUE_KIND_NORMAL },
          taskQueueType: proto.temporal.api.enums.v1.TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
        }),
      ),
    ]);
    // Without a frontend nothing else can be asked: say so instead of blaming every part.
    const behindFrontend = (part: PartHealth): PartHealth => (frontend.ok ? part : { ok: false, error: 'unknown: the frontend does not answer' });
    this.cached = { frontend, history: behindFrontend(history), matching: behindFrontend(matching), checkedAt: Date.now() };
    return this.cached;
  }

  private async call(fn: () => Promise<unknown>, okCodes: number[] = []): Promise<PartHealth> {
    try {
      await this.connection.withDeadline(Date.now() + this.timeoutMs, fn);
      return { ok: true };
    } catch (err) {
      const code = grpcCodeOf(err);
      if (code !== undefined && okCodes.includes(code)) return { ok: true };
      if (code === grpcStatus.DEADLINE_EXCEEDED) return { ok: false, error: `no answer within ${this.timeoutMs} ms` };
      return { ok: false, error: (err as Error).message };
    }
  }
}
