import { Hono } from 'hono';
import { sql } from 'drizzle-orm';
import type { JobServiceDeps } from '../job-service.ts';

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

/** `/healthz`: the process is up. `/readyz`: Postgres and Temporal answer (503 otherwise). */
export function healthRoutes(deps: JobServiceDeps) {
  return new Hono()
    .get('/healthz', (c) => c.json({ status: 'ok' }))
    .get('/readyz', async (c) => {
      const [postgres, temporal] = await Promise.all([
        check(() => deps.db.execute(sql`select 1`), 'Postgres'),
        check(
          () => deps.client.workflowService.describeNamespace({ namespace: deps.config.temporalNamespace }),
          'Temporal',
        ),
      ]);
      const ready = postgres.ok && temporal.ok;
      return c.json({ status: ready ? 'ready' : 'unavailable', checks: { postgres, temporal } }, ready ? 200 : 503);
    });
}
