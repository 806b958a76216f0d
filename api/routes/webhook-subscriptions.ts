/**
 * `/v1/webhook-subscriptions` (admin): endpoints that receive the tenant's
 * platform events (`document.ingested`) as signed `webhook.deliver` jobs.
 * A URL is checked with the rules the delivery enforces at send time (the
 * SSRF guard: no loopback, private or link-local destinations unless
 * allowlisted in JOBPLANE_WEBHOOK_ALLOWED_HOSTS), so a subscription that could
 * never be delivered to is refused at once.
 */
import { createRoute, z } from '@hono/zod-openapi';
import { and, desc, eq } from 'drizzle-orm';
import type { Db } from '../../db/client.ts';
import { auditEvents, webhookSubscriptions } from '../../db/schema/index.ts';
import type { Config } from '../../runtime/config.ts';
import { DestinationBlockedError, parseAllowlist, resolveDestination } from '../../runtime/destination-guard.ts';
import { requireRole } from '../auth.ts';
import { CreateSubscriptionBody, Subscription, SubscriptionIdParam } from '../document-schemas.ts';
import { newSubscriptionId, subscriptionIdPattern } from '../ids.ts';
import { body, bearer, json, newRouter } from '../openapi-app.ts';
import { ProblemError } from '../problems.ts';
import { commonProblems } from '../schemas.ts';

const base = { tags: ['Webhook subscriptions'], security: bearer };

const create = createRoute({
  ...base,
  method: 'post',
  path: '/',
  summary: 'Subscribe an endpoint to platform events',
  request: { body: body(CreateSubscriptionBody) },
  responses: { 201: json(Subscription, 'Created'), ...commonProblems },
});
const list = createRoute({
  ...base,
  method: 'get',
  path: '/',
  summary: 'The tenant’s subscriptions',
  responses: { 200: json(z.object({ items: z.array(Subscription) }), 'Subscriptions'), ...commonProblems },
});
const remove = createRoute({
  ...base,
  method: 'delete',
  path: '/{id}',
  summary: 'Unsubscribe (events already emitted are still delivered)',
  request: { params: SubscriptionIdParam },
  responses: { 204: { description: 'Deleted' }, ...commonProblems },
});

type SubscriptionRow = typeof webhookSubscriptions.$inferSelect;
const view = (s: SubscriptionRow) => ({ id: s.id, url: s.url, events: s.events, description: s.description, createdAt: s.createdAt.toISOString() });

/** 400 with the guard's reason when the URL's host may not be delivered to. */
async function checkDestination(config: Pick<Config, 'webhookAllowedHosts'>, url: string): Promise<void> {
  try {
    await resolveDestination(new URL(url).hostname, parseAllowlist(config.webhookAllowedHosts));
  } catch (err) {
    const message = err instanceof DestinationBlockedError ? err.message : `the host does not resolve: ${(err as Error).message}`;
    throw new ProblemError('validation-error', 'the URL cannot be delivered to', { errors: [{ path: 'url', message }] });
  }
}

export function webhookSubscriptionRoutes(deps: { db: Db; config: Config }) {
  const { db } = deps;
  const router = newRouter();
  router.openapi(create, async (c) => {
    const caller = requireRole(c.get('caller'), 'admin');
    const b = c.req.valid('json');
    await checkDestination(deps.config, b.url);
    const row = await db.transaction(async (tx) => {
      const [inserted] = await tx
        .insert(webhookSubscriptions)
        .values({ id: newSubscriptionId(), tenantId: caller.tenantId, url: b.url, events: [...new Set(b.events)], description: b.description ?? null, createdByKeyId: caller.keyId })
        .returning();
      await tx.insert(auditEvents).values({
        tenantId: caller.tenantId,
        actorKeyId: caller.keyId,
        action: 'webhook-subscription.create',
        target: inserted!.id,
        requestId: c.get('requestId'),
        outcome: 'succeeded',
        // The host only: a URL's path or query may carry a receiver's secret.
        detail: { host: new URL(b.url).host, events: b.events },
      });
      return inserted!;
    });
    c.header('location', `${deps.config.publicUrl}/v1/webhook-subscriptions/${row.id}`);
    return c.json(view(row), 201);
  });
  router.openapi(list, async (c) => {
    const caller = requireRole(c.get('caller'), 'admin');
    const rows = await db.select().from(webhookSubscriptions).where(eq(webhookSubscriptions.tenantId, caller.tenantId)).orderBy(desc(webhookSubscriptions.id));
    return c.json({ items: rows.map(view) }, 200);
  });
  router.openapi(remove, async (c) => {
    const caller = requireRole(c.get('caller'), 'admin');
    const { id } = c.req.valid('param');
    const deleted = subscriptionIdPattern.test(id)
      ? await db.transaction(async (tx) => {
          const [row] = await tx
            .delete(webhookSubscriptions)
            .where(and(eq(webhookSubscriptions.id, id), eq(webhookSubscriptions.tenantId, caller.tenantId)))
            .returning();
          if (row) {
            await tx.insert(auditEvents).values({ tenantId: caller.tenantId, actorKeyId: caller.keyId, action: 'webhook-subscription.delete', target: id, requestId: c.get('requestId'), outcome: 'succeeded' });
          }
          return row;
        })
      : undefined;
    if (!deleted) throw new ProblemError('not-found', `no webhook subscription ${id}`);
    return c.body(null, 204);
  });
  return router;
}
