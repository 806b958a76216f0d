/** The one place the client talks HTTP: auth header, JSON, per-request timeout, problem errors. */
import { problemFromResponse } from './errors.ts';

export type QueryValue = string | number | boolean | undefined | null;

export interface HttpRequest {
  method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  /** Path under the base URL, already encoded, e.g. `/v1/jobs/job_…/cancel`. */
  path: string;
  query?: Record<string, QueryValue>;
  /** Sent as JSON when not undefined. */
  body?: unknown;
  /** Sent as `multipart/form-data` instead of a JSON body (fetch writes the boundary). */
  form?: FormData;
  headers?: Record<string, string>;
  signal?: AbortSignal;
  /** Overrides the client's per-request timeout (long polls need longer). */
  timeoutMs?: number;
}

export interface HttpResponse<T> {
  status: number;
  headers: Headers;
  body: T;
}

export interface Transport {
  baseUrl: string;
  apiKey: string;
  fetch: typeof fetch;
  timeoutMs: number;
}

/** `encodeURIComponent` for a path segment (ids, names). */
export const seg = (s: string): string => encodeURIComponent(s);

function urlOf(t: Transport, req: HttpRequest): string {
  const url = new URL(`${t.baseUrl}${req.path}`);
  for (const [k, v] of Object.entries(req.query ?? {})) {
    if (v !== undefined && v !== null) url.searchParams.set(k, String(v));
  }
  return url.toString();
}

/**
 * Sends one request and returns the response unread for statuses below 400;
 * throws `JobplaneProblemError` otherwise. Network errors and timeouts are
 * rethrown as `fetch` raised them.
 */
export async function sendRaw(t: Transport, req: HttpRequest): Promise<Response> {
  const timeout = AbortSignal.timeout(req.timeoutMs ?? t.timeoutMs);
  const signal = req.signal ? AbortSignal.any([req.signal, timeout]) : timeout;
  const headers: Record<string, string> = { accept: 'application/json', authorization: `Bearer ${t.apiKey}`, ...req.headers };
  if (req.body !== undefined) headers['content-type'] = 'application/json';
  const body = req.form ?? (req.body !== undefined ? JSON.stringify(req.body) : undefined);
  const res = await t.fetch(urlOf(t, req), { method: req.method, headers, ...(body !== undefined ? { body } : {}), signal });
  if (res.status >= 400) throw await problemFromResponse(res);
  return res;
}

/** {@link sendRaw}, resolving with the parsed JSON body (undefined for 204). */
export async function send<T>(t: Transport, req: HttpRequest): Promise<HttpResponse<T>> {
  const res = await sendRaw(t, req);
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: (text ? JSON.parse(text) : undefined) as T };
}

/** Resolves after `ms`, or rejects with the signal's reason when it aborts first. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

export interface PollOptions {
  /** Overall limit (default 120 s); the thing polled goes on after it. */
  timeoutMs?: number;
  intervalMs?: number;
  signal?: AbortSignal;
}

/**
 * Calls `read` every `intervalMs` (or `defaultIntervalMs`) until `done` holds for its answer, and
 * returns that answer. After `timeoutMs` throws `Error("<still> after N ms")`.
 */
export async function pollUntil<T>(read: () => Promise<T>, done: (value: T) => boolean, still: string, options: PollOptions, defaultIntervalMs: number): Promise<T> {
  const timeoutMs = options.timeoutMs ?? 120_000;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (done(value)) return value;
    if (Date.now() >= deadline) throw new Error(`${still} after ${timeoutMs} ms`);
    await sleep(options.intervalMs ?? defaultIntervalMs, options.signal);
  }
}
