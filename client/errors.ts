import type { Job, Problem } from './types.ts';

/** Prefix of every problem `type` the API answers with; the rest is a stable slug. */
export const problemTypeBase = 'https://jobplane.dev/problems/';

/**
 * Thrown by every {@link JobplaneClient} method when the API answers with a
 * status of 400 or above. Carries the RFC 9457 body; switch on {@link slug}
 * (or `type`), never on `title` or `detail`. A response that is not
 * problem+json (a proxy's HTML 502, say) becomes `type: 'about:blank'` with
 * the HTTP status. Network failures and timeouts are not wrapped: they
 * surface as the `fetch` error (`TypeError`, `TimeoutError`, `AbortError`).
 */
export class JobplaneProblemError extends Error {
  override name = 'JobplaneProblemError';
  /** The problem body as the server sent it (extension members included). */
  readonly problem: Problem & Record<string, unknown>;
  /** Seconds from the `Retry-After` header (429, 503), when present. */
  readonly retryAfterSeconds: number | undefined;

  constructor(problem: Problem & Record<string, unknown>, retryAfterSeconds?: number) {
    super(`${problem.status} ${problem.title}${problem.detail ? `: ${problem.detail}` : ''}`);
    this.problem = problem;
    this.retryAfterSeconds = retryAfterSeconds;
  }

  get type(): string {
    return this.problem.type;
  }
  get status(): number {
    return this.problem.status;
  }
  get title(): string {
    return this.problem.title;
  }
  get detail(): string | undefined {
    return this.problem.detail;
  }
  /** Field errors of a `validation-error`, e.g. `{ path: 'input.url', message }`. */
  get errors(): { path: string; message: string }[] | undefined {
    return this.problem.errors;
  }
  get requestId(): string | undefined {
    return this.problem.requestId;
  }
  /** `not-found` for `https://jobplane.dev/problems/not-found`; the full `type` for other URIs. */
  get slug(): string {
    return this.type.startsWith(problemTypeBase) ? this.type.slice(problemTypeBase.length) : this.type;
  }
}

/** Thrown by `waitForResult` when the job has not finished within its overall timeout; the job keeps running. */
export class JobplaneWaitTimeoutError extends Error {
  override name = 'JobplaneWaitTimeoutError';
  constructor(
    /** The job as last seen (`queued` or `running`). */
    readonly job: Job,
    readonly timeoutMs: number,
  ) {
    super(`job ${job.id} is still ${job.status} after ${timeoutMs} ms`);
  }
}

/** Seconds to wait from a `Retry-After` header (delta-seconds or HTTP-date); undefined when absent or unreadable. */
export function parseRetryAfter(value: string | null, now = Date.now()): number | undefined {
  if (value === null || value.trim() === '') return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim());
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, Math.ceil((at - now) / 1000));
}

/** Builds the error for a response with status >= 400 (reads the body). */
export async function problemFromResponse(res: Response): Promise<JobplaneProblemError> {
  const retryAfter = parseRetryAfter(res.headers.get('retry-after'));
  const text = await res.text();
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined;
  }
  const isProblem = typeof body === 'object' && body !== null && typeof (body as Problem).type === 'string' && typeof (body as Problem).status === 'number';
  if (isProblem) return new JobplaneProblemError(body as Problem & Record<string, unknown>, retryAfter);
  const detail = text.length > 500 ? `${text.slice(0, 500)}…` : text;
  return new JobplaneProblemError({ type: 'about:blank', status: res.status, title: res.statusText || `HTTP ${res.status}`, ...(detail ? { detail } : {}) }, retryAfter);
}
