/** `/v1/ops`: on-call views and batch actions over the caller's tenant (operator role). */
import { createRoute } from '@hono/zod-openapi';
import { requireRole } from '../http/auth.ts';
import { requireUnscoped } from '../http/key-scope.ts';
import { json, bearer, newRouter } from '../http/openapi-app.ts';
import { findStuck } from './diagnosis.ts';
import { Batch, BatchIdParam, BatchStarted, ResetBatchBody, StuckList, StuckQuery } from './schemas.ts';
import { describeBatch, startResetBatch, type OpsServiceDeps } from './service.ts';
import { commonProblems, problemResponse } from '../http/schemas.ts';

const base = { tags: ['Operations'], security: bearer };

const stuck = createRoute({
  ...base,
  method: 'get',
  path: '/stuck',
  summary: 'Running jobs that look stuck, with the commands that fix them',
  description:
    'Looks at the tenant’s running jobs (`TenantId = … AND ExecutionStatus = "Running"`, at most `limit`) and describes each. ' +
    'A job is `workflow-task-failing` when its workflow task keeps failing (a bad deploy, non-determinism: attempt ≥ 2 or the history ends in WorkflowTaskFailed), ' +
    '`activity-retrying` when a pending activity is at attempt `minAttempts` or later, `overdue` when it has run longer than `olderThan`. ' +
    'Failure messages are decrypted with the payload codec. Most severe first.',
  request: { query: StuckQuery },
  responses: { 200: json(StuckList, 'The stuck jobs'), ...commonProblems },
});

const resetBatch = createRoute({
  ...base,
  method: 'post',
  path: '/reset-batch',
  summary: 'Reset many running jobs in one server-side batch',
  description:
    'Starts a Temporal batch reset over the tenant’s running jobs (optionally one `jobType`, optionally only runs a worker build `buildId` processed). ' +
    'Follow it with `GET /v1/ops/batches/{batchJobId}`.',
  request: { body: { required: true, content: { 'application/json': { schema: ResetBatchBody } } } },
  responses: { 202: json(BatchStarted, 'The batch started'), 415: problemResponse('Not JSON'), ...commonProblems },
});

const batch = createRoute({
  ...base,
  method: 'get',
  path: '/batches/{batchJobId}',
  summary: 'State and progress of a batch',
  request: { params: BatchIdParam },
  responses: { 200: json(Batch, 'The batch'), ...commonProblems },
});

export function opsRoutes(deps: OpsServiceDeps) {
  const router = newRouter();
  router.openapi(stuck, async (c) => {
    const caller = requireRole(c.get('caller'), 'operator');
    requireUnscoped(caller, 'tenant-wide ops views and batch resets');
    return c.json(await findStuck(deps, caller.tenantId, c.req.valid('query')), 200);
  });
  router.openapi(resetBatch, async (c) => {
    const caller = requireRole(c.get('caller'), 'operator');
    requireUnscoped(caller, 'tenant-wide ops views and batch resets');
    const started = await startResetBatch(deps, caller, c.req.valid('json'), c.get('requestId'));
    c.header('location', started.links.self);
    return c.json(started, 202);
  });
  router.openapi(batch, async (c) => {
    const caller = requireRole(c.get('caller'), 'operator');
    requireUnscoped(caller, 'tenant-wide ops views and batch resets');
    return c.json(await describeBatch(deps, caller, c.req.valid('param').batchJobId), 200);
  });
  return router;
}
