/**
 * Types of the HTTP API, inferred from the same zod schemas the server
 * validates with. Type-only imports: nothing of the server is loaded at run time.
 */
import type { z } from 'zod';
import type { PublicJobCatalog } from '../contracts/index.ts';
import type { Problem as ProblemSchema } from '../api/http/schemas.ts';
import type { ApiKey as ApiKeySchema, ApiKeyRole as ApiKeyRoleSchema, ApiKeyScope as ApiKeyScopeSchema, AuditEvent as AuditEventSchema, AuditList as AuditListSchema, AuditQuery, CreateApiKeyBody, CreatedApiKey as CreatedApiKeySchema, Tenant as TenantSchema } from '../api/tenants/schemas.ts';
import type { CreateJobBody, DebouncedJob as DebouncedJobSchema, Job as JobSchema, JobList as JobListSchema, JobStatus as JobStatusSchema, JobType as JobTypeSchema, ListJobsQuery } from '../api/jobs/schemas.ts';
import type { CreateScheduleBody, ListSchedulesQuery, Schedule as ScheduleSchema } from '../api/schedules/schemas.ts';
import type { BackfillBody, BackfillResult } from '../api/schedules/backfill.ts';
import type { BulkRetryBody, BulkRetryResult as BulkRetryResultSchema, FailureList as FailureListSchema, FailuresQuery } from '../api/ops/failure-routes.ts';
import type { DocumentList as DocumentListSchema, DocumentStatus as DocumentStatusSchema, DocumentView as DocumentViewSchema, ListDocumentsQuery, SearchQuery, SearchResults as SearchResultsSchema, UploadedDocument as UploadedDocumentSchema } from '../api/documents/schemas.ts';
import type { Retention as RetentionSchema } from '../api/tenants/schemas.ts';
import type { CreateSubscriptionBody, Subscription as SubscriptionSchema } from '../api/webhooks/schemas.ts';
import type { JobUsage as JobUsageSchema, UsageQuery, UsageReport as UsageReportSchema } from '../api/usage/schemas.ts';
import type { JobEndedEvent, WebhookEventType } from '../contracts/index.ts';

export type Job = z.infer<typeof JobSchema>;
export type JobStatus = z.infer<typeof JobStatusSchema>;
export type JobList = z.infer<typeof JobListSchema>;
export type JobTypeInfo = z.infer<typeof JobTypeSchema>;
export type Tenant = z.infer<typeof TenantSchema>;
export type ApiKey = z.infer<typeof ApiKeySchema>;
export type ApiKeyRole = z.infer<typeof ApiKeyRoleSchema>;
export type CreatedApiKey = z.infer<typeof CreatedApiKeySchema>;
export type NewApiKey = z.input<typeof CreateApiKeyBody>;
/**
 * A key's scope: the job types, labels and actions it is confined to on top
 * of its role (docs/API.md, "Scoped keys"). Jobs outside it answer 404 like
 * unknown ids; actions and tenant-wide routes outside it answer 403 `scope-forbidden`.
 */
export type ApiKeyScope = z.infer<typeof ApiKeyScopeSchema>;
/** One action a scope may list (`read`, `create`, `signal`, …). */
export type ApiKeyScopeAction = NonNullable<ApiKeyScope['actions']>[number];
export type AuditEvent = z.infer<typeof AuditEventSchema>;
export type AuditList = z.infer<typeof AuditListSchema>;
/** RFC 9457 body of every error response. */
export type Problem = z.infer<typeof ProblemSchema>;

/** Query of `GET /v1/jobs` (`limit` is the page size, 1–200, default 50). */
export type JobFilter = Partial<Omit<z.infer<typeof ListJobsQuery>, 'limit'>> & { limit?: number };
/** Query of `GET /v1/audit` (`limit` is the page size, 1–200, default 50). */
export type AuditFilter = Partial<Omit<z.infer<typeof AuditQuery>, 'limit'>> & { limit?: number };

/**
 * Input of each public job type, by type name: mapped from the catalog
 * (`contracts/index.ts`), so a job type added there is typed here too.
 */
export type JobInputs = { [T in keyof PublicJobCatalog]: z.input<PublicJobCatalog[T]['input']> };

/** Result of each public job type when it succeeds, by type name (mapped from the catalog). */
export type JobOutputs = { [T in keyof PublicJobCatalog]: z.output<PublicJobCatalog[T]['output']> };

export type JobTypeName = keyof JobInputs;

/** A job whose type is known, so `result` has that type's output shape. */
export type TypedJob<T extends JobTypeName> = Omit<Job, 'type' | 'result'> & { type: T; result?: JobOutputs[T] };

/** Body of `POST /v1/jobs` for job type `T`. */
export type CreateJobRequest<T extends JobTypeName> = Omit<z.input<typeof CreateJobBody>, 'type' | 'input' | 'debounce'> & {
  type: T;
  input: JobInputs[T];
};
/** Body of a debounced create (`createDebouncedJob`): a create with `debounce` and none of `dedupe`, `startAt`, `delay`. */
export type CreateDebouncedJobRequest<T extends JobTypeName> = Omit<CreateJobRequest<T>, 'dedupe' | 'startAt' | 'delay'> & {
  debounce: NonNullable<z.input<typeof CreateJobBody>['debounce']>;
};
/** The answer to a debounced create (202): the burst's job id, before the job exists. */
export type DebouncedJob = z.infer<typeof DebouncedJobSchema>;
/** `GET /v1/jobs/failures`: dead letters by job type and error type. */
export type FailureList = z.infer<typeof FailureListSchema>;
export type FailureFilter = Partial<Omit<z.infer<typeof FailuresQuery>, 'limit'>> & { limit?: number };
/** Body of `POST /v1/jobs/retry`. */
export type BulkRetryRequest = z.input<typeof BulkRetryBody>;
export type BulkRetryResult = z.infer<typeof BulkRetryResultSchema>;
/** Body of `POST /v1/schedules/{id}/backfill`, and its answer. */
export type ScheduleBackfillRequest = z.input<typeof BackfillBody>;
export type ScheduleBackfill = z.infer<typeof BackfillResult>;

/**
 * `GET /v1/usage`: the tenant's usage over a range of UTC days; `items` are
 * per job type (`groupBy: 'type'`) or per day (`groupBy: 'day'`).
 */
export type UsageReport = z.infer<typeof UsageReportSchema>;
/** How `GET /v1/usage` groups its items. */
export type UsageGrouping = UsageReport['groupBy'];
/** Query of `GET /v1/usage`: `from`/`to` are inclusive UTC days (`YYYY-MM-DD`; default the last 30 days up to today), `groupBy` defaults to `type`. */
export type UsageFilter = z.input<typeof UsageQuery>;
/** `GET /v1/jobs/{id}/usage`: each closed run of a job and their total. */
export type JobUsage = z.infer<typeof JobUsageSchema>;

/** A schedule: a job type and input started on a timetable (`/v1/schedules`). */
export type Schedule = z.infer<typeof ScheduleSchema>;
/** Query of `GET /v1/schedules`. */
export type ScheduleFilter = z.input<typeof ListSchedulesQuery>;
/** Body of `POST /v1/schedules` for job type `T`: exactly one of `cron` or `interval`. */
export type CreateScheduleRequest<T extends JobTypeName> = Omit<z.input<typeof CreateScheduleBody>, 'type' | 'input'> & {
  type: T;
  input: JobInputs[T];
};

/** A document with its status, classification and lineage (`GET /v1/documents/{id}`). */
export type Document = z.infer<typeof DocumentViewSchema>;
export type DocumentStatus = z.infer<typeof DocumentStatusSchema>;
/** The answer of `POST /v1/documents`. */
export type UploadedDocument = z.infer<typeof UploadedDocumentSchema>;
export type DocumentList = z.infer<typeof DocumentListSchema>;
/** Query of `GET /v1/documents` (`limit` 1–200, default 50). */
export type DocumentFilter = Partial<Omit<z.infer<typeof ListDocumentsQuery>, 'limit'>> & { limit?: number };
/** Query of `GET /v1/documents/search` (`limit` 1–100, default 20). */
export type DocumentSearch = Omit<z.infer<typeof SearchQuery>, 'limit'> & { limit?: number };
export type DocumentSearchResults = z.infer<typeof SearchResultsSchema>;
/** A tenant's document retention (`days: null` keeps documents forever). */
export type Retention = z.infer<typeof RetentionSchema>;

/** An endpoint subscribed to platform events (`/v1/webhook-subscriptions`). */
export type WebhookSubscription = z.infer<typeof SubscriptionSchema>;
/** Body of `POST /v1/webhook-subscriptions`: `jobTypes` and `labels` narrow the job events. */
export type NewWebhookSubscription = z.input<typeof CreateSubscriptionBody>;
/** `document.ingested`, `job.succeeded`, `job.failed`, `job.cancelled`, `job.terminated`, `job.timed_out`. */
export type { WebhookEventType };
/** The body of a job-end webhook (to a subscription or a job's `callbackUrl`). */
export type { JobEndedEvent };
