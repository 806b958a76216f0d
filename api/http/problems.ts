/**
 * RFC 9457 problem details. Routes throw {@link ProblemError}; `app.onError`
 * renders it once. `type` is stable and documented: clients switch on it.
 */
import type { z } from 'zod';

export const problemTypeBase = 'https://jobplane.dev/problems/';

/** Every problem the API can answer, with its status and title. */
export const problems = {
  'validation-error': { status: 400, title: 'The request is not valid' },
  'malformed-json': { status: 400, title: 'The request body is not valid JSON' },
  'job-type-internal': { status: 400, title: 'This job type is started by the platform, not through /v1/jobs' },
  unauthenticated: { status: 401, title: 'A valid API key is required' },
  forbidden: { status: 403, title: 'This key’s role does not allow this action' },
  'scope-forbidden': { status: 403, title: 'This key’s scope does not allow this action or route' },
  'not-found': { status: 404, title: 'No such resource' },
  'method-not-allowed': { status: 405, title: 'Method not allowed on this resource' },
  conflict: { status: 409, title: 'The resource already exists' },
  'idempotency-key-reused': { status: 409, title: 'Idempotency-Key was already used with a different request' },
  'dedupe-pending': { status: 409, title: 'Another create with this dedupe key is still starting its job; retry after the Retry-After interval' },
  'job-already-finished': { status: 409, title: 'The job has already finished' },
  'job-still-running': { status: 409, title: 'The job is still running' },
  'update-rejected': { status: 400, title: 'The job rejected the update' },
  'update-conflict': { status: 409, title: 'The job’s state does not allow this update any more' },
  'workers-unavailable': { status: 503, title: 'No worker answered for this job; retry later' },
  'update-not-applied': { status: 503, title: 'The job could not take the update now; it was not applied, retry later' },
  'payload-too-large': { status: 413, title: 'The request body is too large' },
  'unsupported-media-type': { status: 415, title: 'Content-Type must be application/json' },
  'unsupported-document-type': { status: 415, title: 'Documents must be PDF, plain text, Markdown, HTML or CSV' },
  'document-on-legal-hold': { status: 409, title: 'The document is under legal hold' },
  'document-deleted': { status: 409, title: 'The document is deleted' },
  'rate-limited': { status: 429, title: 'Too many requests; retry after the Retry-After interval' },
  'running-jobs-cap': { status: 429, title: 'The tenant has reached its limit of jobs running at once' },
  'temporal-unavailable': { status: 503, title: 'The job engine is unavailable; retry with the same Idempotency-Key' },
  'database-unavailable': { status: 503, title: 'The database is unavailable; retry after the Retry-After interval' },
  'temporal-throttled': { status: 503, title: 'The job engine is throttling list and count calls; retry after the Retry-After interval' },
  'malformed-request': { status: 400, title: 'The request is not valid HTTP' },
  'request-timeout': { status: 408, title: 'The request did not arrive in time' },
  'request-too-large': { status: 431, title: 'Request header fields (or the URL) are too large' },
  'internal-error': { status: 500, title: 'Internal error' },
} as const;

export type ProblemSlug = keyof typeof problems;

export interface FieldError {
  /** Dotted path of the offending field, e.g. `input.url`. */
  path: string;
  message: string;
}

/** Thrown by routes and middleware to answer with a problem+json response. */
export class ProblemError extends Error {
  override name = 'ProblemError';
  constructor(
    readonly slug: ProblemSlug,
    readonly detail?: string,
    readonly extra: { errors?: FieldError[]; [k: string]: unknown } = {},
  ) {
    super(detail ?? problems[slug].title);
  }

  get status(): number {
    return problems[this.slug].status;
  }
}

/** The JSON body of a problem response. */
export function problemBody(err: ProblemError, instance?: string) {
  const def = problems[err.slug];
  return {
    type: `${problemTypeBase}${err.slug}`,
    title: def.title,
    status: def.status,
    ...(err.detail ? { detail: err.detail } : {}),
    ...(instance ? { instance } : {}),
    ...err.extra,
  };
}

/** Turns zod issues into field errors under a path prefix (`input` for job input). */
export function fieldErrors(error: z.ZodError, prefix?: string): FieldError[] {
  return error.issues.map((issue) => {
    const path = [...(prefix ? [prefix] : []), ...issue.path.map(String)].join('.');
    return { path: path || '(body)', message: issue.message };
  });
}
