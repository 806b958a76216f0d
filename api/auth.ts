import { createMiddleware } from 'hono/factory';
import { eq } from 'drizzle-orm';
import type { Db } from '../db/client.ts';
import { apiKeys, type ApiKeyRole } from '../db/schema/index.ts';
import { parseApiKey, roleAllows, secretMatches } from './api-keys.ts';
import { ProblemError } from './problems.ts';

export interface Caller {
  tenantId: string;
  keyId: string;
  role: ApiKeyRole;
}

export type AuthEnv = { Variables: { caller: Caller; requestId: string } };

/** Resolves `Authorization: Bearer <key>` to a caller; 401 for anything missing, unknown, revoked or expired. */
export function authenticate(db: Db) {
  return createMiddleware<AuthEnv>(async (c, next) => {
    const header = c.req.header('authorization') ?? '';
    const match = /^Bearer\s+(\S+)$/i.exec(header);
    const parsed = match ? parseApiKey(match[1]!) : undefined;
    if (!parsed) throw new ProblemError('unauthenticated', 'send Authorization: Bearer <api key>');
    const [row] = await db.select().from(apiKeys).where(eq(apiKeys.id, parsed.id));
    const now = Date.now();
    if (
      !row ||
      !secretMatches(parsed.secret, row.secretHash) ||
      row.revokedAt !== null ||
      (row.expiresAt !== null && row.expiresAt.getTime() <= now)
    ) {
      throw new ProblemError('unauthenticated', 'the API key is unknown, revoked or expired');
    }
    c.set('caller', { tenantId: row.tenantId, keyId: row.id, role: row.role });
    await next();
  });
}

/** 403 unless the caller's role includes `needed`. */
export function requireRole(caller: Caller, needed: ApiKeyRole): void {
  if (!roleAllows(caller.role, needed)) {
    throw new ProblemError('forbidden', `this action needs the ${needed} role; the key has ${caller.role}`);
  }
}
