/** The HTTP edge: one sub-app per resource, composed here; errors rendered once as problem+json. */
import { OpenAPIHono } from '@hono/zod-openapi';
import { Hono } from 'hono';
import { createMiddleware } from 'hono/factory';
import { bodyLimit } from 'hono/body-limit';
import { HTTPException } from 'hono/http-exception';
import { requestId } from 'hono/request-id';
import type { Context } from 'hono';
import type { Client } from '@temporalio/client';
import type { Db } from '../db/client.ts';
import { isDatabaseUnavailable } from '../db/errors.ts';
import { recordAudit } from '../db/audit.ts';
import type { BlobStore } from '../domain/blob-store/blob-store.ts';
import { blobStoreFrom } from '../domain/blob-store/factory.ts';
import type { Config } from '../runtime/config.ts';
import { grpcCodeOf, grpcStatus } from '../runtime/grpc-status.ts';
import { codecFrom } from '../runtime/temporal.ts';
import { TemporalHealthProbe } from '../runtime/temporal-health.ts';
import { httpTracing } from './http/tracing.ts';
import { inspectJson, textProblem } from './http/json-guard.ts';
import type { Logger } from '../runtime/logger.ts';
import { authenticate, type AuthEnv } from './http/auth.ts';
import { refusalAuditEntry, ScopeRefusal } from './http/key-scope.ts';
import { tenantGate } from './limits/tenant-gate.ts';
import { mountDocs } from './http/docs.ts';
import { createApiMetrics, httpMetrics, type ApiMetrics } from './http/metrics.ts';
import { problemBody, ProblemError } from './http/problems.ts';
import { requestLog } from './http/request-log.ts';
import { serverTiming } from './http/server-timing.ts';
import { auditRoutes } from './tenants/audit-routes.ts';
import { batchInputRoutes, batchJobRoutes } from './jobs/batch-inputs-routes.ts';
import { codecRoutes } from './codec/routes.ts';
import { documentRoutes } from './documents/routes.ts';
import { healthRoutes } from './http/health-routes.ts';
import { jobTypeRoutes } from './jobs/job-types-routes.ts';
import { jobOpsRoutes } from './ops/job-routes.ts';
import { failureRoutes } from './ops/failure-routes.ts';
import { jobRoutes } from './jobs/routes.ts';
import { opsRoutes } from './ops/routes.ts';
import { scheduleRoutes } from './schedules/routes.ts';
import { scheduleBackfillRoutes } from './schedules/backfill-routes.ts';
import { taskQueueRoutes } from './ops/task-queue-routes.ts';
import { tenantRoutes } from './tenants/routes.ts';
import { jobUsageRoutes, usageRoutes } from './usage/routes.ts';
import { webhookSubscriptionRoutes } from './webhooks/routes.ts';

export interface AppDeps {
  config: Config;
  db: Db;
  client: Client;
  log: Logger;
  /** Where document bytes go; default: the store the config names. */
  blobs?: BlobStore;
  /** The client for visibility calls, one that does not retry throttled calls (visibility.ts). @default client */
  visibilityClient?: Client;
  /** Which parts of Temporal answer; @default a probe over `client` (cached 2 s). */
  temporalHealth?: TemporalHealthProbe;
  /** Where request and job metrics are counted; @default a registry of this app's own. Served by {@link createMetricsApp}, not here. */
  metrics?: ApiMetrics;
}

/**
 * `/metrics` for Prometheus, on a listener of its own (JOBPLANE_API_METRICS_ADDRESS):
 * the public port never serves it, so neither a Service nor an Ingress in
 * front of the API can expose it.
 */
export function createMetricsApp(metrics: ApiMetrics) {
  const app = new Hono();
  app.get('/metrics', async (c) => c.text(await metrics.registry.metrics(), 200, { 'content-type': metrics.registry.contentType }));
  return app;
}

/**
 * Every Temporal call a request makes has a deadline (JOBPLANE_TEMPORAL_CALL_TIMEOUT_MS):
 * with history or matching down, the SDK would otherwise retry for the
 * server's own timeouts (tens of seconds) while the client waits. Calls with
 * a deadline of their own (updates, queries, long polls, visibility) set it
 * inside and win. Streamed uploads are left out: their body can take longer
 * than the deadline, and the job they start has its own.
 */
function temporalDeadline(client: Client, timeoutMs: number) {
  return createMiddleware(async (c, next) => await client.withDeadline(Date.now() + timeoutMs, () => next()));
}

/** A Temporal call that failed for the engine's availability or load, as the 503 it answers. */
function temporalProblemOf(err: unknown): ProblemError | undefined {
  const code = grpcCodeOf(err);
  // CANCELLED too: when the request's Temporal deadline (temporalDeadline) elapses, grpc-js may end the call
  // CANCELLED rather than DEADLINE_EXCEEDED (seen with history hung: a job read answered 500 after 3 s).
  if (code === grpcStatus.DEADLINE_EXCEEDED || code === grpcStatus.UNAVAILABLE || code === grpcStatus.CANCELLED) {
    return new ProblemError('temporal-unavailable', `Temporal did not answer: ${(err as Error).message}`, { retryAfterSeconds: 5 });
  }
  if (code === grpcStatus.RESOURCE_EXHAUSTED) {
    return new ProblemError('temporal-throttled', `Temporal refused the call: ${(err as Error).message}`, { retryAfterSeconds: 1 });
  }
  return undefined;
}

const jsonType = /^application\/([\w.-]+\+)?json\s*(;|$)/i;

/** 415 for a request body that is not JSON (Hono's validator would otherwise read it as `{}`). */
const requireJsonBody = createMiddleware(async (c, next) => {
  const hasBody = Number(c.req.header('content-length') ?? 0) > 0 || c.req.header('transfer-encoding') !== undefined;
  const type = c.req.header('content-type') ?? '';
  if (hasBody && !jsonType.test(type)) {
    throw new ProblemError('unsupported-media-type', `got ${type ? `"${type}"` : 'no Content-Type'}`);
  }
  await next();
});

/**
 * Hostile JSON bodies and query strings answer 400 naming the field before
 * any handler sees them (api/http/json-guard.ts): nesting past
 * JOBPLANE_JSON_MAX_DEPTH, duplicate keys, NUL and lone surrogates, numbers
 * too large to be finite. The body text read here is what the validators
 * parse afterwards (Hono caches it).
 */
function rejectHostileInput(maxDepth: number) {
  return createMiddleware(async (c, next) => {
    for (const [name, values] of Object.entries(c.req.queries())) {
      for (const value of [name, ...values]) {
        const problem = textProblem(value);
        if (problem) throw new ProblemError('validation-error', `query parameter ${name}: ${problem}`, { errors: [{ path: `query.${name}`, message: problem }] });
      }
    }
    const pathProblem = textProblem(safeDecode(c.req.path));
    if (pathProblem) throw new ProblemError('validation-error', `the path ${pathProblem}`, { errors: [{ path: 'path', message: pathProblem }] });
    // Streamed uploads check their own items and metadata as they read them (batch-inputs.ts, document-upload.ts).
    if (!isStreamedUpload(c) && c.req.method !== 'GET' && c.req.method !== 'HEAD' && jsonType.test(c.req.header('content-type') ?? '')) {
      const problem = inspectJson(await c.req.text(), maxDepth);
      if (problem) throw new ProblemError('validation-error', `${problem.path} ${problem.message}`, { errors: [problem] });
    }
    await next();
  });
}

function safeDecode(path: string): string {
  try {
    return decodeURIComponent(path);
  } catch {
    return path; // not percent-decodable: the router treats it as literal text
  }
}

/**
 * Uploads that stream their own body under their own, larger size limit:
 * documents (multipart, JOBPLANE_DOCUMENT_MAX_BYTES, api/documents/upload.ts)
 * and stored batch item lists (JSON or NDJSON, JOBPLANE_BATCH_INPUT_LIMIT_BYTES,
 * api/jobs/batch-inputs.ts). The JSON body limit and content-type check skip them.
 */
const streamedUploads = new Set(['/v1/documents', '/v1/batch-inputs']);
const isStreamedUpload = (c: Context) => c.req.method === 'POST' && streamedUploads.has(c.req.path.replace(/\/$/, ''));

function exceptStreamedUploads(mw: ReturnType<typeof createMiddleware>) {
  return createMiddleware(async (c, next) => (isStreamedUpload(c) ? await next() : await mw(c, next)));
}

/**
 * Failed and refused changes are audited too (successes are written by the
 * handlers, in their transactions). A refusal by a key's scope is audited
 * whatever the method, reads included (a scoped key probing ids is worth
 * seeing), as one `scope.refused` row written before the response: the
 * tenant gate (in-flight cap and queue) runs before it, so a flood of
 * refusals writes at most as fast as the tenant's requests are admitted.
 * Not audited: refusals for load (429) or
 * for a dependency being away (503): they change nothing and are not a
 * decision about the caller, and a durable row for each would turn a flood
 * into a write per request. Those are counted instead
 * (`jobplane_requests_refused_total{tenant,status}`).
 */
function auditFailures(db: Db, log: Logger, metrics: ApiMetrics) {
  return createMiddleware<AuthEnv>(async (c, next) => {
    await next();
    const caller = c.get('caller');
    if (caller?.kind === 'tenant' && c.error instanceof ScopeRefusal) {
      const entry = refusalAuditEntry(caller, c.error, { method: c.req.method, route: c.req.routePath, path: c.req.path, requestId: c.get('requestId'), status: c.res.status });
      await recordAudit(db, entry, 'denied').catch((err) => log.error({ err }, 'could not write the audit record of a scope refusal'));
      return;
    }
    if (c.req.method === 'GET' || c.res.status < 400 || !caller) return;
    if (c.res.status === 429 || c.res.status === 503) {
      metrics.refused.inc({ tenant: caller.kind === 'tenant' ? caller.tenantId : 'platform', status: String(c.res.status) });
      return;
    }
    const entry = {
      tenantId: caller.kind === 'tenant' ? caller.tenantId : null,
      actorKeyId: caller.keyId,
      action: `${c.req.method} ${c.req.routePath}`,
      target: c.req.path,
      requestId: c.get('requestId'),
      detail: { status: c.res.status },
    };
    await recordAudit(db, entry, c.res.status === 403 ? 'denied' : 'failed').catch((err) => log.error({ err }, 'could not write the audit record of a failed request'));
  });
}

function problemResponse(c: Context<AuthEnv>, problem: ProblemError) {
  const headers: Record<string, string> = { 'content-type': 'application/problem+json' };
  // The rest of an oversized body is never read: tell the client not to reuse this connection.
  if (problem.slug === 'payload-too-large') headers.connection = 'close';
  const retryAfter = problem.extra.retryAfterSeconds;
  if (typeof retryAfter === 'number') headers['retry-after'] = String(Math.ceil(retryAfter));
  if (Array.isArray(problem.extra.allow)) headers.allow = problem.extra.allow.join(', ');
  return c.json({ ...problemBody(problem, c.req.path), requestId: c.get('requestId') }, problem.status as 400, headers);
}

/** Methods registered for a path, to tell 405 from 404. */
function allowedMethods(app: OpenAPIHono<AuthEnv>, path: string): string[] {
  const methods = new Set<string>();
  for (const r of app.routes) {
    if (r.method === 'ALL') continue;
    const pattern = new RegExp(`^${r.path.replace(/:[^/]+/g, '[^/]+').replace(/\*/g, '.*')}/?$`);
    if (pattern.test(path)) methods.add(r.method);
  }
  return [...methods];
}

export function createApp(input: AppDeps) {
  const temporalHealth = input.temporalHealth ?? new TemporalHealthProbe(input.client.connection, { namespace: input.config.temporalNamespace });
  const deps = { ...input, temporalHealth };
  const app = new OpenAPIHono<AuthEnv>();
  const metrics = input.metrics ?? createApiMetrics(deps);
  app.use(httpTracing());
  app.use(requestId());
  app.use(requestLog(deps.log));
  app.use(httpMetrics(metrics));
  app.use(
    '/v1/*',
    exceptStreamedUploads(
      bodyLimit({
        maxSize: deps.config.bodyLimitBytes,
        onError: () => {
          throw new ProblemError('payload-too-large', `the limit is ${deps.config.bodyLimitBytes} bytes`);
        },
      }),
    ),
  );
  app.use('/v1/*', exceptStreamedUploads(requireJsonBody));
  app.use('/v1/*', rejectHostileInput(deps.config.jsonMaxDepth));
  app.use('/v1/*', serverTiming());
  app.use('/v1/*', authenticate(deps.db, deps.config.platformKey));
  app.use('/v1/*', tenantGate(deps.config, (path, method, waitSeconds) => (method === 'POST' && streamedUploads.has(path.replace(/\/$/, ''))) || (waitSeconds !== undefined && waitSeconds !== '0')));
  app.use('/v1/*', auditFailures(deps.db, deps.log, metrics));
  app.use('/v1/*', exceptStreamedUploads(temporalDeadline(deps.client, deps.config.temporalCallTimeoutMs)));

  app.route('/', healthRoutes(deps));
  app.use('/codec/*', bodyLimit({ maxSize: 8 * 1024 * 1024, onError: () => { throw new ProblemError('payload-too-large', 'the codec accepts at most 8 MiB'); } }));
  app.route('/codec', codecRoutes({ db: deps.db, config: deps.config, codec: codecFrom(deps.config) }));
  // Before the jobs router: `/v1/jobs/failures` is not a job id.
  app.route('/v1/jobs', failureRoutes(deps));
  app.route('/v1/jobs', jobRoutes({ ...deps, onJobCreated: (type, tenant) => metrics.jobsCreated.inc({ type, tenant }) }));
  app.route('/v1/jobs', jobOpsRoutes(deps));
  app.route('/v1/jobs', batchJobRoutes(deps));
  app.route('/v1/jobs', jobUsageRoutes(deps));
  app.route('/v1/batch-inputs', batchInputRoutes(deps));
  app.route('/v1/schedules', scheduleRoutes(deps));
  app.route('/v1/schedules', scheduleBackfillRoutes(deps));
  app.route('/v1/job-types', jobTypeRoutes());
  app.route('/v1/tenants', tenantRoutes(deps));
  app.route('/v1/audit', auditRoutes(deps));
  app.route('/v1/usage', usageRoutes(deps));
  app.route('/v1/ops', opsRoutes(deps));
  app.route('/v1/ops/task-queues', taskQueueRoutes(deps));
  app.route('/v1/documents', documentRoutes({ ...deps, blobs: deps.blobs ?? blobStoreFrom(deps.config) }));
  app.route('/v1/webhook-subscriptions', webhookSubscriptionRoutes(deps));
  mountDocs(app);

  app.notFound((c) => {
    const allow = allowedMethods(app, c.req.path).filter((m) => m !== c.req.method);
    const problem =
      allow.length > 0
        ? new ProblemError('method-not-allowed', `${c.req.method} is not allowed here; use ${allow.join(', ')}`, { allow })
        : new ProblemError('not-found', `no route ${c.req.method} ${c.req.path}`);
    return problemResponse(c, problem);
  });
  app.onError((err, c) => {
    if (err instanceof ProblemError) return problemResponse(c, err);
    if (err instanceof HTTPException && err.status === 400) return problemResponse(c, new ProblemError('malformed-json', err.message));
    const unavailable = temporalProblemOf(err);
    if (unavailable) {
      deps.log.warn({ err, requestId: c.get('requestId'), path: c.req.path }, 'Temporal unavailable');
      return problemResponse(c, unavailable);
    }
    if (isDatabaseUnavailable(err)) {
      deps.log.warn({ err, requestId: c.get('requestId'), path: c.req.path }, 'Postgres unavailable');
      return problemResponse(c, new ProblemError('database-unavailable', 'Postgres does not answer; retry after Retry-After (a create with the same Idempotency-Key)', { retryAfterSeconds: 2 }));
    }
    deps.log.error({ err, requestId: c.get('requestId'), path: c.req.path }, 'unhandled error');
    return problemResponse(c, new ProblemError('internal-error', 'see the server log for this request id'));
  });
  return app;
}
