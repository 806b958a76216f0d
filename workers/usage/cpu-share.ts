/**
 * Each activity attempt's share of the worker's CPU. Node has no per-task
 * CPU clock, and process CPU also counts the workflow threads, the SDK's
 * Rust core and GC. What activities do run on is the main thread, and its
 * busy time is measured exactly by the event loop's utilization (time spent
 * running callbacks, not waiting for I/O). So: at every attempt's start and
 * end, the main-thread busy time since the previous start or end is split
 * equally among the attempts in flight during it. With one attempt at a time
 * that is the attempt's CPU (plus the SDK's own work on the thread meanwhile);
 * with several, an attempt that computes while another only waits shares its
 * time with it: the per-attempt figure is approximate, their sum is exact
 * (docs/USAGE.md states the error).
 */
import { performance, type EventLoopUtilization } from 'node:perf_hooks';

/** One attempt being measured. */
export interface Share {
  readonly startedAt: number;
  /** Microseconds of main-thread busy time attributed so far. */
  cpuUs: number;
}

export interface AttemptCost {
  wallMs: number;
  cpuUs: number;
}

export class CpuShares {
  private readonly inFlight = new Set<Share>();
  private last: EventLoopUtilization = performance.eventLoopUtilization();

  /** Splits the busy time since the last mark among the attempts in flight. */
  private settle(): void {
    const now = performance.eventLoopUtilization();
    const busyMs = performance.eventLoopUtilization(now, this.last).active;
    this.last = now;
    if (this.inFlight.size === 0) return;
    const each = (busyMs * 1000) / this.inFlight.size;
    for (const share of this.inFlight) share.cpuUs += each;
  }

  begin(): Share {
    this.settle();
    const share: Share = { startedAt: performance.now(), cpuUs: 0 };
    this.inFlight.add(share);
    return share;
  }

  end(share: Share): AttemptCost {
    this.settle();
    this.inFlight.delete(share);
    return { wallMs: Math.round(performance.now() - share.startedAt), cpuUs: Math.round(share.cpuUs) };
  }

  /** Attempts being measured now. */
  get size(): number {
    return this.inFlight.size;
  }
}
