/**
 * Webhook subscriptions of a tenant: each change with its audit record in the
 * same transaction. A URL is checked with the rules the delivery enforces at
 * send time (the SSRF guard, api/http/destination-check.ts), so a
 * subscription that could never be delivered to is refused at once.
 */
import { and, desc, eq } from 'drizzle-orm';
import type { Db } from '../../db/client.ts';
import { recordAudit } from '../../db/audit.ts';
import { webhookSubscriptions, type WebhookSubscriptionRow } from '../../db/schema/index.ts';
import { webhookSubscriptionIdPattern } from '../../contracts/ids.ts';
import type { WebhookEventType } from '../../contracts/index.ts';
import { assertDeliverable } from '../http/destination-check.ts';
import type { Config } from '../../runtime/config.ts';
import { newId } from '../../runtime/ids.ts';
import type { TenantCaller } from '../http/auth.ts';
import { ProblemError } from '../http/problems.ts';

export interface NewSubscription {
  url: string;
  events: WebhookEventType[];
  /** Job events only for these job types; empty or absent: every type. */
  jobTypes?: string[] | undefined;
  /** Job events only for jobs with every one of these labels; empty or absent: every job. */
  labels?: string[] | undefined;
  description?: string | undefined;
}

export async function createSubscription(
  deps: { db: Db; config: Pick<Config, 'webhookAllowedHosts'> },
  caller: TenantCaller,
  sub: NewSubscription,
  requestId: string,
): Promise<WebhookSubscriptionRow> {
  await assertDeliverable(deps.config, sub.url, 'url');
  return await deps.db.transaction(async (tx) => {
    const [inserted] = await tx
      .insert(webhookSubscriptions)
      .values({
        id: newId('webhookSubscription'),
        tenantId: caller.tenantId,
        url: sub.url,
        events: [...new Set(sub.events)],
        jobTypes: [...new Set(sub.jobTypes ?? [])],
        labels: [...new Set(sub.labels ?? [])],
        description: sub.description ?? null,
        createdByKeyId: caller.keyId,
      })
      .returning();
    await recordAudit(tx, {
      tenantId: caller.tenantId,
      actorKeyId: caller.keyId,
      action: 'webhook-subscription.create',
      target: inserted!.id,
      requestId,
      // The host only: a URL's path or query may carry a receiver's secret.
      detail: { host: new URL(sub.url).host, events: sub.events, ...(sub.jobTypes?.length ? { jobTypes: sub.jobTypes } : {}), ...(sub.labels?.length ? { labels: sub.labels } : {}) },
    });
    return inserted!;
  });
}

export async function listSubscriptions(db: Db, caller: TenantCaller): Promise<WebhookSubscriptionRow[]> {
  return await db.select().from(webhookSubscriptions).where(eq(webhookSubscriptions.tenantId, caller.tenantId)).orderBy(desc(webhookSubscriptions.id));
}

/** Deletes the caller's subscription; 404 for an unknown, malformed or other tenant's id (the same answer). */
export async function deleteSubscription(db: Db, caller: TenantCaller, id: string, requestId: string): Promise<void> {
  const deleted = webhookSubscriptionIdPattern.test(id)
    ? await db.transaction(async (tx) => {
        const [row] = await tx
          .delete(webhookSubscriptions)
          .where(and(eq(webhookSubscriptions.id, id), eq(webhookSubscriptions.tenantId, caller.tenantId)))
          .returning();
        if (row) await recordAudit(tx, { tenantId: caller.tenantId, actorKeyId: caller.keyId, action: 'webhook-subscription.delete', target: id, requestId });
        return row;
      })
    : undefined;
  if (!deleted) throw new ProblemError('not-found', `no webhook subscription ${id}`);
}
