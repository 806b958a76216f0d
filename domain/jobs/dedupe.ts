/**
 * `dedupe: { key, window }` on a create: within the window, every create of
 * the tenant with the same key answers the job the first one made (200,
 * whatever its body), so a burst of "sync account 42" becomes one job.
 *
 * The key is held in `job_dedupe_keys` by one statement that either takes it
 * (no row, or the holder's window is over, or its holder never became a job)
 * or reports who holds it; Postgres serialises concurrent takes of one
 * (tenant, key) on the row, so 50 creates at once make one job. The take
 * skips its own fsync wait like the token take: the claim of the job, a
 * durable commit, follows it in the WAL and flushes it, and a crash that
 * loses the take loses that claim too (no job holds the key, none exists).
 */
import { and, eq, lt, sql } from 'drizzle-orm';
import type { Db } from '../../db/client.ts';
import { jobDedupeKeys, jobs, type JobRow } from '../../db/schema/index.ts';

/**
 * How long a holder may stay a claim that never started (its create failed,
 * nobody retried) before another create may take its key: longer than a
 * create's start can take, and about when the claim sweeper removes such
 * claims.
 */
export const unstartedHolderGraceSeconds = 120;

/**
 * Takes `key` for `jobId` for `windowSeconds`, or answers the id of the job
 * holding it now. `taken` says which.
 */
export async function holdDedupeKey(db: Db, tenantId: string, key: string, jobId: string, windowSeconds: number): Promise<{ taken: boolean; holderId: string }> {
  // A holder can give its key back (a refused create) between our two statements: then take it again.
  for (let attempt = 1; ; attempt++) {
    const hold = await tryHold(db, tenantId, key, jobId, windowSeconds);
    // Three give-backs in a row: answer as if our own (unstarted) job held it, which the caller reports as pending.
    if (hold || attempt === 3) return hold ?? { taken: false, holderId: jobId };
  }
}

async function tryHold(db: Db, tenantId: string, key: string, jobId: string, windowSeconds: number): Promise<{ taken: boolean; holderId: string } | undefined> {
  const expires = sql`clock_timestamp() + make_interval(secs => ${windowSeconds}::float8)`;
  const [taken] = await db.execute<{ job_id: string }>(sql`
    with no_flush_wait as (select set_config('synchronous_commit', 'off', true))
    insert into ${jobDedupeKeys} as d (tenant_id, key, job_id, held_at, expires_at)
    select ${tenantId}, ${key}, ${jobId}, clock_timestamp(), ${expires} from no_flush_wait
    on conflict (tenant_id, key) do update
      set job_id = excluded.job_id, held_at = excluded.held_at, expires_at = excluded.expires_at
      where d.expires_at <= clock_timestamp()
         or (d.held_at < clock_timestamp() - make_interval(secs => ${unstartedHolderGraceSeconds})
             and not exists (select 1 from ${jobs} j where j.id = d.job_id and j.first_run_id is not null))
    returning d.job_id`);
  if (taken) return { taken: true, holderId: taken.job_id };
  const [holder] = await db
    .select({ jobId: jobDedupeKeys.jobId })
    .from(jobDedupeKeys)
    .where(and(eq(jobDedupeKeys.tenantId, tenantId), eq(jobDedupeKeys.key, key)));
  return holder ? { taken: false, holderId: holder.jobId } : undefined;
}

/**
 * Points a key this create took at the job that answers it instead (the
 * create turned out to replay an earlier Idempotency-Key, whose job is the
 * answer), so later creates with the key find that job.
 */
export async function repointDedupeKey(db: Db, tenantId: string, key: string, fromJobId: string, toJobId: string): Promise<void> {
  await db
    .update(jobDedupeKeys)
    .set({ jobId: toJobId })
    .where(and(eq(jobDedupeKeys.tenantId, tenantId), eq(jobDedupeKeys.key, key), eq(jobDedupeKeys.jobId, fromJobId)));
}

/** Gives a key back that `jobId` took but will not use (its create was refused before it claimed a row). */
export async function releaseDedupeKey(db: Db, tenantId: string, key: string, jobId: string): Promise<void> {
  await db.delete(jobDedupeKeys).where(and(eq(jobDedupeKeys.tenantId, tenantId), eq(jobDedupeKeys.key, key), eq(jobDedupeKeys.jobId, jobId)));
}

/**
 * The holder's job once it has started (its creator is still between claim
 * and start when a burst arrives): polls every 50 ms up to `waitMs`.
 * Undefined when it has not started by then (its create may have failed).
 */
export async function startedHolder(db: Db, tenantId: string, jobId: string, waitMs: number): Promise<JobRow | undefined> {
  const deadline = Date.now() + waitMs;
  for (;;) {
    const [row] = await db.select().from(jobs).where(and(eq(jobs.id, jobId), eq(jobs.tenantId, tenantId)));
    if (row?.firstRunId) return row;
    // No row yet is normal too: the holder takes the key just before it claims its row.
    if (Date.now() >= deadline) return undefined;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Deletes keys whose window ended a while ago (they would be taken over in place anyway); bounded per call. */
export async function sweepExpiredDedupeKeys(db: Db, olderThanSeconds = 3600, limit = 1000): Promise<number> {
  const stale = db
    .select({ tenantId: jobDedupeKeys.tenantId, key: jobDedupeKeys.key })
    .from(jobDedupeKeys)
    .where(lt(jobDedupeKeys.expiresAt, sql`clock_timestamp() - make_interval(secs => ${olderThanSeconds})`))
    .limit(limit);
  const deleted = await db.execute(sql`
    delete from ${jobDedupeKeys} d using (${stale}) s
    where d.tenant_id = s.tenant_id and d.key = s.key and d.expires_at < clock_timestamp() - make_interval(secs => ${olderThanSeconds})
    returning 1`);
  return deleted.length;
}
