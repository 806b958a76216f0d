import { Hono } from 'hono';
import { sql } from 'drizzle-orm';
import type { TemporalHealthProbe } from '../../runtime/temporal-health.ts';
import type { JobServiceDeps } from '../jobs/service.ts';

const checkTimeoutMs = 2000;

function withTimeout<T>(p: Promise<T>, what: string): Promise<T> {
  return Promise.race([
    p,
    new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`${what} did not answer within ${checkTimeoutMs} ms`)), checkTimeoutMs).unref()),
  ]);
}

async function check(fn: () => Promise<unknown>, what: string): Promise<{ ok: boolean; error?: string }> {
  try {
    await withTimeout(fn(), what);
    return { ok: true };
  } catch (err) {
    return { ok: false, error: (err as Error).message };
  }
}

/**
 * `/healthz`: the process is up. `/readyz`: what this process can reach.
 *
 * - 503 `unavailable` when Postgres or the Temporal frontend does not answer:
 *   this pod can serve almost nothing, and a load balancer should prefer
 *   another (its own network or credentials may be at fault).
 * - 200 `degraded` when the frontend answers but history or matching does
 *   not (named in `checks.temporal`): every API pod sees the same cluster, so
 *   taking them all out of a Kubernetes Service would turn clear 503s with
 *   Retry-After (creates fail fast, see job-service.ts) into connection
 *   errors, and stop the reads Postgres still serves (job rows, documents,
 *   audit). Alert on the body or on `jobplane_temporal_part_up`, not on the
 *   status code.
 */
export function healthRoutes(deps: JobServiceDeps & { temporalHealth: TemporalHealthProbe }) {
  return new Hono()
    .get('/healthz', (c) => c.json({ status: 'ok' }))
    .get('/readyz', async (c) => {
      const [postgres, temporal] = await Promise.all([check(() => deps.db.execute(sql`select 1`), 'Postgres'), deps.temporalHealth.check()]);
      const { frontend, history, matching } = temporal;
      const unavailable = !postgres.ok || !frontend.ok;
      const degraded = !history.ok || !matching.ok;
      const status = unavailable ? 'unavailable' : degraded ? 'degraded' : 'ready';
      const temporalCheck = { ok: frontend.ok && !degraded, frontend, history, matching };
      return c.json({ status, checks: { postgres, temporal: temporalCheck } }, unavailable ? 503 : 200);
    });
}
