/** `/v1/jobs`: create, list, read, wait for the result, message, cancel. */
import { createRoute, z } from '@hono/zod-openapi';
import { authorize } from '../http/key-scope.ts';
import { listJobs } from './list.ts';
import { queryJob, signalJob, updateJob } from './messages.ts';
import { cancelJob, createJob, findJob, type JobServiceDeps } from './service.ts';
import { debounceJob } from './debounce.ts';
import { waitForJob } from './wait.ts';
import { describeJob, justStartedJob } from './view.ts';
import { json, bearer, newRouter } from '../http/openapi-app.ts';
import { commonProblems, idempotencyKeyHeader, problemResponse } from '../http/schemas.ts';
import { CreateJobBody, DebouncedJob, Job, JobIdParam, JobList, ListJobsQuery, MessageParam, WaitQuery } from './schemas.ts';
import { phasesOf } from '../http/server-timing.ts';


const create = createRoute({
  method: 'post',
  path: '/',
  tags: ['Jobs'],
  summary: 'Create a job',
  security: bearer,
  request: { headers: idempotencyKeyHeader('Same key + same body returns the original job'), body: { required: true, content: { 'application/json': { schema: CreateJobBody } } } },
  responses: {
    201: json(Job, 'Created'),
    200: json(Job, 'The job an earlier request with the same Idempotency-Key created'),
    202: json(DebouncedJob, 'With `debounce`: the create joined (or opened) a burst; its job starts once the burst goes quiet'),
    409: problemResponse('Idempotency-Key reused with a different body'),
    413: problemResponse('Body over the limit'),
    415: problemResponse('Not JSON'),
    ...commonProblems,
  },
});

const list = createRoute({
  method: 'get',
  path: '/',
  tags: ['Jobs'],
  summary: 'List jobs, newest first',
  security: bearer,
  request: { query: ListJobsQuery },
  responses: { 200: json(JobList, 'A page of jobs'), ...commonProblems },
});

const children = createRoute({
  method: 'get',
  path: '/{id}/children',
  tags: ['Jobs'],
  summary: 'The jobs this job’s workflow started (a batch’s items, an approval’s notifications), newest first',
  security: bearer,
  request: { params: JobIdParam, query: ListJobsQuery.pick({ status: true, limit: true, cursor: true }) },
  responses: { 200: json(JobList, 'A page of children'), ...commonProblems },
});

const get = createRoute({
  method: 'get',
  path: '/{id}',
  tags: ['Jobs'],
  summary: 'Get a job',
  security: bearer,
  request: { params: JobIdParam },
  responses: { 200: json(Job, 'The job'), ...commonProblems },
});

const result = createRoute({
  method: 'get',
  path: '/{id}/result',
  tags: ['Jobs'],
  summary: 'Wait for a job to finish (long poll)',
  security: bearer,
  request: { params: JobIdParam, query: WaitQuery },
  responses: { 200: json(Job, 'Finished: result or error'), 202: json(Job, 'Still queued or running after the wait'), ...commonProblems },
});

const cancel = createRoute({
  method: 'post',
  path: '/{id}/cancel',
  tags: ['Jobs'],
  summary: 'Request cancellation',
  security: bearer,
  request: { params: JobIdParam },
  responses: { 202: json(Job, 'Cancellation requested'), 409: problemResponse('Already finished'), ...commonProblems },
});

const messageBody = { required: true, content: { 'application/json': { schema: z.unknown().openapi({ description: 'Validated by the job type’s message schema' }) } } };

const signal = createRoute({
  method: 'post',
  path: '/{id}/signals/{name}',
  tags: ['Job messages'],
  summary: 'Send a signal the job type defines',
  security: bearer,
  request: { params: MessageParam, body: messageBody },
  responses: { 202: json(z.object({ accepted: z.literal(true) }), 'Delivered to the job'), 409: problemResponse('Already finished'), ...commonProblems },
});

const update = createRoute({
  method: 'post',
  path: '/{id}/updates/{name}',
  tags: ['Job messages'],
  summary: 'Run an update the job type defines and return its result',
  security: bearer,
  request: { params: MessageParam, body: messageBody },
  responses: {
    200: json(z.object({ result: z.unknown() }), 'The update’s result'),
    409: problemResponse('Already finished'),
    503: problemResponse('`workers-unavailable`: no worker ran it within `JOBPLANE_MESSAGE_TIMEOUT_MS` (it may still apply); `update-not-applied`: refused on every attempt, not applied'),
    ...commonProblems,
  },
});

const query = createRoute({
  method: 'get',
  path: '/{id}/queries/{name}',
  tags: ['Job messages'],
  summary: 'Run a query the job type defines',
  security: bearer,
  request: { params: MessageParam },
  responses: {
    200: json(z.object({ result: z.unknown() }), 'The query’s answer'),
    503: problemResponse('`workers-unavailable`: no worker answered within `JOBPLANE_MESSAGE_TIMEOUT_MS`'),
    ...commonProblems,
  },
});

export function jobRoutes(deps: JobServiceDeps & { onJobCreated?: (type: string, tenantId: string) => void }) {
  const router = newRouter();
  router.openapi(create, async (c) => {
    const caller = authorize(c.get('caller'), 'submitter', 'create');
    const body = c.req.valid('json');
    if (body.debounce) {
      const pending = await debounceJob(deps, caller, { ...body, debounce: body.debounce }, c.req.valid('header')['idempotency-key'], c.get('requestId'), phasesOf(c));
      return c.json(pending, 202);
    }
    const { row, created, startAt } = await createJob(deps, caller, body, c.req.valid('header')['idempotency-key'], c.get('requestId'), { time: phasesOf(c) });
    if (created) deps.onJobCreated?.(row.type, row.tenantId);
    const view = created ? justStartedJob(deps.config, row, startAt) : await describeJob(deps.client, deps.config, row);
    c.header('location', view.links.self);
    return c.json(view, created ? 201 : 200);
  });
  router.openapi(list, async (c) => {
    const caller = authorize(c.get('caller'), 'viewer', 'read');
    return c.json(await listJobs(deps, caller, c.req.valid('query')), 200);
  });
  router.openapi(children, async (c) => {
    const caller = authorize(c.get('caller'), 'viewer', 'read');
    const parent = await findJob(deps.db, caller, c.req.valid('param').id);
    return c.json(await listJobs(deps, caller, { ...c.req.valid('query'), parentJobId: parent.id }), 200);
  });
  router.openapi(get, async (c) => {
    const caller = authorize(c.get('caller'), 'viewer', 'read');
    const row = await findJob(deps.db, caller, c.req.valid('param').id);
    return c.json(await describeJob(deps.client, deps.config, row), 200);
  });
  router.openapi(result, async (c) => {
    const caller = authorize(c.get('caller'), 'viewer', 'read');
    const row = await findJob(deps.db, caller, c.req.valid('param').id);
    const view = await waitForJob(deps, row, c.req.valid('query').waitSeconds, c.req.raw.signal);
    return c.json(view, view.finishedAt ? 200 : 202);
  });
  router.openapi(cancel, async (c) => {
    const caller = authorize(c.get('caller'), 'submitter', 'cancel');
    const row = await findJob(deps.db, caller, c.req.valid('param').id);
    await cancelJob(deps, caller, row, c.get('requestId'));
    return c.json(await describeJob(deps.client, deps.config, row), 202);
  });
  router.openapi(signal, async (c) => {
    const caller = authorize(c.get('caller'), 'submitter', 'signal');
    const { id, name } = c.req.valid('param');
    await signalJob(deps, caller, await findJob(deps.db, caller, id), name, c.req.valid('json'), c.get('requestId'));
    return c.json({ accepted: true as const }, 202);
  });
  router.openapi(update, async (c) => {
    const caller = authorize(c.get('caller'), 'submitter', 'update');
    const { id, name } = c.req.valid('param');
    const out = await updateJob(deps, caller, await findJob(deps.db, caller, id), name, c.req.valid('json'), c.get('requestId'));
    return c.json({ result: out }, 200);
  });
  router.openapi(query, async (c) => {
    const caller = authorize(c.get('caller'), 'viewer', 'read');
    const { id, name } = c.req.valid('param');
    return c.json({ result: await queryJob(deps, await findJob(deps.db, caller, id), name) }, 200);
  });
  return router;
}

