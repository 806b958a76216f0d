/**
 * How many jobs a tenant runs, for the running-jobs cap, without a
 * visibility call per create.
 *
 * Temporal owns execution state (DESIGN.md), so the count comes from its
 * visibility store — but a real cluster answers at most 10 list/count calls
 * per second per frontend for the whole namespace, so it cannot be asked on
 * every create. Each API process keeps the last count it took per tenant,
 * and uses that every create of the tenant, in any API process, first spends
 * a token of the tenant's shared rate-limit bucket: since the count was
 * taken at most `burst + rate × age` jobs can have been created. So
 *
 *     running now ≤ count + burst + rate × age        (the bound)
 *
 * - bound below the cap: admitted without asking Temporal (this is the
 *   common case: with the defaults, cap 1000, burst 100, 50/s, a tenant
 *   running fewer than ~650 jobs never causes a count on its hot path); the
 *   count is refreshed in the background once it is older than `staleMs`, or
 *   than half the time the bound needs to reach the cap, whichever is sooner;
 * - bound at or above the cap: a count is taken now and decides, exactly as
 *   the cap did before this estimator existed;
 * - no count can be had (this process's count budget of
 *   JOBPLANE_RUNNING_COUNT_RATE_PER_SECOND is spent, or Temporal does not
 *   answer): the last count plus this process's own starts since decides;
 *   with no count at all the create is admitted. The cap is a fairness
 *   limit; the rate limit is the exact guard.
 *
 * How exact: as exact as the visibility count whenever a create could reach
 * the cap (eventually consistent, typically well under a second behind on
 * SQL visibility, so creates admitted at the same moment by several
 * processes may overshoot by a few jobs); past the count budget it errs by
 * the other processes' creates since the last count.
 */
import type { Client } from '@temporalio/client';
import type { Config } from '../../runtime/config.ts';
import { LocalTokenBucket } from './visibility.ts';

/** The tenant's quotas the bound is computed from. */
export interface CapLimits {
  maxRunningJobs: number;
  /** The tenant's create rate (token refill per second, shared by every API process). */
  ratePerSecond: number;
  /** The tenant's create burst (bucket size). */
  burst: number;
}

export interface RunningJobsEstimatorOptions {
  /** Count the tenant's running workflows (a visibility call). */
  count(tenantId: string): Promise<number>;
  /** Counts per second this process may take for the cap. */
  countRatePerSecond: number;
  /** A count older than this is refreshed in the background. @default 5000 */
  staleMs?: number;
  /** Told when a count fails (it never fails a create). */
  onCountError?: (err: unknown) => void;
}

interface TenantSample {
  count: number;
  /** When the count call was sent; -Infinity = no count yet. */
  takenAt: number;
  /** This process's starts for the tenant since the count, in time order. */
  starts: number[];
  refreshing?: Promise<void>;
}

export class RunningJobsEstimator {
  private readonly samples = new Map<string, TenantSample>();
  private readonly budget: LocalTokenBucket;
  private readonly staleMs: number;

  constructor(private readonly opts: RunningJobsEstimatorOptions) {
    // Bursts of a few counts (several tenants near their caps at once) are fine for the server's limiter too.
    this.budget = new LocalTokenBucket(opts.countRatePerSecond, Math.max(5, 5 * opts.countRatePerSecond));
    this.staleMs = opts.staleMs ?? 5000;
  }

  /** The tenant's running jobs as far as this process needs to know to apply `limits.maxRunningJobs`. */
  async running(tenantId: string, limits: CapLimits): Promise<number> {
    const sample = this.sampleOf(tenantId);
    if (Number.isFinite(sample.takenAt)) {
      const ageSeconds = (Date.now() - sample.takenAt) / 1000;
      const bound = sample.count + limits.burst + limits.ratePerSecond * ageSeconds;
      if (bound < limits.maxRunningJobs) {
        // Refresh in the background well before the bound could reach the cap, so the hot path never waits for a count.
        const headroomSeconds = (limits.maxRunningJobs - sample.count - limits.burst) / limits.ratePerSecond;
        if (ageSeconds * 1000 > Math.min(this.staleMs, (headroomSeconds * 1000) / 2)) void this.refresh(sample, tenantId);
        return this.estimate(sample);
      }
    }
    await this.refresh(sample, tenantId);
    return this.estimate(sample);
  }

  /** Call after a job of the tenant was started by this process. */
  noteStarted(tenantId: string): void {
    this.sampleOf(tenantId).starts.push(Date.now());
  }

  private sampleOf(tenantId: string): TenantSample {
    let sample = this.samples.get(tenantId);
    if (!sample) {
      sample = { count: 0, takenAt: Number.NEGATIVE_INFINITY, starts: [] };
      this.samples.set(tenantId, sample);
    }
    return sample;
  }

  /** The last count plus this process's starts since it was asked for. */
  private estimate(sample: TenantSample): number {
    while (sample.starts.length > 0 && sample.starts[0]! < sample.takenAt) sample.starts.shift();
    return sample.count + sample.starts.length;
  }

  /** Takes a count if the budget allows, one at a time per tenant (a caller arriving meanwhile shares it). */
  private async refresh(sample: TenantSample, tenantId: string): Promise<void> {
    if (sample.refreshing) return await sample.refreshing;
    if (!this.budget.take()) return;
    const takenAt = Date.now();
    sample.refreshing = this.opts
      .count(tenantId)
      .then((count) => {
        sample.count = count;
        sample.takenAt = takenAt;
      })
      .catch((err: unknown) => this.opts.onCountError?.(err))
      .finally(() => (sample.refreshing = undefined));
    await sample.refreshing;
  }
}

const estimators = new WeakMap<Client, RunningJobsEstimator>();

/** The estimator of a client (one per API process), counting through `count`. */
export function runningJobsEstimatorFor(
  client: Client,
  config: Pick<Config, 'runningCountRatePerSecond'>,
  count: (tenantId: string) => Promise<number>,
  onCountError?: (err: unknown) => void,
): RunningJobsEstimator {
  let estimator = estimators.get(client);
  if (!estimator) {
    estimator = new RunningJobsEstimator({ count, countRatePerSecond: config.runningCountRatePerSecond, ...(onCountError ? { onCountError } : {}) });
    estimators.set(client, estimator);
  }
  return estimator;
}
