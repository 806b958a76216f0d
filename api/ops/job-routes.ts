/**
 * On-call actions on one job, under `/v1/jobs/{id}` (mounted next to the jobs
 * router): diagnose, reset, terminate, retry. Operator role; another tenant's
 * job answers 404 like an unknown id.
 */
import { createRoute } from '@hono/zod-openapi';
import { authorize } from '../http/key-scope.ts';
import { findJob } from '../jobs/service.ts';
import { justStartedJob, describeJob } from '../jobs/view.ts';
import { body, json, bearer, newRouter } from '../http/openapi-app.ts';
import { JobDiagnosis, ResetJobBody, ResetResult, StuckQuery, TerminateJobBody } from './schemas.ts';
import { diagnoseJob, resetJob, retryJob, terminateJob, type OpsServiceDeps } from './service.ts';
import { parseDurationSeconds } from '../schedules/schemas.ts';
import { commonProblems, idempotencyKeyHeader, problemResponse } from '../http/schemas.ts';
import { Job, JobIdParam } from '../jobs/schemas.ts';

const base = { tags: ['Operations'], security: bearer };

const diagnosis = createRoute({
  ...base,
  method: 'get',
  path: '/{id}/diagnosis',
  summary: 'Why a job is (or is not) stuck, with the commands that fix it',
  request: { params: JobIdParam, query: StuckQuery.pick({ minAttempts: true, olderThan: true }) },
  responses: { 200: json(JobDiagnosis, 'The diagnosis'), ...commonProblems },
});

const reset = createRoute({
  ...base,
  method: 'post',
  path: '/{id}/reset',
  summary: 'Reset the job’s run to a workflow task',
  description:
    'Terminates the current run and starts a new one from the chosen workflow task; signals and updates after that point are re-applied. ' +
    'Activities after it run again (they are idempotent). Use `last-workflow-task` after fixing code whose workflow task kept failing.',
  request: { params: JobIdParam, body: body(ResetJobBody) },
  responses: { 202: json(ResetResult, 'The new run'), 415: problemResponse('Not JSON'), ...commonProblems },
});

const terminate = createRoute({
  ...base,
  method: 'post',
  path: '/{id}/terminate',
  summary: 'Terminate the job now (no cleanup runs; prefer cancel when the job should clean up)',
  request: { params: JobIdParam, body: body(TerminateJobBody) },
  responses: { 202: json(Job, 'Terminated'), 409: problemResponse('Already finished'), 415: problemResponse('Not JSON'), ...commonProblems },
});

const retry = createRoute({
  ...base,
  method: 'post',
  path: '/{id}/retry',
  summary: 'Run a finished job again as a new job (same type and input, `retryOf` set)',
  request: {
    params: JobIdParam,
    headers: idempotencyKeyHeader('Same key returns the retry an earlier request created'),
  },
  responses: {
    201: json(Job, 'The new job'),
    200: json(Job, 'The retry an earlier request with the same Idempotency-Key created'),
    409: problemResponse('The job is still running'),
    ...commonProblems,
  },
});

export function jobOpsRoutes(deps: OpsServiceDeps) {
  const router = newRouter();
  router.openapi(diagnosis, async (c) => {
    const caller = authorize(c.get('caller'), 'operator', 'read');
    const row = await findJob(deps.db, caller, c.req.valid('param').id);
    const q = c.req.valid('query');
    return c.json(await diagnoseJob(deps, row, { minAttempts: q.minAttempts, olderThanMs: parseDurationSeconds(q.olderThan)! * 1000 }), 200);
  });
  router.openapi(reset, async (c) => {
    const caller = authorize(c.get('caller'), 'operator', 'reset');
    const row = await findJob(deps.db, caller, c.req.valid('param').id);
    return c.json(await resetJob(deps, caller, row, c.req.valid('json'), c.get('requestId')), 202);
  });
  router.openapi(terminate, async (c) => {
    const caller = authorize(c.get('caller'), 'operator', 'terminate');
    const row = await findJob(deps.db, caller, c.req.valid('param').id);
    return c.json(await terminateJob(deps, caller, row, c.req.valid('json').reason, c.get('requestId')), 202);
  });
  router.openapi(retry, async (c) => {
    const caller = authorize(c.get('caller'), 'operator', 'retry');
    const row = await findJob(deps.db, caller, c.req.valid('param').id);
    const { row: created, created: isNew, startAt } = await retryJob(deps, caller, row, c.req.valid('header')['idempotency-key'], c.get('requestId'));
    const view = isNew ? justStartedJob(deps.config, created, startAt) : await describeJob(deps.client, deps.config, created);
    c.header('location', view.links.self);
    return c.json(view, isNew ? 201 : 200);
  });
  return router;
}
