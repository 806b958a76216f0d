/**
 * The shape of a job request stored in the outbox, checked with zod before
 * the insert: the rules of `POST /v1/jobs` that do not depend on the job
 * type (type name, labels, priority, `startAt` / `delay`), and input that
 * is plain JSON Postgres can store. The input's own schema is the job
 * type's, checked by the API when the relay sends the row; a refusal there
 * ends the row `failed` with the reason.
 */
import { z } from 'zod';
import type { CreateJobRequest, JobTypeName } from '../types.ts';
import { OutboxValidationError } from './errors.ts';

/** A job request for the outbox: the body of `POST /v1/jobs`, typed by job type; `startAt` may also be a `Date`. */
export type OutboxJobRequest<T extends JobTypeName = JobTypeName> = Omit<CreateJobRequest<T>, 'startAt'> & { startAt?: string | Date };

/** The latest a job may start, as the API allows: 365 days ahead. */
const maxStartDelaySeconds = 365 * 86_400;
/** Nesting the API accepts by default (JOBPLANE_JSON_MAX_DEPTH). */
const maxJsonDepth = 64;
const unitSeconds = { ms: 0.001, s: 1, m: 60, h: 3600, d: 86_400 } as const;

/** `delay` in seconds: a number of seconds, or `500ms`, `30s`, `5m`, `2h`, `1d`. */
export function delayToSeconds(delay: number | string): number {
  if (typeof delay === 'number') return delay;
  const m = /^(\d{1,12})(ms|s|m|h|d)$/.exec(delay);
  return m ? Number(m[1]) * unitSeconds[m[2] as keyof typeof unitSeconds] : Number.NaN;
}

/** A lone UTF-16 surrogate: a high one not followed by a low one, or a low one not after a high one. */
const loneSurrogate = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const badText = (s: string) => (s.includes('\u0000') ? 'must not contain NUL characters' : loneSurrogate.test(s) ? 'must not contain lone UTF-16 surrogates' : undefined);

type JsonPath = (string | number)[];

/**
 * Why `value` is not plain JSON that Postgres' jsonb and the API take:
 * NUL characters (jsonb refuses them), lone UTF-16 surrogates, numbers that
 * are not finite (JSON.stringify would write null), bigint, functions, class
 * instances other than Date (they would lose their data), undefined in
 * arrays, and nesting past the API's default limit. At most 10 issues.
 */
function jsonIssues(value: unknown, path: JsonPath, out: { path: JsonPath; message: string }[]): void {
  if (out.length >= 10) return;
  const here = (message: string) => void out.push({ path, message });
  if (value === null || typeof value === 'boolean') return;
  if (typeof value === 'number') return Number.isFinite(value) ? undefined : here('must be a finite number');
  if (typeof value === 'string') {
    const problem = badText(value);
    return problem ? here(problem) : undefined;
  }
  if (typeof value !== 'object') return here(`a ${typeof value} is not JSON`);
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? here('is an invalid Date') : undefined;
  // The API counts the body's own object and `input` itself as two levels.
  if (path.length + 2 > maxJsonDepth) return here(`nests deeper than the API's ${maxJsonDepth} levels`);
  if (Array.isArray(value)) {
    value.forEach((item, i) => (item === undefined ? out.push({ path: [...path, i], message: 'undefined is not JSON' }) : jsonIssues(item, [...path, i], out)));
    return;
  }
  const proto = Object.getPrototypeOf(value) as unknown;
  if (proto !== Object.prototype && proto !== null) return here(`a ${(value as object).constructor?.name ?? 'class'} instance is not plain JSON`);
  for (const [key, item] of Object.entries(value)) {
    const problem = badText(key);
    if (problem) out.push({ path: [...path, key], message: `key ${problem}` });
    // Like JSON.stringify, an undefined member is left out.
    else if (item !== undefined) jsonIssues(item, [...path, key], out);
  }
}

const label = z.string().regex(/^[A-Za-z0-9_.:=/-]{1,100}$/, 'letters, digits and _ . : = / - only, at most 100');

const startAt = z
  .union([z.date(), z.iso.datetime({ offset: true })])
  .transform((v) => (typeof v === 'string' ? new Date(v) : v))
  .refine((d) => !Number.isNaN(d.getTime()) && d.getTime() >= 0 && d.getTime() < Date.UTC(10_000, 0, 1), 'must be between 1970-01-01 and 9999-12-31')
  .refine((d) => d.getTime() <= Date.now() + maxStartDelaySeconds * 1000, 'must be at most 365 days from now');

const delay = z
  .union([z.number().int().min(0), z.string().regex(/^\d{1,12}(ms|s|m|h|d)$/, 'like 30s, 5m, 2h, 1d')])
  .transform(delayToSeconds)
  .refine((s) => s <= maxStartDelaySeconds, 'must be at most 365 days');

/** The request as zod checks it; `.strict()`: a misspelt field is an error, not silently dropped. */
export const outboxJobRequestSchema = z
  .object({
    type: z.string().min(1).max(100),
    input: z.unknown().superRefine((value, ctx) => {
      if (value === undefined) return void ctx.addIssue({ code: 'custom', message: 'is required' });
      const issues: { path: JsonPath; message: string }[] = [];
      jsonIssues(value, [], issues);
      for (const issue of issues) ctx.addIssue({ code: 'custom', message: issue.message, path: issue.path });
    }),
    priority: z.number().int().min(1).max(5).optional(),
    labels: z.array(label).max(20).optional(),
    startAt: startAt.optional(),
    delay: delay.optional(),
  })
  .strict()
  .refine((r) => !(r.startAt !== undefined && r.delay !== undefined), { message: 'give startAt or delay, not both', path: ['delay'] });

/** What the insert stores, as one JSON parameter (the same for both drivers). */
export interface OutboxRowValues {
  type: string;
  input: unknown;
  labels: string[];
  priority: number | null;
  /** ISO time, or null. */
  startAt: string | null;
  /** Seconds after the enqueuing transaction's start, or null. */
  delaySeconds: number | null;
}

/**
 * Checks a request and returns the values to store.
 * @throws OutboxValidationError naming every bad field.
 */
export function parseOutboxJobRequest(request: unknown): OutboxRowValues {
  const parsed = outboxJobRequestSchema.safeParse(request);
  if (!parsed.success) throw new OutboxValidationError(parsed.error.issues.map((i) => ({ path: i.path.map(String).join('.'), message: i.message })));
  const r = parsed.data;
  return {
    type: r.type,
    input: r.input,
    labels: r.labels ?? [],
    priority: r.priority ?? null,
    startAt: r.startAt?.toISOString() ?? null,
    delaySeconds: r.delay ?? null,
  };
}
