/**
 * One JSON log line per HTTP request: method, route pattern, status,
 * duration, request id, the caller's tenant and key id once authenticated,
 * and the job id when the request concerns one. Never headers (so never the
 * Authorization header), never request or response bodies.
 */
import { createMiddleware } from 'hono/factory';
import type { Logger } from '../../runtime/logger.ts';
import type { AuthEnv } from './auth.ts';
import { routePattern } from './route-pattern.ts';

const jobLocation = /\/v1\/jobs\/([^/?#]+)$/;

export function requestLog(log: Logger) {
  return createMiddleware<AuthEnv>(async (c, next) => {
    const started = performance.now();
    try {
      await next();
    } finally {
      const route = routePattern(c);
      const status = c.res.status;
      const caller = c.get('caller');
      // The job a request is about: the `:id` of a /v1/jobs route, or the job a 201 just created (its Location).
      let jobId = route.startsWith('/v1/jobs/:id') ? c.req.param('id') : undefined;
      if (!jobId && route === '/v1/jobs' && status === 201) jobId = jobLocation.exec(c.res.headers.get('location') ?? '')?.[1];
      const line = {
        requestId: c.get('requestId'),
        method: c.req.method,
        route,
        status,
        durationMs: Math.round((performance.now() - started) * 100) / 100,
        ...(caller ? { keyId: caller.keyId, ...(caller.kind === 'tenant' ? { tenantId: caller.tenantId } : {}) } : {}),
        ...(jobId ? { jobId } : {}),
      };
      if (status >= 500) log.error(line, 'request');
      else log.info(line, 'request');
    }
  });
}
