/** Tenants and their API keys: creation with audit records in the same transaction. */
import { randomBytes } from 'node:crypto';
import type { Db } from '../db/client.ts';
import { apiKeys, auditEvents, tenants, type ApiKeyRole } from '../db/schema/index.ts';
import { issueApiKey } from './api-keys.ts';

export function newTenantId(): string {
  return `ten_${randomBytes(8).toString('hex')}`;
}

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
    await tx.insert(auditEvents).values({
      tenantId: id,
      actorKeyId: ctx.actorKeyId ?? null,
      requestId: ctx.requestId ?? null,
      action: 'tenant.create',
      target: id,
      outcome: 'succeeded',
      detail: { name },
    });
    return { id: row!.id, name: row!.name, createdAt: row!.createdAt };
  });
}

/** Issues a key; the plaintext is returned once and never stored. */
export async function createApiKey(
  db: Db,
  tenantId: string,
  opts: { name: string; role: ApiKeyRole; expiresAt?: Date } & AuditContext,
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
    });
    await tx.insert(auditEvents).values({
      tenantId,
      actorKeyId: opts.actorKeyId ?? null,
      requestId: opts.requestId ?? null,
      action: 'api-key.create',
      target: issued.id,
      outcome: 'succeeded',
      detail: { name: opts.name, role: opts.role },
    });
  });
  return { id: issued.id, key: issued.key };
}
