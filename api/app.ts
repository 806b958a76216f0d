/** The HTTP edge: one sub-app per resource, composed here; errors rendered once as problem+json. */
import { Hono } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { requestId } from 'hono/request-id';
import type { Client } from '@temporalio/client';
import type { Db } from '../db/client.ts';
import type { Config } from '../runtime/config.ts';
import type { Logger } from '../runtime/logger.ts';
import { authenticate, type AuthEnv } from './auth.ts';
import { problemBody, ProblemError } from './problems.ts';
import { healthRoutes } from './routes/health.ts';
import { jobRoutes } from './routes/jobs.ts';

export interface AppDeps {
  config: Config;
  db: Db;
  client: Client;
  log: Logger;
}

export function createApp(deps: AppDeps) {
  const app = new Hono<AuthEnv>();
  app.use(requestId());
  app.use(
    '/v1/*',
    bodyLimit({
      maxSize: deps.config.bodyLimitBytes,
      onError: () => {
        throw new ProblemError('payload-too-large', `the limit is ${deps.config.bodyLimitBytes} bytes`);
      },
    }),
  );
  app.use('/v1/*', authenticate(deps.db));

  app.route('/', healthRoutes(deps));
  app.route('/v1/jobs', jobRoutes(deps));

  app.notFound((c) => {
    const err = new ProblemError('not-found', `no route ${c.req.method} ${c.req.path}`);
    return c.json(problemBody(err, c.req.path), 404, { 'content-type': 'application/problem+json' });
  });
  app.onError((err, c) => {
    const problem = err instanceof ProblemError ? err : new ProblemError('internal-error', 'see the server log for this request id');
    if (!(err instanceof ProblemError)) deps.log.error({ err, requestId: c.get('requestId'), path: c.req.path }, 'unhandled error');
    const headers: Record<string, string> = { 'content-type': 'application/problem+json' };
    // The rest of an oversized body is never read: tell the client not to reuse this connection.
    if (problem.slug === 'payload-too-large') headers.connection = 'close';
    return c.json({ ...problemBody(problem, c.req.path), requestId: c.get('requestId') }, problem.status as 400, headers);
  });
  return app;
}
