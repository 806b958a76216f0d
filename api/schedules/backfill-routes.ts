/** `POST /v1/schedules/{id}/backfill` (operator): the runs a past range should have had (see backfill.ts). */
import { createRoute } from '@hono/zod-openapi';
import { authorize } from '../http/key-scope.ts';
import { bearer, json, newRouter } from '../http/openapi-app.ts';
import { commonProblems, idempotencyKeyHeader, problemResponse } from '../http/schemas.ts';
import type { JobServiceDeps } from '../jobs/service.ts';
import { BackfillBody, BackfillResult, backfillSchedule, maxBackfillRuns } from './backfill.ts';
import { ScheduleIdParam } from './schemas.ts';

const backfill = createRoute({
  tags: ['Schedules'],
  security: bearer,
  method: 'post',
  path: '/{id}/backfill',
  summary: 'Backfill: run the runs the schedule would have made in a past range',
  description: `Counted first: a range of more than ${maxBackfillRuns} runs is refused (split it). \`dryRun\` only counts. Each run is a workflow \`<tenant>:<schedule id>-<time>\`; the overlap policy decides what happens when runs would overlap. Operator role; audited.`,
  request: {
    params: ScheduleIdParam,
    headers: idempotencyKeyHeader('A repeat within 24 h answers the first call’s result and starts nothing'),
    body: { required: true, content: { 'application/json': { schema: BackfillBody } } },
  },
  responses: {
    202: json(BackfillResult, 'Backfill requested: Temporal starts the runs shortly'),
    200: json(BackfillResult, 'A dry run, an empty range, or the result of an earlier call with the same Idempotency-Key'),
    409: problemResponse('Idempotency-Key reused for another range'),
    ...commonProblems,
  },
});

export function scheduleBackfillRoutes(deps: JobServiceDeps) {
  return newRouter().openapi(backfill, async (c) => {
    const caller = authorize(c.get('caller'), 'operator', 'schedule');
    const key = c.req.valid('header')['idempotency-key'];
    const view = await backfillSchedule(deps, caller, c.req.valid('param').id, c.req.valid('json'), key, c.get('requestId'));
    return c.json(view, view.dryRun || view.replay || view.runs === 0 ? 200 : 202);
  });
}
