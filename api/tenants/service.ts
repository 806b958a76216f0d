/**
 * Tenants, their API keys and their retention policy: every read and write
 * the `/v1/tenants` routes make, each change with its audit record in the
 * same transaction.
 */
import { and, desc, eq, isNull } from 'drizzle-orm';
import type { Db } from '../../db/client.ts';
import { apiKeys, tenants, type ApiKeyRole, type ApiKeyRow, type ApiKeyScope } from '../../db/schema/index.ts';
import { ProblemError } from '../http/problems.ts';
import { issueApiKey } from '../http/api-keys.ts';
import { newTenantId } from '../../runtime/ids.ts';
import { recordAudit } from '../../db/audit.ts';

export interface AuditContext {
  actorKeyId?: string;
  requestId?: string;
}

export async function createTenant(
  db: Db,
  name: string,
  id = newTenantId(),
  ctx: AuditContext = {},
): Promise<{ id: string; name: string; createdAt: Date }> {
  return await db.transaction(async (tx) => {
    const [row] = await tx.insert(tenants).values({ id, name }).returning();
    await recordAudit(tx, {
      tenantId: id,
      actorKeyId: ctx.actorKeyId ?? null,
      requestId: ctx.requestId ?? null,
      action: 'tenant.create',
      target: id,
      detail: { name },
    });
    return { id: row!.id, name: row!.name, createdAt: row!.createdAt };
  });
}

/**
 * Issues a key; the plaintext is returned once and never stored. A `scope`
 * is stored as given (the route validated it: api/http/key-scope.ts
 * `scopeErrors`) and recorded in the key's audit record.
 */
export async function createApiKey(
  db: Db,
  tenantId: string,
  opts: { name: string; role: ApiKeyRole; expiresAt?: Date; scope?: ApiKeyScope } & AuditContext,
): Promise<{ id: string; key: string }> {
  const issued = issueApiKey();
  await db.transaction(async (tx) => {
    await tx.insert(apiKeys).values({
      id: issued.id,
      tenantId,
      name: opts.name,
      role: opts.role,
      secretHash: issued.secretHash,
      expiresAt: opts.expiresAt ?? null,
      scope: opts.scope ?? null,
    });
    await recordAudit(tx, {
      tenantId,
      actorKeyId: opts.actorKeyId ?? null,
      requestId: opts.requestId ?? null,
      action: 'api-key.create',
      target: issued.id,
      detail: { name: opts.name, role: opts.role, ...(opts.scope ? { scope: opts.scope } : {}) },
    });
  });
  return { id: issued.id, key: issued.key };
}

/** 409 when a tenant of that name exists (names are unique; the insert would refuse it too, less clearly). */
export async function assertNameFree(db: Db, name: string): Promise<void> {
  const [taken] = await db.select({ id: tenants.id }).from(tenants).where(eq(tenants.name, name));
  if (taken) throw new ProblemError('conflict', `a tenant named "${name}" exists`);
}

export async function listTenants(db: Db) {
  return await db.select().from(tenants).orderBy(tenants.createdAt);
}

/** 404 for an unknown tenant id. */
export async function assertTenantExists(db: Db, tenantId: string): Promise<void> {
  const [row] = await db.select({ id: tenants.id }).from(tenants).where(eq(tenants.id, tenantId));
  if (!row) throw new ProblemError('not-found', `no tenant ${tenantId}`);
}

export async function findApiKey(db: Db, keyId: string): Promise<ApiKeyRow | undefined> {
  const [row] = await db.select().from(apiKeys).where(eq(apiKeys.id, keyId));
  return row;
}

/** The tenant's keys, newest first (hashes stay in the row; the view drops them). */
export async function listApiKeys(db: Db, tenantId: string): Promise<ApiKeyRow[]> {
  return await db.select().from(apiKeys).where(eq(apiKeys.tenantId, tenantId)).orderBy(desc(apiKeys.createdAt));
}

/** Revokes an active key of the tenant; 404 when there is none (unknown, another tenant's, already revoked). */
export async function revokeApiKey(db: Db, tenantId: string, keyId: string, ctx: AuditContext): Promise<void> {
  const revoked = await db.transaction(async (tx) => {
    const [row] = await tx
      .update(apiKeys)
      .set({ revokedAt: new Date() })
      .where(and(eq(apiKeys.id, keyId), eq(apiKeys.tenantId, tenantId), isNull(apiKeys.revokedAt)))
      .returning();
    if (row) await recordAudit(tx, { tenantId, actorKeyId: ctx.actorKeyId ?? null, action: 'api-key.revoke', target: keyId, requestId: ctx.requestId ?? null });
    return row;
  });
  if (!revoked) throw new ProblemError('not-found', `no active key ${keyId}`);
}

/** Days documents are kept (null: forever); 404 for an unknown tenant. */
export async function retentionDays(db: Db, tenantId: string): Promise<number | null> {
  const [row] = await db.select({ days: tenants.documentRetentionDays }).from(tenants).where(eq(tenants.id, tenantId));
  if (!row) throw new ProblemError('not-found', `no tenant ${tenantId}`);
  return row.days;
}

/** Sets the retention, recording the previous value in the audit record (row locked, so the two agree). */
export async function setRetentionDays(db: Db, tenantId: string, days: number | null, ctx: AuditContext): Promise<number | null> {
  const updated = await db.transaction(async (tx) => {
    const [before] = await tx.select({ days: tenants.documentRetentionDays }).from(tenants).where(eq(tenants.id, tenantId)).for('update');
    if (!before) return undefined;
    await tx.update(tenants).set({ documentRetentionDays: days }).where(eq(tenants.id, tenantId));
    await recordAudit(tx, { tenantId, actorKeyId: ctx.actorKeyId ?? null, action: 'tenant.retention.set', target: tenantId, requestId: ctx.requestId ?? null, detail: { days, previous: before.days } });
    return { days };
  });
  if (!updated) throw new ProblemError('not-found', `no tenant ${tenantId}`);
  return updated.days;
}
