/** `/v1/schedules`: run a job type on a timetable (Temporal Schedules), per tenant. */
import { createRoute } from '@hono/zod-openapi';
import { authorize } from '../http/key-scope.ts';
import type { JobServiceDeps } from '../jobs/service.ts';
import { json, bearer, newRouter } from '../http/openapi-app.ts';
import { CreateScheduleBody, ListSchedulesQuery, Schedule, ScheduleIdParam, ScheduleList, ScheduleNoteBody } from './schemas.ts';
import { commandSchedule, createSchedule, deleteSchedule, getSchedule, listSchedules } from './service.ts';
import { commonProblems, idempotencyKeyHeader, problemResponse } from '../http/schemas.ts';

const base = { tags: ['Schedules'], security: bearer };

const create = createRoute({
  ...base,
  method: 'post',
  path: '/',
  summary: 'Create a schedule',
  description: 'Give exactly one of `cron` or `interval`. The input is validated against the job type now, so every run can start.',
  request: {
    headers: idempotencyKeyHeader('Same key + same body returns the original schedule'),
    body: { required: true, content: { 'application/json': { schema: CreateScheduleBody } } },
  },
  responses: {
    201: json(Schedule, 'Created'),
    200: json(Schedule, 'The schedule an earlier request with the same Idempotency-Key created'),
    409: problemResponse('Idempotency-Key reused with a different body'),
    413: problemResponse('Body over the limit'),
    415: problemResponse('Not JSON'),
    ...commonProblems,
  },
});

const list = createRoute({
  ...base,
  method: 'get',
  path: '/',
  summary: 'List the tenant’s schedules, newest first',
  request: { query: ListSchedulesQuery },
  responses: { 200: json(ScheduleList, 'The schedules'), ...commonProblems },
});

const get = createRoute({
  ...base,
  method: 'get',
  path: '/{id}',
  summary: 'Get a schedule with its next and recent runs',
  request: { params: ScheduleIdParam },
  responses: { 200: json(Schedule, 'The schedule'), ...commonProblems },
});

const noteBody = { required: false, content: { 'application/json': { schema: ScheduleNoteBody } } };
const changed = json(Schedule, 'The schedule after the change');

const pause = createRoute({
  ...base,
  method: 'post',
  path: '/{id}/pause',
  summary: 'Pause: no runs until unpaused',
  request: { params: ScheduleIdParam, body: noteBody },
  responses: { 200: changed, ...commonProblems },
});

const unpause = createRoute({
  ...base,
  method: 'post',
  path: '/{id}/unpause',
  summary: 'Unpause',
  request: { params: ScheduleIdParam, body: noteBody },
  responses: { 200: changed, ...commonProblems },
});

const trigger = createRoute({
  ...base,
  method: 'post',
  path: '/{id}/trigger',
  summary: 'Run once now (the schedule’s overlap policy applies)',
  request: { params: ScheduleIdParam },
  responses: { 202: changed, ...commonProblems },
});

const remove = createRoute({
  ...base,
  method: 'delete',
  path: '/{id}',
  summary: 'Delete a schedule (runs already started go on)',
  request: { params: ScheduleIdParam },
  responses: { 204: { description: 'Deleted' }, ...commonProblems },
});

export function scheduleRoutes(deps: JobServiceDeps) {
  const router = newRouter();
  router.openapi(create, async (c) => {
    const caller = authorize(c.get('caller'), 'submitter', 'schedule');
    const key = c.req.valid('header')['idempotency-key'];
    const { view, created } = await createSchedule(deps, caller, c.req.valid('json'), key, c.get('requestId'));
    c.header('location', view.links.self);
    return c.json(view, created ? 201 : 200);
  });
  router.openapi(list, async (c) => {
    const caller = authorize(c.get('caller'), 'viewer', 'read');
    return c.json({ items: await listSchedules(deps, caller, c.req.valid('query')) }, 200);
  });
  router.openapi(get, async (c) => {
    const caller = authorize(c.get('caller'), 'viewer', 'read');
    return c.json(await getSchedule(deps, caller, c.req.valid('param').id), 200);
  });
  router.openapi(pause, async (c) => {
    const caller = authorize(c.get('caller'), 'submitter', 'schedule');
    return c.json(await commandSchedule(deps, caller, c.req.valid('param').id, 'pause', c.req.valid('json').note, c.get('requestId')), 200);
  });
  router.openapi(unpause, async (c) => {
    const caller = authorize(c.get('caller'), 'submitter', 'schedule');
    return c.json(await commandSchedule(deps, caller, c.req.valid('param').id, 'unpause', c.req.valid('json').note, c.get('requestId')), 200);
  });
  router.openapi(trigger, async (c) => {
    const caller = authorize(c.get('caller'), 'submitter', 'schedule');
    return c.json(await commandSchedule(deps, caller, c.req.valid('param').id, 'trigger', undefined, c.get('requestId')), 202);
  });
  router.openapi(remove, async (c) => {
    const caller = authorize(c.get('caller'), 'submitter', 'schedule');
    await deleteSchedule(deps, caller, c.req.valid('param').id, c.get('requestId'));
    return c.body(null, 204);
  });
  return router;
}
