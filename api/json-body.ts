import type { Context } from 'hono';
import type { z } from 'zod';
import { fieldErrors, ProblemError } from './problems.ts';

/** Reads a JSON body and validates it: 415 for another content type, 400 for bad JSON or a schema mismatch. */
export async function readJson<S extends z.ZodType>(c: Context, schema: S): Promise<z.infer<S>> {
  const type = c.req.header('content-type') ?? '';
  if (!/^application\/(.+\+)?json\s*(;|$)/i.test(type)) {
    throw new ProblemError('unsupported-media-type', `got ${type ? `"${type}"` : 'no Content-Type'}`);
  }
  let body: unknown;
  try {
    body = JSON.parse(await c.req.text());
  } catch (err) {
    throw new ProblemError('malformed-json', (err as Error).message);
  }
  const parsed = schema.safeParse(body);
  if (!parsed.success) throw new ProblemError('validation-error', 'the body does not match the schema', { errors: fieldErrors(parsed.error) });
  return parsed.data;
}
