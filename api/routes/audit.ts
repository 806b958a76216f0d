/** `GET /v1/audit`: the tenant's audit log, newest first (admin). */
import { createRoute } from '@hono/zod-openapi';
import { and, desc, eq, gt, lt, type SQL } from 'drizzle-orm';
import type { Db } from '../../db/client.ts';
import { auditEvents } from '../../db/schema/index.ts';
import { requireRole } from '../auth.ts';
import { bearer, newRouter } from '../openapi-app.ts';
import { ProblemError } from '../problems.ts';
import { AuditList, AuditQuery, commonProblems } from '../schemas.ts';

const route = createRoute({
  method: 'get', path: '/', tags: ['Audit'], summary: 'Audit log of the tenant (admin)', security: bearer,
  request: { query: AuditQuery },
  responses: { 200: { description: 'A page of events', content: { 'application/json': { schema: AuditList } } }, ...commonProblems },
});

function decodeCursor(cursor: string): number {
  const n = Number(Buffer.from(cursor, 'base64url').toString('utf8'));
  if (!Number.isSafeInteger(n) || n <= 0) {
    throw new ProblemError('validation-error', 'bad cursor', { errors: [{ path: 'query.cursor', message: 'not a cursor this API returned' }] });
  }
  return n;
}

export function auditRoutes(deps: { db: Db }) {
  const router = newRouter();
  router.openapi(route, async (c) => {
    const caller = requireRole(c.get('caller'), 'admin');
    const q = c.req.valid('query');
    const where: SQL[] = [eq(auditEvents.tenantId, caller.tenantId)];
    if (q.action) where.push(eq(auditEvents.action, q.action));
    if (q.actorKeyId) where.push(eq(auditEvents.actorKeyId, q.actorKeyId));
    if (q.target) where.push(eq(auditEvents.target, q.target));
    if (q.outcome) where.push(eq(auditEvents.outcome, q.outcome));
    if (q.after) where.push(gt(auditEvents.createdAt, new Date(q.after)));
    if (q.before) where.push(lt(auditEvents.createdAt, new Date(q.before)));
    if (q.cursor) where.push(lt(auditEvents.id, decodeCursor(q.cursor)));
    const rows = await deps.db.select().from(auditEvents).where(and(...where)).orderBy(desc(auditEvents.id)).limit(q.limit + 1);
    const page = rows.slice(0, q.limit);
    return c.json(
      {
        items: page.map((r) => ({ ...r, detail: r.detail ?? undefined, createdAt: r.createdAt.toISOString() })),
        nextCursor: rows.length > q.limit ? Buffer.from(String(page.at(-1)!.id)).toString('base64url') : null,
      },
      200,
    );
  });
  return router;
}

