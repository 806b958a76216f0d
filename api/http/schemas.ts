/**
 * Schemas every route shares: the problem answers (RFC 9457) and the one
 * timestamp rule. Each resource's own schemas live beside its routes
 * (api/jobs/schemas.ts, api/tenants/schemas.ts, ...). The same zod schemas
 * validate requests and generate `/openapi.json`, so the contract cannot
 * drift from the code.
 */
import { z } from '@hono/zod-openapi';
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

/**
 * The optional `Idempotency-Key` request header (printable ASCII, at most 255),
 * as `headers: idempotencyKeyHeader('what a repeat gets')` of a route.
 */
export const idempotencyKeyHeader = (description: string) =>
  z.object({
    'idempotency-key': z
      .string()
      .min(1)
      .max(255)
      .regex(/^[\x21-\x7e]+$/, 'printable ASCII without spaces')
      .optional()
      // No `param.name` override: it must equal the key, or the OpenAPI generator throws (header names are case-insensitive).
      .openapi({ param: { in: 'header' }, description }),
  });
