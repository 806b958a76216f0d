/**
 * One tenant's burst of requests cannot take an API process from the others:
 * each tenant may have at most JOBPLANE_TENANT_MAX_IN_FLIGHT requests in
 * progress in this process; more wait, in order, for one of them to finish
 * (a burst within the tenant's quota is served in turn, not refused); one
 * that has waited JOBPLANE_TENANT_QUEUE_MS, or that would be the
 * {@link maxQueued}+1st waiting, answers 429 `rate-limited` with Retry-After. Waiting requests hold no database connection and no
 * Temporal call, so the pool and the event loop serve every tenant's share.
 *
 * Left out: long polls (`/result?waitSeconds=`, up to a minute each) and the
 * streamed uploads (their bodies arrive at the client's pace); both have
 * limits of their own.
 */
import { createMiddleware } from 'hono/factory';
import type { Config } from '../../runtime/config.ts';
import type { AuthEnv } from '../http/auth.ts';
import { ProblemError } from '../http/problems.ts';

/** Requests of one tenant that may wait in one process; past it they are refused at once (memory, not order). */
const maxQueued = 1000;

interface Gate {
  inFlight: number;
  waiting: (() => void)[];
}

export function tenantGate(config: Pick<Config, 'tenantMaxInFlight' | 'tenantQueueMs'>, skip: (path: string, method: string, query: string | undefined) => boolean) {
  const gates = new Map<string, Gate>();
  const release = (tenantId: string, gate: Gate) => {
    const next = gate.waiting.shift();
    if (next) return next(); // the slot passes straight on
    gate.inFlight--;
    if (gate.inFlight === 0) gates.delete(tenantId);
  };
  return createMiddleware<AuthEnv>(async (c, next) => {
    const caller = c.get('caller');
    if (caller.kind !== 'tenant' || skip(c.req.path, c.req.method, c.req.query('waitSeconds'))) return await next();
    let gate = gates.get(caller.tenantId);
    if (!gate) {
      gate = { inFlight: 0, waiting: [] };
      gates.set(caller.tenantId, gate);
    }
    if (gate.inFlight < config.tenantMaxInFlight) {
      gate.inFlight++;
    } else if (gate.waiting.length >= maxQueued) {
      throw new ProblemError('rate-limited', `the tenant has ${maxQueued} requests waiting on this API process already; retry shortly`, { retryAfterSeconds: 1 });
    } else {
      const admitted = await new Promise<boolean>((resolve) => {
        const wake = () => {
          clearTimeout(timer);
          resolve(true);
        };
        const timer = setTimeout(() => {
          gate.waiting.splice(gate.waiting.indexOf(wake), 1);
          resolve(false);
        }, config.tenantQueueMs);
        gate.waiting.push(wake);
      });
      if (!admitted) {
        throw new ProblemError('rate-limited', `the tenant has ${config.tenantMaxInFlight} requests in progress on this API process already; retry shortly`, { retryAfterSeconds: 1 });
      }
    }
    try {
      await next();
    } finally {
      release(caller.tenantId, gate);
    }
  });
}
