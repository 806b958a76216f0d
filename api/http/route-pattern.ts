import type { Context } from 'hono';

/**
 * The matched route pattern (`/v1/jobs/:id`), the label metrics, logs and
 * spans use so ids never become labels; `unmatched` for 404s.
 */
export function routePattern(c: Context): string {
  return c.req.routePath && c.req.routePath !== '/*' ? c.req.routePath : 'unmatched';
}
