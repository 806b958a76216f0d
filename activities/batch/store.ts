/**
 * Postgres side of `batch.run`: pages of stored items for the workflow, and
 * the per-item failure rows. Every write is keyed by (tenant, batch job, item
 * index) with ON CONFLICT, so a retried or reset activity writes the same
 * rows again instead of adding any.
 */
import { ApplicationFailure } from '@temporalio/activity';
import { and, asc, count, eq, gt, gte, inArray, sql } from 'drizzle-orm';
import type { Db } from '../../db/client.ts';
import { batchInputItems, batchInputs, batchItemFailures } from '../../db/schema/index.ts';
import type { BatchItemFailure } from '../../contracts/index.ts';

/** Longest failure message kept per item. */
const maxMessageLength = 1000;

export interface ItemPageRequest {
  tenantId: string;
  /** Upper bounds of one page: whichever is reached first (at least one item is returned). */
  maxItems: number;
  maxBytes: number;
}

export interface LoadItemsArgs extends ItemPageRequest {
  inputId: string;
  fromIndex: number;
}

export interface LoadRetryPageArgs extends ItemPageRequest {
  batchJobId: string;
  /** Items that failed in this round are the next round's work. */
  round: number;
  afterIndex: number;
  /** The stored list to join the items from; absent for inline items (the workflow has them). */
  inputId?: string;
}

export interface RecordOutcomesArgs {
  tenantId: string;
  batchJobId: string;
  failures: BatchItemFailure[];
  /** Items that succeeded in a retry round: their failure rows go. */
  resolved: number[];
}

/** Stable failure type when a batch's stored list no longer exists (deleted with its tenant). */
export const batchInputMissingType = 'BatchInputMissing';

export function createBatchActivities({ db }: { db: Db }) {
  /** Cuts a page at `maxBytes` of JSON (at least one item), so workflow payloads stay far below the 2 MB limit. */
  function byteBounded<T extends { item?: unknown }>(rows: T[], maxBytes: number): T[] {
    let bytes = 0;
    const page: T[] = [];
    for (const row of rows) {
      bytes += JSON.stringify(row.item ?? null).length;
      if (page.length > 0 && bytes > maxBytes) break;
      page.push(row);
    }
    return page;
  }

  async function loadBatchItems(args: LoadItemsArgs): Promise<{ total: number; items: unknown[] }> {
    const [list] = await db
      .select({ itemCount: batchInputs.itemCount })
      .from(batchInputs)
      .where(and(eq(batchInputs.id, args.inputId), eq(batchInputs.tenantId, args.tenantId)));
    if (!list) throw ApplicationFailure.nonRetryable(`stored item list ${args.inputId} does not exist`, batchInputMissingType);
    const rows = await db
      .select({ idx: batchInputItems.idx, item: batchInputItems.item })
      .from(batchInputItems)
      .where(and(eq(batchInputItems.inputId, args.inputId), gte(batchInputItems.idx, args.fromIndex)))
      .orderBy(asc(batchInputItems.idx))
      .limit(args.maxItems);
    return { total: list.itemCount, items: byteBounded(rows, args.maxBytes).map((r) => r.item) };
  }

  async function loadRetryPage(args: LoadRetryPageArgs): Promise<{ index: number; item?: unknown }[]> {
    const rows = await db
      .select({ index: batchItemFailures.itemIndex, item: batchInputItems.item })
      .from(batchItemFailures)
      .leftJoin(batchInputItems, and(eq(batchInputItems.inputId, args.inputId ?? ''), eq(batchInputItems.idx, batchItemFailures.itemIndex)))
      .where(
        and(
          eq(batchItemFailures.tenantId, args.tenantId),
          eq(batchItemFailures.batchJobId, args.batchJobId),
          eq(batchItemFailures.round, args.round),
          gt(batchItemFailures.itemIndex, args.afterIndex),
        ),
      )
      .orderBy(asc(batchItemFailures.itemIndex))
      .limit(args.maxItems);
    return byteBounded(rows, args.maxBytes).map((r) => (args.inputId ? { index: r.index, item: r.item } : { index: r.index }));
  }

  async function recordBatchOutcomes(args: RecordOutcomesArgs): Promise<void> {
    await db.transaction(async (tx) => {
      if (args.failures.length > 0) {
        await tx
          .insert(batchItemFailures)
          .values(
            args.failures.map((f) => ({
              tenantId: args.tenantId,
              batchJobId: args.batchJobId,
              itemIndex: f.index,
              round: f.round,
              errorType: f.type,
              message: f.message.slice(0, maxMessageLength),
            })),
          )
          .onConflictDoUpdate({
            target: [batchItemFailures.tenantId, batchItemFailures.batchJobId, batchItemFailures.itemIndex],
            set: { round: sql`excluded.round`, errorType: sql`excluded.error_type`, message: sql`excluded.message`, failedAt: sql`now()` },
          });
      }
      if (args.resolved.length > 0) {
        await tx
          .delete(batchItemFailures)
          .where(
            and(
              eq(batchItemFailures.tenantId, args.tenantId),
              eq(batchItemFailures.batchJobId, args.batchJobId),
              inArray(batchItemFailures.itemIndex, args.resolved),
            ),
          );
      }
    });
  }

  async function loadBatchFailures(args: { tenantId: string; batchJobId: string; limit: number }): Promise<{ failures: BatchItemFailure[]; total: number }> {
    const where = and(eq(batchItemFailures.tenantId, args.tenantId), eq(batchItemFailures.batchJobId, args.batchJobId));
    const rows = await db
      .select({ index: batchItemFailures.itemIndex, type: batchItemFailures.errorType, message: batchItemFailures.message, round: batchItemFailures.round })
      .from(batchItemFailures)
      .where(where)
      .orderBy(asc(batchItemFailures.itemIndex))
      .limit(args.limit);
    const [total] = await db.select({ n: count() }).from(batchItemFailures).where(where);
    return { failures: rows, total: total?.n ?? 0 };
  }

  return { loadBatchItems, loadRetryPage, recordBatchOutcomes, loadBatchFailures };
}
