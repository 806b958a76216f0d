/**
 * Temporal visibility (list and count) on a budget. A real cluster allows
 * `frontend.namespaceRPS.visibility` = 10 calls per second per frontend for
 * the whole namespace, and the SDK retries refusals silently, so one list per
 * request would cap a route at about 10 requests/s and then stall it. Every
 * visibility call the API makes therefore goes through a gate that:
 *
 * - spends a token of an in-process bucket first (JOBPLANE_VISIBILITY_RATE_PER_SECOND);
 *   with none left the request answers 503 `temporal-throttled` with
 *   Retry-After at once, without asking Temporal;
 * - runs under a deadline (JOBPLANE_VISIBILITY_TIMEOUT_MS);
 * - turns a refusal by the server (RESOURCE_EXHAUSTED) into the same 503
 *   instead of a retry loop (the API's visibility connection does not retry
 *   throttled calls: see `connectVisibilityClient`).
 *
 * Creates never call visibility (see running-jobs.ts); list routes make at
 * most a stated number of calls per request (docs/API.md, "Limits and fairness").
 */
import { Client } from '@temporalio/client';
import type { Config } from '../../runtime/config.ts';
import { grpcCodeOf, grpcStatus } from '../../runtime/grpc-status.ts';
import { clientDataConverter, codecFrom, connectWithoutThrottleRetries } from '../../runtime/temporal.ts';
import { ProblemError } from '../http/problems.ts';

/**
 * Visibility calls this process made, by what they were for (`job statuses`,
 * `count of running jobs`, …), and how many it refused or Temporal throttled:
 * exported as `jobplane_temporal_visibility_calls` by api/http/metrics.ts.
 */
export const visibilityCallTally = new Map<string, number>();

export function tallyVisibilityCall(what: string, outcome: 'sent' | 'budget-spent' | 'throttled'): void {
  const key = `${what}\0${outcome}`;
  visibilityCallTally.set(key, (visibilityCallTally.get(key) ?? 0) + 1);
}

/** A token bucket in process memory: `take()` answers at once. */
export class LocalTokenBucket {
  private tokens: number;
  private updatedAt = Date.now();

  constructor(
    private readonly ratePerSecond: number,
    private readonly burst: number = Math.max(1, Math.ceil(ratePerSecond)),
  ) {
    this.tokens = this.burst;
  }

  take(): boolean {
    const now = Date.now();
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.updatedAt) / 1000) * this.ratePerSecond);
    this.updatedAt = now;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}

/** Runs visibility calls within the budget; see the module comment. */
export interface VisibilityGate {
  /** `what` names the call in the 503's detail. */
  call<T>(what: string, fn: (client: Client) => Promise<T>): Promise<T>;
}

export function createVisibilityGate(client: Client, config: Pick<Config, 'visibilityRatePerSecond' | 'visibilityTimeoutMs'>): VisibilityGate {
  const bucket = new LocalTokenBucket(config.visibilityRatePerSecond);
  return {
    async call(what, fn) {
      if (!bucket.take()) {
        tallyVisibilityCall(what, 'budget-spent');
        throw new ProblemError('temporal-throttled', `${what}: this API process is at its budget of ${config.visibilityRatePerSecond} Temporal list/count calls per second`, {
          retryAfterSeconds: 1,
        });
      }
      tallyVisibilityCall(what, 'sent');
      try {
        return await client.withDeadline(Date.now() + config.visibilityTimeoutMs, () => fn(client));
      } catch (err) {
        const problem = visibilityProblem(what, err, config.visibilityTimeoutMs);
        if (problem) tallyVisibilityCall(what, 'throttled');
        throw problem ?? err;
      }
    },
  };
}

/** The problem a failed visibility call answers with, or undefined for errors that are not Temporal's load. */
function visibilityProblem(what: string, err: unknown, timeoutMs: number): ProblemError | undefined {
  const code = grpcCodeOf(err);
  if (code === grpcStatus.RESOURCE_EXHAUSTED) {
    return new ProblemError('temporal-throttled', `${what}: Temporal refused the call (namespace visibility rate limit)`, { retryAfterSeconds: 1 });
  }
  if (code === grpcStatus.DEADLINE_EXCEEDED || code === grpcStatus.CANCELLED) {
    return new ProblemError('temporal-throttled', `${what}: Temporal did not answer within ${timeoutMs} ms`, { retryAfterSeconds: 2 });
  }
  return undefined;
}

const gates = new WeakMap<Client, VisibilityGate>();

/** The process's gate for the deps' visibility client (made on first use, one per client). */
export function visibilityOf(deps: { client: Client; visibilityClient?: Client; config: Pick<Config, 'visibilityRatePerSecond' | 'visibilityTimeoutMs'> }): VisibilityGate {
  const client = deps.visibilityClient ?? deps.client;
  let gate = gates.get(client);
  if (!gate) {
    gate = createVisibilityGate(client, deps.config);
    gates.set(client, gate);
  }
  return gate;
}

/**
 * A client for visibility calls only: its connection retries an unavailable
 * frontend briefly but never a throttled call (RESOURCE_EXHAUSTED), which the
 * default connection retries with back-off until the deadline.
 */
export async function connectVisibilityClient(config: Config): Promise<Client> {
  const connection = await connectWithoutThrottleRetries(config);
  return new Client({ connection, namespace: config.temporalNamespace, dataConverter: clientDataConverter(codecFrom(config)) });
}
