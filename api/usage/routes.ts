/**
 * What jobs cost: `GET /v1/usage` (the tenant's daily sums, admin) and
 * `GET /v1/jobs/{id}/usage` (one job's closed runs, viewer). Figures appear
 * once a run has closed and the job-end watcher has read it (service.ts).
 */
import { createRoute } from '@hono/zod-openapi';
import type { Db } from '../../db/client.ts';
import { requireRole } from '../http/auth.ts';
import { authorize, requireUnscoped } from '../http/key-scope.ts';
import { bearer, json, newRouter } from '../http/openapi-app.ts';
import { commonProblems } from '../http/schemas.ts';
import { findJob } from '../jobs/service.ts';
import { JobIdParam } from '../jobs/schemas.ts';
import { JobUsage, UsageQuery, UsageReport } from './schemas.ts';
import { jobUsage, usageReport, usageRange } from './service.ts';

const base = { tags: ['Usage'], security: bearer };

const report = createRoute({
  ...base,
  method: 'get',
  path: '/',
  summary: 'The tenant’s usage over a range of UTC days, by job type or by day (admin)',
  description:
    'Sums of the runs that closed in the range: billable Temporal actions, history bytes, activity attempts with their wall and CPU time, storage added. ' +
    'A run counts once the job-end watcher has read it (seconds after it closes). Tenant-wide: scoped keys get 403 `scope-forbidden`.',
  request: { query: UsageQuery },
  responses: { 200: json(UsageReport, 'The items and their total'), ...commonProblems },
});

const ofJob = createRoute({
  ...base,
  method: 'get',
  path: '/{id}/usage',
  summary: 'What one job’s closed runs cost, run by run',
  request: { params: JobIdParam },
  responses: { 200: json(JobUsage, 'The job’s closed runs and their total (none yet: `runs: []`, zeros)'), ...commonProblems },
});

/** `GET /v1/usage`, mounted at `/v1/usage`. */
export function usageRoutes(deps: { db: Db }) {
  const router = newRouter();
  router.openapi(report, async (c) => {
    const caller = requireRole(c.get('caller'), 'admin');
    // Sums across every job type of the tenant: a scoped key would learn of jobs outside its scope.
    requireUnscoped(caller, 'usage reports');
    const q = c.req.valid('query');
    return c.json(await usageReport(deps.db, caller, usageRange(q), q.groupBy), 200);
  });
  return router;
}

/** `GET /v1/jobs/{id}/usage`, mounted at `/v1/jobs` beside the jobs router (no other sub-app has `/{id}/usage`). */
export function jobUsageRoutes(deps: { db: Db }) {
  const router = newRouter();
  router.openapi(ofJob, async (c) => {
    const caller = authorize(c.get('caller'), 'viewer', 'read');
    // The lookup `GET /v1/jobs/{id}` makes: another tenant's job, or one outside the key's scope, is a 404 like an unknown id.
    const job = await findJob(deps.db, caller, c.req.valid('param').id);
    return c.json(await jobUsage(deps.db, caller, job), 200);
  });
  return router;
}
