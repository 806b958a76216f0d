import { Hono } from 'hono';
import { z } from 'zod';
import { requireRole, type AuthEnv } from '../auth.ts';
import { jobIdPattern } from '../ids.ts';
import { cancelJob, createJob, findJob, type JobServiceDeps } from '../job-service.ts';
import { describeJob, justStartedJob } from '../job-view.ts';
import { readJson } from '../json-body.ts';
import { ProblemError } from '../problems.ts';

const createJobBody = z
  .object({
    type: z.string().min(1).max(100),
    input: z.unknown().refine((v) => v !== undefined, 'is required'),
  })
  .strict();

const idempotencyKeyHeader = z.string().min(1).max(255).regex(/^[\x21-\x7e]+$/, 'printable ASCII without spaces');

function jobIdParam(id: string): string {
  // A malformed id cannot name a job: answer exactly like an unknown one.
  if (!jobIdPattern.test(id)) throw new ProblemError('not-found', `no job ${id}`);
  return id;
}

/** `/v1/jobs`: create, read, cancel. */
export function jobRoutes(deps: JobServiceDeps) {
  return new Hono<AuthEnv>()
    .post('/', async (c) => {
      const caller = c.get('caller');
      requireRole(caller, 'submitter');
      const rawKey = c.req.header('idempotency-key');
      const key = rawKey === undefined ? undefined : idempotencyKeyHeader.safeParse(rawKey);
      if (key && !key.success) {
        throw new ProblemError('validation-error', 'bad Idempotency-Key header', {
          errors: [{ path: 'header.Idempotency-Key', message: key.error.issues[0]!.message }],
        });
      }
      const body = await readJson(c, createJobBody);
      const { row, created } = await createJob(deps, caller, { type: body.type, input: body.input }, key?.data, c.get('requestId'));
      const view = created ? justStartedJob(deps.config, row) : await describeJob(deps.client, deps.config, row);
      c.header('location', view.links.self);
      return c.json(view, created ? 201 : 200);
    })
    .get('/:id', async (c) => {
      const caller = c.get('caller');
      requireRole(caller, 'viewer');
      const row = await findJob(deps.db, caller, jobIdParam(c.req.param('id')));
      return c.json(await describeJob(deps.client, deps.config, row));
    })
    .post('/:id/cancel', async (c) => {
      const caller = c.get('caller');
      requireRole(caller, 'submitter');
      const row = await findJob(deps.db, caller, jobIdParam(c.req.param('id')));
      await cancelJob(deps, caller, row, c.get('requestId'));
      return c.json(await describeJob(deps.client, deps.config, row), 202);
    });
}
