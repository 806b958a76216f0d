/**
 * HTTP checks every API test shares: problem+json answers (their `type`
 * built from the app's own registry, api/http/problems.ts), callers with
 * another tenant's key, and creating a job.
 */
import { randomBytes } from 'node:crypto';
import { expect } from 'vitest';
import { problemTypeBase, type ProblemSlug } from '../../api/http/problems.ts';
import { createApiKey, createTenant } from '../../api/tenants/service.ts';
import type { Db } from '../../db/client.ts';
import type { ApiKeyRole } from '../../db/schema/index.ts';

type Json = Record<string, unknown>;

/** What the helpers need of a stack: its database and a caller (TestStack over a socket, AppStack through `app.request()`). */
export interface ApiTarget {
  db: Db;
  api(pathname: string, init?: RequestInit & { role?: ApiKeyRole | null }): Promise<Response>;
}

/** A caller that sends `init` with `key`, whatever headers `init` has. */
export type Caller = (pathname: string, init?: RequestInit) => Promise<Response>;

/** The `type` URL of a problem, from the app's registry. */
export const problemType = (slug: ProblemSlug): string => `${problemTypeBase}${slug}`;

/** The body of a problem response (RFC 9457) as the tests read it. */
export interface ProblemJson extends Json {
  type: string;
  status: number;
  title: string;
  detail?: string;
  errors?: { path: string; message: string }[];
}

/**
 * Asserts `res` is a problem+json answer with `status` (in the header and
 * the body) and, if given, the problem `type` of `slug`; returns its body.
 */
export async function expectProblem(res: Response, status: number, slug?: ProblemSlug): Promise<ProblemJson> {
  const text = await res.text();
  expect(res.status, text).toBe(status);
  expect(res.headers.get('content-type')).toContain('application/problem+json');
  const body = JSON.parse(text) as ProblemJson;
  expect(body).toMatchObject({ status, ...(slug ? { type: problemType(slug) } : {}) });
  return body;
}

/**
 * Sends again, as a client would, a request the API answered 503
 * `temporal-unavailable` (a Temporal call past its 3 s deadline on a loaded
 * test machine): up to `attempts` sends, a second apart. Any other answer is
 * returned as it came. Only for requests whose repeat is safe (reads, pauses,
 * requests that change nothing when refused).
 */
export async function retryWhileTemporalUnavailable(send: () => Promise<Response>, attempts = 4): Promise<Response> {
  for (let attempt = 1; ; attempt++) {
    const res = await send();
    if (res.status !== 503 || attempt >= attempts) return res;
    const body = (await res
      .clone()
      .json()
      .catch(() => ({}))) as { type?: string };
    if (body.type !== problemType('temporal-unavailable')) return res;
    await new Promise((r) => setTimeout(r, 1000));
  }
}

/** A caller with `key` in place of the stack's own keys (other headers of `init` kept). */
export function callerWithKey(stack: Pick<ApiTarget, 'api'>, key: string): Caller {
  return (pathname, init = {}) => {
    const headers = new Headers(init.headers);
    headers.set('authorization', `Bearer ${key}`);
    return stack.api(pathname, { ...init, role: null, headers });
  };
}

export interface OtherTenant {
  tenantId: string;
  /** The key of `role` made for it. */
  key: string;
  /** Calls the stack's API with that key. */
  asOther: Caller;
}

/**
 * A second tenant in the stack's database with one key, and a caller that
 * uses it: what another tenant's ids, keys and resources look like from here.
 */
export async function createOtherTenant(stack: ApiTarget, opts: { role?: ApiKeyRole; name?: string } = {}): Promise<OtherTenant> {
  const { role = 'admin', name = 'other' } = opts;
  const tenant = await createTenant(stack.db, `${name}-${randomBytes(4).toString('hex')}`);
  const { key } = await createApiKey(stack.db, tenant.id, { name: `${name} ${role}`, role });
  return { tenantId: tenant.id, key, asOther: callerWithKey(stack, key) };
}

/** A job as `POST /v1/jobs` answers it (the fields the tests read). */
export interface CreatedJob extends Json {
  id: string;
  runId: string;
  workflowId: string;
  status: string;
}

/**
 * `POST /v1/jobs` with `body` as a submitter (or with `key`), asserting 201;
 * returns the created job.
 */
export async function createJob(stack: Pick<ApiTarget, 'api'>, body: unknown, opts: { key?: string; role?: ApiKeyRole } = {}): Promise<CreatedJob> {
  const init: RequestInit = { method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json' } };
  const res = opts.key ? await callerWithKey(stack, opts.key)('/v1/jobs', init) : await stack.api('/v1/jobs', { ...init, role: opts.role ?? 'submitter' });
  const text = await res.text();
  expect(res.status, text).toBe(201);
  return JSON.parse(text) as CreatedJob;
}
