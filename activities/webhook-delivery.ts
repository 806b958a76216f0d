/**
 * The `webhook.deliver` activity: one signed HTTP attempt per activity attempt,
 * every attempt recorded in Postgres, and at most one recorded success per job.
 * A retry after a worker crash, or a reset, finds that success and does not
 * send again.
 */
import { storableText } from '../db/text.ts';
import { createHmac } from 'node:crypto';
import { ApplicationFailure, Context } from '@temporalio/activity';
import { and, eq } from 'drizzle-orm';
import type { Db } from '../db/client.ts';
import { webhookAttempts } from '../db/schema/index.ts';
import {
  webhookFailureTypes,
  type WebhookDeliverInput,
  type WebhookDeliverOutput,
} from '../contracts/index.ts';
import { DestinationBlockedError, resolveDestination, type DestinationAllowlist } from '../domain/outbound/destination-guard.ts';
import { parseRetryAfter, postOnce, type PostResult } from './http-post.ts';

export interface WebhookDeps {
  db: Db;
  signingSecret: string;
  allowlist: DestinationAllowlist;
  timeoutMs: number;
}

export interface DeliverWebhookArgs extends WebhookDeliverInput {
  tenantId: string;
  jobId: string;
}

/** Longest `Retry-After` we honour; a receiver cannot park a job for days. */
const maxRetryAfterMs = 60 * 60 * 1000;
const heartbeatEveryMs = 1000;

/** `t=<unix seconds>,v1=<hex HMAC-SHA256 of "t.body">`, Stripe-style so receivers can reject replays. */
export function signPayload(secret: string, body: string, unixSeconds: number): string {
  const mac = createHmac('sha256', secret).update(`${unixSeconds}.${body}`).digest('hex');
  return `t=${unixSeconds},v1=${mac}`;
}

export function createWebhookActivities(deps: WebhookDeps) {
  const { db } = deps;

  async function deliverWebhook(args: DeliverWebhookArgs): Promise<WebhookDeliverOutput> {
    const ctx = Context.current();
    const { attempt, activityId, workflowExecution } = ctx.info;
    const key = { jobId: args.jobId, workflowRunId: workflowExecution?.runId ?? 'standalone', activityId, attempt };
    // Ids and outcomes only: never the payload, the URL's path or query, or the signature.
    const logFields = { jobId: args.jobId, tenantId: args.tenantId, workflowId: workflowExecution?.workflowId, runId: workflowExecution?.runId, attempt };

    const [earlier] = await db
      .select({ statusCode: webhookAttempts.statusCode, attempt: webhookAttempts.attempt })
      .from(webhookAttempts)
      .where(and(eq(webhookAttempts.jobId, args.jobId), eq(webhookAttempts.status, 'succeeded')));
    if (earlier) {
      ctx.log.info('webhook already delivered; not sending again', { ...logFields, statusCode: earlier.statusCode });
      return { statusCode: earlier.statusCode ?? 200, attempts: earlier.attempt };
    }

    // An attempt still `in_flight` belongs to a worker that died mid-request: its outcome is unknown.
    await db
      .update(webhookAttempts)
      .set({ status: 'lost', error: 'worker stopped before the attempt finished', finishedAt: new Date() })
      .where(and(eq(webhookAttempts.jobId, args.jobId), eq(webhookAttempts.status, 'in_flight')));
    await db
      .insert(webhookAttempts)
      .values({ ...key, tenantId: args.tenantId, idempotencyKey: args.jobId, url: args.url, status: 'in_flight' })
      .onConflictDoUpdate({
        target: [webhookAttempts.jobId, webhookAttempts.workflowRunId, webhookAttempts.activityId, webhookAttempts.attempt],
        set: { status: 'in_flight', startedAt: new Date() },
      });

    const started = Date.now();
    const finish = (status: 'succeeded' | 'retrying' | 'failed', statusCode: number | null, error: string | null) => {
      const outcome = { ...logFields, outcome: status, statusCode, durationMs: Date.now() - started };
      if (status === 'succeeded') ctx.log.info('webhook attempt finished', outcome);
      else ctx.log.warn('webhook attempt finished', outcome);
      return db
        .update(webhookAttempts)
        .set({ status, statusCode, error: storableText(error), durationMs: Date.now() - started, finishedAt: new Date() })
        .where(
          and(
            eq(webhookAttempts.jobId, key.jobId),
            eq(webhookAttempts.workflowRunId, key.workflowRunId),
            eq(webhookAttempts.activityId, key.activityId),
            eq(webhookAttempts.attempt, key.attempt),
          ),
        );
    };

    let response: PostResult;
    const heartbeat = setInterval(() => ctx.heartbeat(), heartbeatEveryMs);
    try {
      const url = new URL(args.url);
      const addresses = await resolveDestination(url.hostname, deps.allowlist);
      const body = JSON.stringify(args.payload);
      response = await postOnce({
        url,
        body,
        addresses,
        timeoutMs: deps.timeoutMs,
        signal: ctx.cancellationSignal,
        headers: {
          'content-type': 'application/json',
          'user-agent': 'Jobplane-Webhooks/1',
          'idempotency-key': args.jobId,
          'jobplane-job-id': args.jobId,
          'jobplane-attempt': String(attempt),
          'jobplane-signature': signPayload(deps.signingSecret, body, Math.floor(Date.now() / 1000)),
          ...(args.eventType ? { 'jobplane-event-type': args.eventType } : {}),
        },
      });
    } catch (err) {
      if (err instanceof DestinationBlockedError) {
        await finish('failed', null, err.message);
        throw ApplicationFailure.nonRetryable(err.message, webhookFailureTypes.destinationBlocked);
      }
      if (ctx.cancellationSignal.aborted) {
        await finish('failed', null, 'cancelled');
        throw err;
      }
      const message = `could not reach receiver: ${(err as Error).message}`;
      await finish('retrying', null, message);
      throw ApplicationFailure.retryable(message, webhookFailureTypes.unavailable);
    } finally {
      clearInterval(heartbeat);
    }

    return await judgeResponse(response, attempt, finish);
  }

  return { deliverWebhook };
}

/** Maps the receiver's answer to success, a retry (with its delay) or a final failure. */
async function judgeResponse(
  res: PostResult,
  attempt: number,
  finish: (status: 'succeeded' | 'retrying' | 'failed', code: number | null, error: string | null) => Promise<unknown>,
): Promise<WebhookDeliverOutput> {
  const code = res.statusCode;
  const detail = `receiver answered ${code}${res.bodySnippet ? `: ${res.bodySnippet.slice(0, 200)}` : ''}`;
  if (code >= 200 && code < 300) {
    await finish('succeeded', code, null);
    return { statusCode: code, attempts: attempt };
  }
  if (code === 408 || code === 429) {
    await finish('retrying', code, detail);
    const retryAfter = parseRetryAfter(res.headers['retry-after']);
    throw ApplicationFailure.create({
      message: detail,
      type: webhookFailureTypes.unavailable,
      nextRetryDelay: retryAfter === undefined ? undefined : Math.min(retryAfter, maxRetryAfterMs),
      details: [{ statusCode: code }],
    });
  }
  if (code >= 500) {
    await finish('retrying', code, detail);
    throw ApplicationFailure.retryable(detail, webhookFailureTypes.unavailable, { statusCode: code });
  }
  await finish('failed', code, detail);
  const type = code >= 300 && code < 400 ? webhookFailureTypes.redirected : webhookFailureTypes.rejected;
  throw ApplicationFailure.nonRetryable(detail, type, { statusCode: code });
}
