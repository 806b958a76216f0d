/** `JobplaneClient`: one method per API operation, typed from the server's own schemas. */
import { JobplaneProblemError, JobplaneWaitTimeoutError } from './errors.ts';
import { pollUntil, seg, send, sendRaw, sleep, type HttpRequest, type PollOptions, type Transport } from './http.ts';
import type {
  ApiKey,
  Document,
  DocumentFilter,
  DocumentList,
  DocumentSearch,
  DocumentSearchResults,
  Retention,
  UploadedDocument,
  AuditEvent,
  AuditFilter,
  AuditList,
  CreatedApiKey,
  CreateJobRequest,
  CreateScheduleRequest,
  Job,
  JobFilter,
  JobList,
  JobTypeInfo,
  JobTypeName,
  NewApiKey,
  Schedule,
  ScheduleFilter,
  Tenant,
  TypedJob,
  NewWebhookSubscription,
  WebhookSubscription,
  BulkRetryRequest,
  BulkRetryResult,
  CreateDebouncedJobRequest,
  DebouncedJob,
  FailureFilter,
  FailureList,
  ScheduleBackfill,
  ScheduleBackfillRequest,
  JobUsage,
  UsageFilter,
  UsageGrouping,
  UsageReport,
} from './types.ts';
import type { z } from 'zod';
import type {
  Batch as BatchSchema,
  BatchStarted as BatchStartedSchema,
  JobDiagnosis as JobDiagnosisSchema,
  ResetBatchBody,
  ResetJobBody,
  ResetResult as ResetResultSchema,
  StuckList as StuckListSchema,
  StuckQuery,
} from '../api/ops/schemas.ts';

/** Why a job is (or is not) stuck, with the commands that fix it (`GET /v1/jobs/{id}/diagnosis`, items of `GET /v1/ops/stuck`). */
export type JobDiagnosis = z.infer<typeof JobDiagnosisSchema>;
export type StuckList = z.infer<typeof StuckListSchema>;
/** Query of `GET /v1/ops/stuck`: `minAttempts` (default 3), `olderThan` (default `1h`), `type`, `limit` (default 200). */
export type StuckFilter = Partial<Omit<z.infer<typeof StuckQuery>, 'minAttempts' | 'limit'>> & { minAttempts?: number; limit?: number };
/** Body of `POST /v1/jobs/{id}/reset`. */
export type ResetJobRequest = z.input<typeof ResetJobBody>;
export type ResetResult = z.infer<typeof ResetResultSchema>;
/** Body of `POST /v1/ops/reset-batch`. */
export type ResetBatchRequest = z.input<typeof ResetBatchBody>;
export type BatchStarted = z.infer<typeof BatchStartedSchema>;
export type Batch = z.infer<typeof BatchSchema>;

export interface JobplaneClientOptions {
  /** Base URL of the API without `/v1`, e.g. `https://jobs.example.com`. */
  baseUrl: string;
  /** A tenant API key (`jp_…`), or the platform key for the tenant methods. */
  apiKey: string;
  /** The `fetch` to use (a proxy agent, a test double). @default globalThis.fetch */
  fetch?: typeof fetch;
  /** Timeout of one HTTP request in milliseconds; a long poll gets its wait on top. @default 30000 */
  timeoutMs?: number;
  /** How many attempts `createJob` makes in all when answered 429 or 503 `temporal-unavailable`. @default 5 */
  createAttempts?: number;
  /** Longest pause `createJob` takes between attempts; a longer `Retry-After` ends the retries. @default 30000 */
  maxRetryDelayMs?: number;
}

export interface CreateJobOptions {
  /**
   * Same key + same body returns the original job (`created: false`); same
   * key + other body is a 409 `idempotency-key-reused`. Give your own (an
   * order id, say) to make retries after a network error or a crash safe.
   * @default crypto.randomUUID(), kept for this call's retries
   */
  idempotencyKey?: string;
  /** Aborts the request and any retry pause. */
  signal?: AbortSignal;
}

export interface CreateScheduleOptions {
  /** Makes the create idempotent: the schedule id is derived from it. @default none (every call makes a new schedule) */
  idempotencyKey?: string;
  signal?: AbortSignal;
}

export interface CreateJobResult<T extends JobTypeName> {
  job: TypedJob<T>;
  /** false when an earlier request with the same `Idempotency-Key` created the job. */
  created: boolean;
}

export interface WaitOptions {
  /** Long-poll length of each request in seconds (the server allows 0–60). @default 30 */
  waitSeconds?: number;
  /** Overall limit in milliseconds; past it `JobplaneWaitTimeoutError` is thrown. @default 300000 */
  timeoutMs?: number;
  signal?: AbortSignal;
}

type Page<T> = { items: T[]; nextCursor: string | null };

/** Yields every item of every page, following `nextCursor` until it is null. */
async function* allPages<T>(fetchPage: (cursor: string | undefined) => Promise<Page<T>>, cursor?: string): AsyncGenerator<T> {
  do {
    const page = await fetchPage(cursor);
    yield* page.items;
    cursor = page.nextCursor ?? undefined;
  } while (cursor);
}

export class JobplaneClient {
  readonly #t: Transport;
  readonly #createAttempts: number;
  readonly #maxRetryDelayMs: number;

  constructor(options: JobplaneClientOptions) {
    this.#t = {
      baseUrl: options.baseUrl.replace(/\/+$/, ''),
      apiKey: options.apiKey,
      fetch: options.fetch ?? ((input, init) => globalThis.fetch(input, init)),
      timeoutMs: options.timeoutMs ?? 30_000,
    };
    this.#createAttempts = Math.max(1, options.createAttempts ?? 5);
    this.#maxRetryDelayMs = options.maxRetryDelayMs ?? 30_000;
  }

  async #call<T>(req: HttpRequest): Promise<T> {
    return (await send<T>(this.#t, req)).body;
  }

  // ── Jobs ────────────────────────────────────────────────────────────────

  /**
   * `POST /v1/jobs`. Every attempt carries the same `Idempotency-Key`, so
   * retrying is safe: the server claims (tenant, key) in Postgres before it
   * starts anything and derives the workflow id from tenant + job id, so a
   * repeat returns the job the first attempt recorded instead of making a
   * second one. A 429 (`rate-limited`, `running-jobs-cap`) records nothing and
   * is retried after `Retry-After`. A 503 `temporal-unavailable` leaves the
   * claimed job unstarted; the retry with the same key and body finds it and
   * finishes the start (`USE_EXISTING` / `REJECT_DUPLICATE` make that start
   * idempotent too). Other errors, including network errors, are not retried.
   *
   * `created` is true when the job was made by this call: with a generated key
   * no earlier request can own it, so a 200 after a retried 503 still counts.
   *
   * @throws JobplaneProblemError `validation-error` (400, field paths in `errors`), `idempotency-key-reused` (409), 429/503 once attempts run out.
   */
  async createJob<T extends JobTypeName>(request: CreateJobRequest<T>, options: CreateJobOptions = {}): Promise<CreateJobResult<T>> {
    const generated = options.idempotencyKey === undefined;
    const key = options.idempotencyKey ?? globalThis.crypto.randomUUID();
    for (let attempt = 1; ; attempt++) {
      try {
        const res = await send<Job>(this.#t, {
          method: 'POST',
          path: '/v1/jobs',
          body: request,
          headers: { 'idempotency-key': key },
          signal: options.signal,
        });
        return { job: res.body as TypedJob<T>, created: res.status === 201 || generated };
      } catch (err) {
        const pause = this.#retryPause(err, attempt);
        if (pause === undefined) throw err;
        await sleep(pause, options.signal);
      }
    }
  }

  /**
   * `POST /v1/jobs` with `debounce`: joins (or opens) the key's burst and
   * answers its job id (202, `status: 'debouncing'`); the job starts once the
   * burst goes quiet, with the latest create's body. `getJob` finds it once
   * it has started (404 before). Not retried here: a create repeated after its
   * burst ended joins the next burst (docs/API.md, "Debounce on create").
   */
  createDebouncedJob<T extends JobTypeName>(request: CreateDebouncedJobRequest<T>, options: { idempotencyKey?: string; signal?: AbortSignal } = {}): Promise<DebouncedJob> {
    const headers: Record<string, string> = options.idempotencyKey === undefined ? {} : { 'idempotency-key': options.idempotencyKey };
    return this.#call({ method: 'POST', path: '/v1/jobs', body: request, headers, signal: options.signal });
  }

  /** Milliseconds before the next create attempt, or undefined to give up and throw. */
  #retryPause(err: unknown, attempt: number): number | undefined {
    if (!(err instanceof JobplaneProblemError) || attempt >= this.#createAttempts) return undefined;
    if (err.status !== 429 && err.slug !== 'temporal-unavailable') return undefined;
    const ms = err.retryAfterSeconds !== undefined ? err.retryAfterSeconds * 1000 : Math.min(500 * 2 ** (attempt - 1), this.#maxRetryDelayMs);
    return ms <= this.#maxRetryDelayMs ? ms : undefined;
  }

  /** `GET /v1/jobs/{id}`; 404 `not-found` for unknown ids and other tenants' jobs alike. */
  getJob(id: string): Promise<Job> {
    return this.#call({ method: 'GET', path: `/v1/jobs/${seg(id)}` });
  }

  /** `GET /v1/jobs`: one page, newest first. Pass `nextCursor` back as `cursor` for the next page. */
  listJobs(filter: JobFilter = {}): Promise<JobList> {
    return this.#call({ method: 'GET', path: '/v1/jobs', query: { ...filter } });
  }

  /** Every job matching `filter`, newest first, fetching pages of `filter.limit` as it goes. */
  iterateJobs(filter: JobFilter = {}): AsyncGenerator<Job> {
    const { cursor, ...rest } = filter;
    return allPages((c) => this.listJobs({ ...rest, cursor: c }), cursor);
  }

  /**
   * Long-polls `GET /v1/jobs/{id}/result` until the job has finished (any
   * final status: check `status`, `result` and `error`). Pass the job
   * `createJob` returned to keep its result type.
   * @throws JobplaneWaitTimeoutError when `timeoutMs` passes first (the job keeps running).
   */
  waitForResult<T extends JobTypeName>(job: TypedJob<T>, options?: WaitOptions): Promise<TypedJob<T>>;
  waitForResult(id: string, options?: WaitOptions): Promise<Job>;
  async waitForResult(idOrJob: string | { id: string }, options: WaitOptions = {}): Promise<Job> {
    const id = typeof idOrJob === 'string' ? idOrJob : idOrJob.id;
    const timeoutMs = options.timeoutMs ?? 300_000;
    const perPoll = Math.min(60, Math.max(0, Math.floor(options.waitSeconds ?? 30)));
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const left = deadline - Date.now();
      const wait = Math.max(0, Math.min(perPoll, Math.floor(left / 1000)));
      const pollStarted = Date.now();
      const res = await send<Job>(this.#t, {
        method: 'GET',
        path: `/v1/jobs/${seg(id)}/result`,
        query: { waitSeconds: wait },
        timeoutMs: this.#t.timeoutMs + wait * 1000,
        signal: options.signal,
      });
      if (res.status === 200) return res.body;
      if (Date.now() >= deadline) throw new JobplaneWaitTimeoutError(res.body, timeoutMs);
      // A poll that came back early (waitSeconds 0, a job whose start is still pending) must not spin.
      const spent = Date.now() - pollStarted;
      if (spent < 1000) await sleep(Math.min(1000 - spent, Math.max(0, deadline - Date.now())), options.signal);
    }
  }

  /** `POST /v1/jobs/{id}/cancel`: requests cancellation; 409 `job-already-finished` if it has finished. */
  cancelJob(id: string): Promise<Job> {
    return this.#call({ method: 'POST', path: `/v1/jobs/${seg(id)}/cancel` });
  }

  /** `POST /v1/jobs/{id}/signals/{name}` with a body the job type's signal schema accepts. */
  async signal(id: string, name: string, body: unknown): Promise<void> {
    await this.#call({ method: 'POST', path: `/v1/jobs/${seg(id)}/signals/${seg(name)}`, body });
  }

  /** `POST /v1/jobs/{id}/updates/{name}`: runs the update and returns its result (typed by the caller). */
  async update<R = unknown>(id: string, name: string, body: unknown): Promise<R> {
    return (await this.#call<{ result: R }>({ method: 'POST', path: `/v1/jobs/${seg(id)}/updates/${seg(name)}`, body })).result;
  }

  /** `GET /v1/jobs/{id}/queries/{name}`: the query's answer (typed by the caller). */
  async query<R = unknown>(id: string, name: string): Promise<R> {
    return (await this.#call<{ result: R }>({ method: 'GET', path: `/v1/jobs/${seg(id)}/queries/${seg(name)}` })).result;
  }

  /** `GET /v1/job-types`: the catalog with the JSON Schema of each input, output and message. */
  async jobTypes(): Promise<JobTypeInfo[]> {
    return (await this.#call<{ items: JobTypeInfo[] }>({ method: 'GET', path: '/v1/job-types' })).items;
  }

  // ── Schedules ───────────────────────────────────────────────────────────

  /**
   * `POST /v1/schedules`. With an `idempotencyKey` the schedule id is derived
   * from it, so a repeat returns the original (`created: false`) and another
   * body is a 409. Not retried automatically.
   */
  async createSchedule<T extends JobTypeName>(
    request: CreateScheduleRequest<T>,
    options: CreateScheduleOptions = {},
  ): Promise<{ schedule: Schedule; created: boolean }> {
    const res = await send<Schedule>(this.#t, {
      method: 'POST',
      path: '/v1/schedules',
      body: request,
      headers: options.idempotencyKey === undefined ? {} : { 'idempotency-key': options.idempotencyKey },
      signal: options.signal,
    });
    return { schedule: res.body, created: res.status === 201 };
  }

  /** `GET /v1/schedules`: the tenant's schedules, newest first. */
  async listSchedules(filter: ScheduleFilter = {}): Promise<Schedule[]> {
    return (await this.#call<{ items: Schedule[] }>({ method: 'GET', path: '/v1/schedules', query: { ...filter } })).items;
  }

  /** `GET /v1/schedules/{id}` with its next and recent runs. */
  getSchedule(id: string): Promise<Schedule> {
    return this.#call({ method: 'GET', path: `/v1/schedules/${seg(id)}` });
  }

  /** `POST /v1/schedules/{id}/pause`: no runs until unpaused; `note` says why. */
  pauseSchedule(id: string, note?: string): Promise<Schedule> {
    return this.#call({ method: 'POST', path: `/v1/schedules/${seg(id)}/pause`, body: note === undefined ? {} : { note } });
  }

  /** `POST /v1/schedules/{id}/unpause`. */
  unpauseSchedule(id: string, note?: string): Promise<Schedule> {
    return this.#call({ method: 'POST', path: `/v1/schedules/${seg(id)}/unpause`, body: note === undefined ? {} : { note } });
  }

  /** `POST /v1/schedules/{id}/trigger`: one run now (the schedule's overlap policy applies). */
  triggerSchedule(id: string): Promise<Schedule> {
    return this.#call({ method: 'POST', path: `/v1/schedules/${seg(id)}/trigger` });
  }

  /** `DELETE /v1/schedules/{id}`: runs already started go on. */
  async deleteSchedule(id: string): Promise<void> {
    await this.#call({ method: 'DELETE', path: `/v1/schedules/${seg(id)}` });
  }

  /** `POST /v1/schedules/{id}/backfill` (operator): the runs a past range should have had; `dryRun` only counts. */
  backfillSchedule(id: string, request: ScheduleBackfillRequest, options: { idempotencyKey?: string } = {}): Promise<ScheduleBackfill> {
    const headers: Record<string, string> = options.idempotencyKey === undefined ? {} : { 'idempotency-key': options.idempotencyKey };
    return this.#call({ method: 'POST', path: `/v1/schedules/${seg(id)}/backfill`, body: request, headers });
  }

  // ── Operations (operator role) ──────────────────────────────────────────

  /** `GET /v1/jobs/failures` (viewer): failed jobs not yet retried, grouped by job type and error type. */
  jobFailures(filter: FailureFilter = {}): Promise<FailureList> {
    return this.#call({ method: 'GET', path: '/v1/jobs/failures', query: { ...filter } });
  }

  /** `POST /v1/jobs/retry`: retries the failures a filter selects (at most 100 per call); the same `idempotencyKey` again retries nothing twice. */
  retryFailedJobs(request: BulkRetryRequest, options: { idempotencyKey?: string } = {}): Promise<BulkRetryResult> {
    const headers: Record<string, string> = options.idempotencyKey === undefined ? {} : { 'idempotency-key': options.idempotencyKey };
    return this.#call({ method: 'POST', path: '/v1/jobs/retry', body: request, headers });
  }

  /** `GET /v1/ops/stuck`: the tenant's running jobs that look stuck, most severe first. */
  stuckJobs(filter: StuckFilter = {}): Promise<StuckList> {
    return this.#call({ method: 'GET', path: '/v1/ops/stuck', query: { ...filter } });
  }

  /** `GET /v1/jobs/{id}/diagnosis`: pending work, attempts, decoded failures and fix commands of one job. */
  diagnoseJob(id: string, filter: Pick<StuckFilter, 'minAttempts' | 'olderThan'> = {}): Promise<JobDiagnosis> {
    return this.#call({ method: 'GET', path: `/v1/jobs/${seg(id)}/diagnosis`, query: { ...filter } });
  }

  /** `POST /v1/jobs/{id}/reset`: a new run from a workflow task (default the last completed one). */
  resetJob(id: string, request: ResetJobRequest): Promise<ResetResult> {
    return this.#call({ method: 'POST', path: `/v1/jobs/${seg(id)}/reset`, body: request });
  }

  /** `POST /v1/jobs/{id}/terminate`: ends the run now; 409 `job-already-finished` if it has finished. */
  terminateJob(id: string, reason: string): Promise<Job> {
    return this.#call({ method: 'POST', path: `/v1/jobs/${seg(id)}/terminate`, body: { reason } });
  }

  /** `POST /v1/jobs/{id}/retry`: a new job with the same type and input (`retryOf` = `id`); 409 `job-still-running` while it runs. */
  retryJob(id: string, options: { idempotencyKey?: string } = {}): Promise<Job> {
    const headers: Record<string, string> = options.idempotencyKey === undefined ? {} : { 'idempotency-key': options.idempotencyKey };
    return this.#call({ method: 'POST', path: `/v1/jobs/${seg(id)}/retry`, headers });
  }

  /** `POST /v1/ops/reset-batch`: one server-side batch reset over the tenant's running jobs. */
  resetBatch(request: ResetBatchRequest): Promise<BatchStarted> {
    return this.#call({ method: 'POST', path: '/v1/ops/reset-batch', body: request });
  }

  /** `GET /v1/ops/batches/{batchJobId}`: state and progress of a batch. */
  getBatch(batchJobId: string): Promise<Batch> {
    return this.#call({ method: 'GET', path: `/v1/ops/batches/${seg(batchJobId)}` });
  }

  /**
   * Polls `getBatch` until the batch is no longer `running`.
   * @throws Error when `timeoutMs` passes first (the batch keeps going).
   */
  waitForBatch(batchJobId: string, options: PollOptions = {}): Promise<Batch> {
    return pollUntil(() => this.getBatch(batchJobId), (b) => b.state !== 'running', `batch ${batchJobId} is still running`, options, 500);
  }

  // ── Documents ───────────────────────────────────────────────────────────

  /**
   * `POST /v1/documents` (multipart): stores the bytes and starts their
   * ingestion. The same bytes again (per tenant) answer the existing document
   * with `duplicate: true` and `created: false`.
   * @throws JobplaneProblemError `payload-too-large` (413), `unsupported-document-type` (415), `validation-error` (400).
   */
  async uploadDocument(
    file: Blob | Uint8Array | string,
    options: { filename: string; contentType?: string; metadata?: Record<string, unknown> & { title?: string }; signal?: AbortSignal },
  ): Promise<{ document: UploadedDocument; created: boolean }> {
    const form = new FormData();
    const blob = file instanceof Blob ? file : new Blob([file], { type: options.contentType ?? 'application/octet-stream' });
    form.set('file', blob, options.filename);
    if (options.metadata !== undefined) form.set('metadata', JSON.stringify(options.metadata));
    const res = await send<UploadedDocument>(this.#t, { method: 'POST', path: '/v1/documents', form, signal: options.signal });
    return { document: res.body, created: res.status === 202 };
  }

  /** `GET /v1/documents/{id}`: status, classification, counts, lineage; 404 for unknown ids and other tenants' alike. */
  getDocument(id: string): Promise<Document> {
    return this.#call({ method: 'GET', path: `/v1/documents/${seg(id)}` });
  }

  /**
   * Polls `getDocument` until it is no longer `processing` (`ingested`, `failed` or `deleted`).
   * @throws Error when `timeoutMs` passes first (ingestion goes on).
   */
  waitForDocument(id: string, options: PollOptions = {}): Promise<Document> {
    return pollUntil(() => this.getDocument(id), (d) => d.status !== 'processing', `document ${id} is still processing`, options, 250);
  }

  /** `GET /v1/documents`: one page, newest first. */
  listDocuments(filter: DocumentFilter = {}): Promise<DocumentList> {
    return this.#call({ method: 'GET', path: '/v1/documents', query: { ...filter } });
  }

  /** `GET /v1/documents/search`: ranked full-text hits over the tenant's ingested documents, with snippets. */
  searchDocuments(search: DocumentSearch): Promise<DocumentSearchResults> {
    return this.#call({ method: 'GET', path: '/v1/documents/search', query: { ...search } });
  }

  /** `GET /v1/documents/{id}/content`: the original bytes and their type. */
  async documentContent(id: string, options: { signal?: AbortSignal } = {}): Promise<{ bytes: Uint8Array; contentType: string }> {
    const res = await sendRaw(this.#t, { method: 'GET', path: `/v1/documents/${seg(id)}/content`, headers: { accept: '*/*' }, signal: options.signal });
    return { bytes: new Uint8Array(await res.arrayBuffer()), contentType: res.headers.get('content-type') ?? 'application/octet-stream' };
  }

  /** `DELETE /v1/documents/{id}`: bytes and derived data go now, a tombstone stays; 409 `document-on-legal-hold`. */
  async deleteDocument(id: string): Promise<void> {
    await this.#call({ method: 'DELETE', path: `/v1/documents/${seg(id)}` });
  }

  /** `PUT /v1/documents/{id}/legal-hold` (operator): while held, neither DELETE nor retention removes it. */
  setLegalHold(id: string, hold: boolean): Promise<Document> {
    return this.#call({ method: 'PUT', path: `/v1/documents/${seg(id)}/legal-hold`, body: { hold } });
  }

  /** `GET /v1/tenants/{tenantId}/retention`. */
  getRetention(tenantId: string): Promise<Retention> {
    return this.#call({ method: 'GET', path: `/v1/tenants/${seg(tenantId)}/retention` });
  }

  /** `PUT /v1/tenants/{tenantId}/retention` (the tenant's admin or the platform key): `null` keeps documents forever. */
  setRetention(tenantId: string, days: number | null): Promise<Retention> {
    return this.#call({ method: 'PUT', path: `/v1/tenants/${seg(tenantId)}/retention`, body: { days } });
  }

  // ── Webhook subscriptions ───────────────────────────────────────────────

  /** `POST /v1/webhook-subscriptions` (admin): 400 naming the field for an unknown event or job type, or a host deliveries may not reach. */
  createWebhookSubscription(subscription: NewWebhookSubscription): Promise<WebhookSubscription> {
    return this.#call({ method: 'POST', path: '/v1/webhook-subscriptions', body: subscription });
  }

  /** `GET /v1/webhook-subscriptions` (admin), newest first. */
  async listWebhookSubscriptions(): Promise<WebhookSubscription[]> {
    return (await this.#call<{ items: WebhookSubscription[] }>({ method: 'GET', path: '/v1/webhook-subscriptions' })).items;
  }

  /** `DELETE /v1/webhook-subscriptions/{id}` (admin): events already emitted are still delivered; 404 if unknown. */
  async deleteWebhookSubscription(id: string): Promise<void> {
    await this.#call({ method: 'DELETE', path: `/v1/webhook-subscriptions/${seg(id)}` });
  }

  // ── Tenants and API keys ────────────────────────────────────────────────

  /** `POST /v1/tenants` (platform key); 409 `conflict` when the name is taken. */
  createTenant(name: string): Promise<Tenant> {
    return this.#call({ method: 'POST', path: '/v1/tenants', body: { name } });
  }

  /** `GET /v1/tenants` (platform key). */
  async listTenants(): Promise<Tenant[]> {
    return (await this.#call<{ items: Tenant[] }>({ method: 'GET', path: '/v1/tenants' })).items;
  }

  /**
   * `POST /v1/tenants/{tenantId}/api-keys` (platform key or the tenant's unscoped admin). The secret `key` is returned only here.
   * Give `scope` (`{ jobTypes?, labels?, actions? }`) to confine the key on top of its role; an unknown
   * type or an action beyond the role is a 400 `validation-error` naming the field (`scope.jobTypes.0`).
   */
  createApiKey(tenantId: string, key: Omit<NewApiKey, 'expiresAt'> & { expiresAt?: string | Date }): Promise<CreatedApiKey> {
    const expiresAt = key.expiresAt instanceof Date ? key.expiresAt.toISOString() : key.expiresAt;
    return this.#call({ method: 'POST', path: `/v1/tenants/${seg(tenantId)}/api-keys`, body: { ...key, expiresAt } });
  }

  /** `GET /v1/tenants/{tenantId}/api-keys`: newest first, without secrets. */
  async listApiKeys(tenantId: string): Promise<ApiKey[]> {
    return (await this.#call<{ items: ApiKey[] }>({ method: 'GET', path: `/v1/tenants/${seg(tenantId)}/api-keys` })).items;
  }

  /** `DELETE /v1/tenants/{tenantId}/api-keys/{keyId}`: the key answers 401 from now on; 404 if unknown or already revoked. */
  async revokeApiKey(tenantId: string, keyId: string): Promise<void> {
    await this.#call({ method: 'DELETE', path: `/v1/tenants/${seg(tenantId)}/api-keys/${seg(keyId)}` });
  }

  // ── Usage ───────────────────────────────────────────────────────────────

  /**
   * `GET /v1/usage` (unscoped admin): the tenant's usage over `from`–`to`
   * (inclusive UTC days, at most 366; default the 30 days up to today), by job
   * type or, with `groupBy: 'day'`, by day. A run counts once it has closed
   * and the job-end watcher has read it.
   * @throws JobplaneProblemError `validation-error` (400) naming `query.from` or `query.to`, `forbidden` / `scope-forbidden` (403).
   */
  usage<G extends UsageGrouping = 'type'>(params: UsageFilter & { groupBy?: G } = {}): Promise<Extract<UsageReport, { groupBy: G }>> {
    return this.#call({ method: 'GET', path: '/v1/usage', query: { ...params } });
  }

  /** `GET /v1/jobs/{id}/usage` (viewer): what each closed run of a job cost, and the total; `runs: []` until one has closed. */
  jobUsage(jobId: string): Promise<JobUsage> {
    return this.#call({ method: 'GET', path: `/v1/jobs/${seg(jobId)}/usage` });
  }

  // ── Audit ───────────────────────────────────────────────────────────────

  /** `GET /v1/audit` (admin): one page of the tenant's audit log, newest first. */
  audit(filter: AuditFilter = {}): Promise<AuditList> {
    return this.#call({ method: 'GET', path: '/v1/audit', query: { ...filter } });
  }

  /** Every audit event matching `filter`, newest first, following `nextCursor`. */
  iterateAudit(filter: AuditFilter = {}): AsyncGenerator<AuditEvent> {
    const { cursor, ...rest } = filter;
    return allPages((c) => this.audit({ ...rest, cursor: c }), cursor);
  }
}
