/** Adding to the per tenant × job type × day sums (db/schema/usage.ts), from any writer, in its transaction. */
import { sql } from 'drizzle-orm';
import { toSnakeCase } from 'drizzle-orm/casing';
import type { Db } from './client.ts';
import { usageDaily } from './schema/index.ts';

/** A transaction of `Db`, where the usage writers run. */
export type Tx = Parameters<Parameters<Db['transaction']>[0]>[0];

export type DailyUsageKey = { tenantId: string; jobType: string; day: string };
/** The figures `usage_daily` sums. */
export const dailyUsageFigures = ['runs', 'actions', 'historyBytes', 'activityAttempts', 'activityWallMs', 'activityCpuUs', 'storageBytes'] as const;
export type DailyUsageAdd = Partial<Record<(typeof dailyUsageFigures)[number], number>>;

/** Today (UTC) as the `day` key. */
export function utcDay(at: Date = new Date()): string {
  return at.toISOString().slice(0, 10);
}

/** Adds `add` to the key's row, creating it at zero first. */
export async function addDailyUsage(tx: Db | Tx, key: DailyUsageKey, add: DailyUsageAdd): Promise<void> {
  const columns = Object.keys(add) as (keyof DailyUsageAdd)[];
  if (columns.length === 0) return;
  await tx
    .insert(usageDaily)
    .values({ ...key, ...add })
    .onConflictDoUpdate({
      target: [usageDaily.tenantId, usageDaily.day, usageDaily.jobType],
      // `excluded` takes the SQL name: the schema's keys are camelCase, its columns snake_case (casing is applied at query time).
      set: Object.fromEntries(columns.map((k) => [k, sql`${usageDaily[k]} + excluded.${sql.identifier(toSnakeCase(k))}`])),
    });
}
