/** Server spans for API requests; a no-op until tracing is installed (see runtime/tracing.ts). */
import { context, propagation, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { createMiddleware } from 'hono/factory';
import { jobplaneTracer, tracingEnabled } from '../../runtime/tracing.ts';
import { routePattern } from './route-pattern.ts';

/**
 * Hono middleware: one server span per request, named `METHOD /route/:pattern`
 * (continuing an incoming `traceparent`), active while the handlers run so
 * `client.workflow.start` becomes its child and the job's trace continues in
 * the workflow and its activities.
 */
export function httpTracing() {
  return createMiddleware(async (c, next) => {
    if (!tracingEnabled()) return await next();
    const parent = propagation.extract(context.active(), c.req.raw.headers, {
      get: (headers, key) => headers.get(key) ?? undefined,
      keys: (headers) => [...headers.keys()],
    });
    const span = jobplaneTracer().startSpan(c.req.method, { kind: SpanKind.SERVER, attributes: { 'http.method': c.req.method, 'url.path': c.req.path } }, parent);
    try {
      await context.with(trace.setSpan(parent, span), next);
    } finally {
      const route = routePattern(c);
      span.updateName(`${c.req.method} ${route}`);
      span.setAttribute('http.route', route);
      span.setAttribute('http.status_code', c.res.status);
      const caller = (c.var as { caller?: { kind?: string; tenantId?: string } }).caller;
      if (caller?.tenantId) span.setAttribute('jobplane.tenant_id', caller.tenantId);
      if (c.res.status >= 500 || c.error) span.setStatus({ code: SpanStatusCode.ERROR, message: c.error?.message });
      span.end();
    }
  });
}
