/** Reading the tenant's audit log: keyset pages, newest first (the id is the cursor). */
import { and, desc, eq, gt, lt, type SQL } from 'drizzle-orm';
import type { z } from '@hono/zod-openapi';
import type { Db } from '../../db/client.ts';
import { auditEvents } from '../../db/schema/index.ts';
import { ProblemError } from '../http/problems.ts';
import type { AuditQuery } from './schemas.ts';

const encodeCursor = (id: number) => Buffer.from(String(id)).toString('base64url');

function decodeCursor(cursor: string): number {
  const n = Number(Buffer.from(cursor, 'base64url').toString('utf8'));
  if (!Number.isSafeInteger(n) || n <= 0) {
    throw new ProblemError('validation-error', 'bad cursor', { errors: [{ path: 'query.cursor', message: 'not a cursor this API returned' }] });
  }
  return n;
}

export async function auditPage(db: Db, tenantId: string, q: z.infer<typeof AuditQuery>) {
  const where: SQL[] = [eq(auditEvents.tenantId, tenantId)];
  if (q.action) where.push(eq(auditEvents.action, q.action));
  if (q.actorKeyId) where.push(eq(auditEvents.actorKeyId, q.actorKeyId));
  if (q.target) where.push(eq(auditEvents.target, q.target));
  if (q.outcome) where.push(eq(auditEvents.outcome, q.outcome));
  if (q.after) where.push(gt(auditEvents.createdAt, new Date(q.after)));
  if (q.before) where.push(lt(auditEvents.createdAt, new Date(q.before)));
  if (q.cursor) where.push(lt(auditEvents.id, decodeCursor(q.cursor)));
  const rows = await db.select().from(auditEvents).where(and(...where)).orderBy(desc(auditEvents.id)).limit(q.limit + 1);
  const page = rows.slice(0, q.limit);
  return {
    items: page.map((r) => ({ ...r, detail: r.detail ?? undefined, createdAt: r.createdAt.toISOString() })),
    nextCursor: rows.length > q.limit ? encodeCursor(page.at(-1)!.id) : null,
  };
}
