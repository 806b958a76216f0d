/**
 * `/v1/batch-inputs`: stored item lists for large batches, and
 * `/v1/jobs/{id}/failed-items`: the full list of a batch's failed items.
 * Another tenant's ids answer 404 like unknown ones.
 */
import { createRoute, z } from '@hono/zod-openapi';
import { batchItemCatalog } from '../../contracts/index.ts';
import { authorize, requireBatchInputScope } from '../http/key-scope.ts';
import { batchInputFormat, createBatchInput, findBatchInput, listFailedItems } from './batch-inputs.ts';
import { findJob, type JobServiceDeps } from './service.ts';
import { createJobsBucket, takeToken, tenantLimits } from '../limits/tenant-limits.ts';
import { bearer, json, newRouter } from '../http/openapi-app.ts';
import { ProblemError } from '../http/problems.ts';
import { commonProblems, problemResponse } from '../http/schemas.ts';
import { JobIdParam } from './schemas.ts';

const BatchInput = z
  .object({
    id: z.string().openapi({ example: 'bin_01m81ksmy97xeysea3jw5pzzq4' }),
    jobType: z.string().openapi({ example: 'webhook.deliver' }),
    count: z.number().int(),
    createdAt: z.string(),
  })
  .openapi('BatchInput');

const FailedItems = z
  .object({
    items: z.array(z.object({ index: z.number().int(), type: z.string(), message: z.string(), round: z.number().int(), failedAt: z.string() })),
    nextCursor: z.string().nullable(),
  })
  .openapi('FailedItems');

const create = createRoute({
  method: 'post',
  path: '/',
  tags: ['Batches'],
  summary: 'Store a list of batch items (JSON array or NDJSON, streamed)',
  description:
    'Every item is validated against the input schema of `jobType`; one invalid item stores nothing (400 with `items.<index>.<field>` paths). ' +
    'The body limit is `JOBPLANE_BATCH_INPUT_LIMIT_BYTES` (64 MiB by default), separate from the JSON body limit. ' +
    'Reference the list from a `batch.run` job as `input.itemsRef`.',
  security: bearer,
  request: {
    query: z.object({ jobType: z.string().max(100).openapi({ example: 'webhook.deliver', description: `One of: ${Object.keys(batchItemCatalog).join(', ')}` }) }),
    body: {
      required: true,
      content: {
        'application/json': { schema: { type: 'array', items: {}, description: 'The items, each an input of `jobType`' } },
        'application/x-ndjson': { schema: { type: 'string', description: 'One item per line' } },
      },
    },
  },
  responses: {
    201: json(BatchInput, 'Stored'),
    413: problemResponse('Body over JOBPLANE_BATCH_INPUT_LIMIT_BYTES'),
    415: problemResponse('Neither JSON nor NDJSON'),
    ...commonProblems,
  },
});

const get = createRoute({
  method: 'get',
  path: '/{id}',
  tags: ['Batches'],
  summary: 'Get a stored item list (id, job type, count)',
  security: bearer,
  request: { params: z.object({ id: z.string().openapi({ param: { name: 'id', in: 'path' } }) }) },
  responses: { 200: json(BatchInput, 'The list'), ...commonProblems },
});

const failedItems = createRoute({
  method: 'get',
  path: '/{id}/failed-items',
  tags: ['Batches'],
  summary: 'Failed items of a batch.run job (index, failure type, message), by index',
  security: bearer,
  request: {
    params: JobIdParam,
    query: z.object({
      limit: z.coerce.number().int().min(1).max(1000).default(100),
      cursor: z.string().max(20).optional().openapi({ description: '`nextCursor` of the previous page' }),
    }),
  },
  responses: { 200: json(FailedItems, 'A page of failed items'), ...commonProblems },
});

export function batchInputRoutes(deps: JobServiceDeps) {
  const router = newRouter();
  router.openapi(create, async (c) => {
    const caller = authorize(c.get('caller'), 'submitter', 'create');
    requireBatchInputScope(caller);
    const format = batchInputFormat(c.req.header('content-type'));
    // A list costs one create token, like a job: a client cannot flood Postgres with lists.
    const limits = await tenantLimits(deps.db, deps.config, caller.tenantId);
    const token = await takeToken(deps.db, { tenantId: caller.tenantId, bucket: createJobsBucket, ratePerSecond: limits.ratePerSecond, burst: limits.burst });
    if (!token.allowed) throw new ProblemError('rate-limited', `retry in ${token.retryAfterSeconds} s`, { retryAfterSeconds: token.retryAfterSeconds });
    const stored = await createBatchInput(deps, caller, c.req.valid('query').jobType, format, c.req.raw.body, c.get('requestId'));
    c.header('location', `${deps.config.publicUrl}/v1/batch-inputs/${stored.id}`);
    return c.json(stored, 201);
  });
  router.openapi(get, async (c) => {
    const caller = authorize(c.get('caller'), 'viewer', 'read');
    requireBatchInputScope(caller);
    return c.json(await findBatchInput(deps.db, caller, c.req.valid('param').id), 200);
  });
  return router;
}

export function batchJobRoutes(deps: JobServiceDeps) {
  const router = newRouter();
  router.openapi(failedItems, async (c) => {
    const caller = authorize(c.get('caller'), 'viewer', 'read');
    const row = await findJob(deps.db, caller, c.req.valid('param').id);
    const { limit, cursor } = c.req.valid('query');
    return c.json(await listFailedItems(deps.db, row, cursor, limit), 200);
  });
  return router;
}
