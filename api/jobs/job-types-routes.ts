/** `GET /v1/job-types`: the catalog with JSON Schemas generated from the same zod schemas that validate. */
import { createRoute, z } from '@hono/zod-openapi';
import { z as zod } from 'zod';
import { jobCatalog, type JobContract } from '../../contracts/index.ts';
import { authorize, visibleTypes } from '../http/key-scope.ts';
import { bearer, newRouter } from '../http/openapi-app.ts';
import { commonProblems } from '../http/schemas.ts';
import { JobType } from './schemas.ts';

const route = createRoute({
  method: 'get', path: '/', tags: ['Jobs'], summary: 'Job types with their input, output and message schemas', security: bearer,
  responses: { 200: { description: 'The catalog', content: { 'application/json': { schema: z.object({ items: z.array(JobType) }) } } }, ...commonProblems },
});

const schemaOf = (s: zod.ZodType) => zod.toJSONSchema(s, { unrepresentable: 'any' }) as Record<string, unknown>;
const mapValues = <T, U>(o: Record<string, T> | undefined, f: (v: T) => U) => Object.fromEntries(Object.entries(o ?? {}).map(([k, v]) => [k, f(v)]));

export function describeJobType(c: JobContract) {
  return {
    type: c.type,
    description: c.description,
    taskQueue: c.taskQueue,
    internal: c.internal !== undefined,
    input: schemaOf(c.input),
    output: schemaOf(c.output),
    signals: mapValues(c.messages?.signals, (m) => ({ description: m.description, input: schemaOf(m.input) })),
    updates: mapValues(c.messages?.updates, (m) => ({ description: m.description, input: schemaOf(m.input), output: schemaOf(m.output) })),
    queries: mapValues(c.messages?.queries, (m) => ({ description: m.description, output: schemaOf(m.output) })),
  };
}

export function jobTypeRoutes() {
  const router = newRouter();
  const items = Object.values(jobCatalog).map(describeJobType);
  router.openapi(route, (c) => {
    const caller = authorize(c.get('caller'), 'viewer', 'read');
    return c.json({ items: visibleTypes(caller, items) }, 200);
  });
  return router;
}
