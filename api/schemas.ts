/**
 * Request and response schemas of the HTTP API. The same zod schemas validate
 * requests and generate `/openapi.json`, so the contract cannot drift from
 * the code.
 */
import { z } from '@hono/zod-openapi';
import { apiKeyRoles } from '../db/schema/index.ts';
import { jobStatuses } from './job-view.ts';

export const Problem = z
  .object({
    type: z.string().openapi({ example: 'https://jobplane.dev/problems/validation-error' }),
    title: z.string(),
    status: z.number().int(),
    detail: z.string().optional(),
    instance: z.string().optional(),
    requestId: z.string().optional(),
    errors: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
  })
  .openapi('Problem');

export const problemResponse = (description: string) => ({
  description,
  content: { 'application/problem+json': { schema: Problem } },
});

/** The problem answers every authenticated route can give. */
export const commonProblems = {
  400: problemResponse('Invalid request (field paths in `errors`)'),
  401: problemResponse('Missing, unknown, revoked or expired API key'),
  403: problemResponse('The key’s role does not allow this'),
  404: problemResponse('No such resource, or another tenant’s'),
  429: problemResponse('Rate limit or running-jobs cap reached (see `Retry-After`)'),
  500: problemResponse('Internal error'),
} as const;

export const JobStatus = z.enum(jobStatuses).openapi('JobStatus');

export const Job = z
  .object({
    id: z.string().openapi({ example: 'job_01m81ksmy97xeysea3jw5pzzq4' }),
    type: z.string().openapi({ example: 'webhook.deliver' }),
    status: JobStatus,
    workflowId: z.string(),
    runId: z.string().nullable(),
    priority: z.number().int().nullable().optional(),
    labels: z.array(z.string()).optional(),
    retryOf: z.string().nullable().optional(),
    result: z.unknown().optional(),
    error: z.object({ type: z.string(), message: z.string() }).optional(),
    createdAt: z.string(),
    startAt: z.string().optional(),
    finishedAt: z.string().optional(),
    links: z.object({ self: z.string(), ui: z.string() }),
  })
  .openapi('Job');

/**
 * A point in time the API stores or compares in Postgres: ISO 8601 with an
 * offset, between 1970 and 9999 (outside that, years Postgres or JavaScript
 * read differently: year 0000, six-digit years).
 */
export const timestamp = z.iso
  .datetime({ offset: true })
  .refine((s) => {
    const t = Date.parse(s);
    return t >= 0 && t < Date.UTC(10_000, 0, 1);
  }, 'must be between 1970-01-01 and 9999-12-31')
  .openapi({ example: '2026-12-02T10:00:00Z' });

/** The latest a job may be scheduled to start (`startAt`, `delay`): 365 days from the request. */
export const maxStartDelaySeconds = 365 * 86_400;

const unitSeconds: Record<string, number> = { ms: 0.001, s: 1, m: 60, h: 3600, d: 86_400 };

/** `delay` in seconds (a number, or `30s`, `5m`, `2h`, `1d`). */
export function delaySeconds(delay: number | string): number {
  if (typeof delay === 'number') return delay;
  const m = /^(\d+)(ms|s|m|h|d)$/.exec(delay);
  return m ? Number(m[1]) * unitSeconds[m[2]!]! : Number.NaN;
}

const label = z
  .string()
  .regex(/^[A-Za-z0-9_.:=/-]{1,100}$/, 'letters, digits and _ . : = / - only, at most 100')
  .openapi({ example: 'team=billing' });

export const CreateJobBody = z
  .object({
    type: z.string().min(1).max(100).openapi({ example: 'webhook.deliver' }),
    input: z.unknown().refine((v) => v !== undefined, 'is required').openapi({
      description: 'Validated against the job type’s input schema (see `GET /v1/job-types`)',
      example: { url: 'https://example.com/hooks', payload: { hello: 'world' } },
    }),
    priority: z.number().int().min(1).max(5).optional().openapi({ description: '1 runs first, 5 last; default 3' }),
    startAt: timestamp
      .refine((s) => Date.parse(s) <= Date.now() + maxStartDelaySeconds * 1000, 'must be at most 365 days from now')
      .optional()
      .openapi({ description: 'Start no earlier than this time (at most 365 days ahead)' }),
    delay: z
      .union([z.number().int().min(0).max(maxStartDelaySeconds), z.string().regex(/^\d{1,12}(ms|s|m|h|d)$/, 'like 30s, 5m, 2h, 1d')])
      .refine((d) => delaySeconds(d) <= maxStartDelaySeconds, 'must be at most 365 days')
      .optional()
      .openapi({ description: 'Start after this long: seconds, or `30s`, `5m`, `2h`, `1d` (at most 365 days)' }),
    labels: z.array(label).max(20).optional(),
  })
  .strict()
  .refine((b) => !(b.startAt && b.delay !== undefined), { message: 'give startAt or delay, not both', path: ['delay'] })
  .openapi('CreateJob');

export const ListJobsQuery = z.object({
  type: z.string().max(100).optional(),
  status: JobStatus.optional(),
  label: label.optional(),
  createdAfter: timestamp.optional(),
  createdBefore: timestamp.optional(),
  limit: z.coerce.number().int().min(1).max(200).default(50),
  cursor: z.string().max(200).optional().openapi({ description: '`nextCursor` of the previous page' }),
});

export const JobList = z
  .object({ items: z.array(Job), nextCursor: z.string().nullable() })
  .openapi('JobList');

export const JobIdParam = z.object({ id: z.string().openapi({ param: { name: 'id', in: 'path' }, example: 'job_01m81ksmy97xeysea3jw5pzzq4' }) });
export const MessageParam = z.object({
  id: z.string().openapi({ param: { name: 'id', in: 'path' } }),
  name: z.string().openapi({ param: { name: 'name', in: 'path' }, example: 'approve' }),
});

export const WaitQuery = z.object({
  waitSeconds: z.coerce.number().int().min(0).max(60).default(0).openapi({ description: 'Long-poll up to this long for the job to finish' }),
});

export const JobType = z
  .object({
    type: z.string(),
    description: z.string(),
    taskQueue: z.string(),
    internal: z.boolean().openapi({ description: 'Started by the platform (e.g. document.ingest by uploads); POST /v1/jobs refuses it' }),
    input: z.record(z.string(), z.unknown()).openapi({ description: 'JSON Schema' }),
    output: z.record(z.string(), z.unknown()).openapi({ description: 'JSON Schema' }),
    signals: z.record(z.string(), z.object({ description: z.string(), input: z.record(z.string(), z.unknown()) })),
    updates: z.record(z.string(), z.object({ description: z.string(), input: z.record(z.string(), z.unknown()), output: z.record(z.string(), z.unknown()) })),
    queries: z.record(z.string(), z.object({ description: z.string(), output: z.record(z.string(), z.unknown()) })),
  })
  .openapi('JobType');

export const Tenant = z.object({ id: z.string(), name: z.string(), createdAt: z.string() }).openapi('Tenant');
export const CreateTenantBody = z
  .object({ name: z.string().min(1).max(100).regex(/^[A-Za-z0-9][A-Za-z0-9 _.-]*$/, 'letters, digits, space and _ . -') })
  .strict()
  .openapi('CreateTenant');

export const ApiKeyRole = z.enum(apiKeyRoles).openapi('ApiKeyRole');
export const ApiKey = z
  .object({
    id: z.string(),
    name: z.string(),
    role: ApiKeyRole,
    createdAt: z.string(),
    expiresAt: z.string().nullable(),
    revokedAt: z.string().nullable(),
  })
  .openapi('ApiKey');
export const CreatedApiKey = ApiKey.extend({ key: z.string().openapi({ description: 'Shown once; only a hash is stored' }) }).openapi('CreatedApiKey');
export const CreateApiKeyBody = z
  .object({ name: z.string().min(1).max(100), role: ApiKeyRole, expiresAt: timestamp.optional() })
  .strict()
  .openapi('CreateApiKey');
export const TenantIdParam = z.object({ tenantId: z.string().openapi({ param: { name: 'tenantId', in: 'path' } }) });
export const ApiKeyParam = TenantIdParam.extend({ keyId: z.string().openapi({ param: { name: 'keyId', in: 'path' } }) });

export const AuditEvent = z
  .object({
    id: z.number().int(),
    tenantId: z.string().nullable(),
    actorKeyId: z.string().nullable(),
    action: z.string(),
    target: z.string().nullable(),
    requestId: z.string().nullable(),
    outcome: z.enum(['succeeded', 'failed', 'denied', 'pending']).openapi({ description: '`pending`: a change outside Postgres (Temporal) was begun and its end could not be recorded' }),
    detail: z.unknown().optional(),
    createdAt: z.string(),
  })
  .openapi('AuditEvent');
export const AuditQuery = z.object({
  action: z.string().max(100).optional(),
  actorKeyId: z.string().max(100).optional(),
  target: z.string().max(200).optional(),
  outcome: z.enum(['succeeded', 'failed', 'denied', 'pending']).optional(),
  after: timestamp.optional(),
  before: timestamp.optional(),
  limit: z.coerce.number().int().min(1).max(200).default(50),
  cursor: z.string().max(50).optional(),
});
export const AuditList = z.object({ items: z.array(AuditEvent), nextCursor: z.string().nullable() }).openapi('AuditList');
