/** `GET /v1/audit`: the tenant's audit log, newest first (admin). */
import { createRoute } from '@hono/zod-openapi';
import type { Db } from '../../db/client.ts';
import { requireRole } from '../http/auth.ts';
import { requireUnscoped } from '../http/key-scope.ts';
import { bearer, newRouter } from '../http/openapi-app.ts';
import { commonProblems } from '../http/schemas.ts';
import { auditPage } from './audit-service.ts';
import { AuditList, AuditQuery } from './schemas.ts';

const route = createRoute({
  method: 'get', path: '/', tags: ['Audit'], summary: 'Audit log of the tenant (admin)', security: bearer,
  request: { query: AuditQuery },
  responses: { 200: { description: 'A page of events', content: { 'application/json': { schema: AuditList } } }, ...commonProblems },
});

export function auditRoutes(deps: { db: Db }) {
  const router = newRouter();
  router.openapi(route, async (c) => {
    const caller = requireRole(c.get('caller'), 'admin');
    requireUnscoped(caller, 'the audit log');
    return c.json(await auditPage(deps.db, caller.tenantId, c.req.valid('query')), 200);
  });
  return router;
}
