/**
 * Dead letters and bulk retry, under `/v1/jobs` (mounted before the jobs
 * router, so `failures` and `retry` are not read as job ids): see failures.ts.
 */
import { createRoute, z } from '@hono/zod-openapi';
import { jobIdPattern } from '../../contracts/ids.ts';
import { authorize } from '../http/key-scope.ts';
import { body, bearer, json, newRouter } from '../http/openapi-app.ts';
import { commonProblems, idempotencyKeyHeader, problemResponse, timestamp } from '../http/schemas.ts';
import { jobLabel } from '../jobs/schemas.ts';
import { bulkRetry, checkTimeRange, failureGroups, maxBulkRetry } from './failures.ts';
import type { OpsServiceDeps } from './service.ts';

const base = { tags: ['Operations'], security: bearer };

const filterFields = {
  type: z.string().max(100).optional().openapi({ description: 'Job type' }),
  errorType: z.string().max(200).optional().openapi({ description: 'The failure’s type (`ApplicationFailure.type`, or `Timeout`)', example: 'WebhookRejected' }),
  label: jobLabel.optional(),
  failedAfter: timestamp.optional(),
  failedBefore: timestamp.optional(),
  parentJobId: z.string().regex(jobIdPattern, 'a job id (job_…)').optional().openapi({ description: 'Only the children of this job (a batch’s failed items)' }),
};

export const FailuresQuery = z.object({ ...filterFields, limit: z.coerce.number().int().min(1).max(200).default(50).openapi({ description: 'Newest failures listed besides the groups' }) });

export const FailureList = z
  .object({
    total: z.number().int().openapi({ description: 'Failed jobs not yet retried that the filter selects' }),
    groups: z.array(
      z.object({
        jobType: z.string(),
        errorType: z.string(),
        count: z.number().int(),
        lastFailedAt: z.string(),
        sample: z.object({ jobId: z.string(), message: z.string() }).openapi({ description: 'The group’s newest failure' }),
      }),
    ),
    items: z.array(z.object({ jobId: z.string(), jobType: z.string(), errorType: z.string(), message: z.string(), failedAt: z.string() })),
  })
  .openapi('FailureList');

export const BulkRetryBody = z
  .object({
    filter: z.object(filterFields).strict().default({}),
    dryRun: z.boolean().default(false).openapi({ description: 'Only count and list what would be retried' }),
    limit: z.number().int().min(1).max(maxBulkRetry).default(maxBulkRetry).openapi({ description: `Most jobs this call retries (at most ${maxBulkRetry}); call again for the rest` }),
  })
  .strict()
  .openapi('BulkRetry');

export const BulkRetryResult = z
  .object({
    matched: z.number().int().openapi({ description: 'Failed, not yet retried jobs the filter selects (this call’s own retries included)' }),
    dryRun: z.boolean(),
    retried: z.number().int(),
    alreadyRetried: z.number().int().openapi({ description: 'Retried by an earlier call with the same Idempotency-Key: the same retry answered, none made' }),
    refused: z.number().int(),
    stoppedBy: z.string().nullable().openapi({ description: 'A 429 or 503 problem type that stopped the call early; call again with the same key to go on' }),
    results: z.array(
      z.object({
        jobId: z.string(),
        jobType: z.string(),
        errorType: z.string(),
        outcome: z.enum(['retried', 'already-retried', 'refused', 'would-retry']),
        retryJobId: z.string().optional(),
        problem: z.object({ type: z.string(), detail: z.string() }).optional(),
      }),
    ),
  })
  .openapi('BulkRetryResult');

const failures = createRoute({
  ...base,
  method: 'get',
  path: '/failures',
  summary: 'Dead letters: failed jobs not yet retried, grouped by job type and error type',
  request: { query: FailuresQuery },
  responses: { 200: json(FailureList, 'The groups and the newest failures'), ...commonProblems },
});

const retry = createRoute({
  ...base,
  method: 'post',
  path: '/retry',
  summary: 'Retry the failed jobs a filter selects, each as a new job (`retryOf` set)',
  description: `Oldest failures first, at most \`limit\` (${maxBulkRetry}) per call. Send an Idempotency-Key: the same call again retries nothing twice and goes on where a call stopped by 429/503 left off. Operator role; audited per call and per job.`,
  request: {
    headers: idempotencyKeyHeader('Makes a repeated call answer the retries it made instead of making more'),
    body: body(BulkRetryBody),
  },
  responses: { 200: json(BulkRetryResult, 'What was (or, in a dry run, would be) retried'), 415: problemResponse('Not JSON'), ...commonProblems },
});

export function failureRoutes(deps: OpsServiceDeps) {
  const router = newRouter();
  router.openapi(failures, async (c) => {
    const caller = authorize(c.get('caller'), 'viewer', 'read');
    const { limit, ...filter } = c.req.valid('query');
    checkTimeRange(filter);
    return c.json(await failureGroups(deps, caller, filter, limit), 200);
  });
  router.openapi(retry, async (c) => {
    const caller = authorize(c.get('caller'), 'operator', 'retry');
    const req = c.req.valid('json');
    checkTimeRange(req.filter);
    return c.json(await bulkRetry(deps, caller, req, c.req.valid('header')['idempotency-key'], c.get('requestId')), 200);
  });
  return router;
}
