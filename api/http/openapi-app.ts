/** An OpenAPIHono whose request validation failures become problem+json with field paths. */
import { OpenAPIHono } from '@hono/zod-openapi';
import type { z } from 'zod';
import type { AuthEnv } from './auth.ts';
import { fieldErrors, ProblemError } from './problems.ts';

const targetPrefix: Record<string, string | undefined> = { json: undefined, query: 'query', param: 'path', header: 'header' };

export function newRouter() {
  return new OpenAPIHono<AuthEnv>({
    defaultHook: (result) => {
      if (!result.success) {
        const error = result.error as z.ZodError;
        throw new ProblemError('validation-error', 'the request does not match the schema', {
          errors: fieldErrors(error, targetPrefix[result.target]),
        });
      }
    },
  });
}

/** A JSON response declaration for createRoute. */
export const json = <T extends z.ZodType>(schema: T, description: string) => ({ description, content: { 'application/json': { schema } } });

/** A required JSON request body declaration for createRoute. */
export const body = <T extends z.ZodType>(schema: T) => ({ required: true, content: { 'application/json': { schema } } });

/** `security` entry every authenticated route declares. */
export const bearer = [{ bearerAuth: [] }];
