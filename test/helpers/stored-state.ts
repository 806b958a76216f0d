/**
 * What a refused request must not have changed: row counts of every table a
 * request can write, the changes the audit log recorded, retention and holds,
 * the stored blobs, and the files staged under the blob dir's `.tmp` (where
 * uploads wait before they are stored; a refusal empties it). Compare the
 * value before and after.
 */
import { readdirSync } from 'node:fs';
import { sql } from 'drizzle-orm';
import type { Db } from '../../db/client.ts';

export async function storedState(db: Db, blobDir: string): Promise<Record<string, number>> {
  const [row] = await db.execute<Record<string, number>>(sql`
    select (select count(*) from jobs)::int as jobs,
           (select count(*) from jobs where first_run_id is null)::int as claims,
           (select count(*) from documents)::int as documents,
           (select count(*) from batch_inputs)::int as batch_inputs,
           (select count(*) from api_keys)::int as api_keys,
           (select count(*) from tenants)::int as tenants,
           (select count(*) from webhook_subscriptions)::int as subscriptions,
           (select count(*) from audit_events where outcome = 'succeeded')::int as changes,
           (select coalesce(sum(coalesce(document_retention_days, -1)), 0) from tenants)::int as retention,
           (select count(*) filter (where legal_hold) from documents)::int as holds`);
  const files = readdirSync(blobDir, { recursive: true, withFileTypes: true }).filter((e) => e.isFile());
  const staged = files.filter((e) => e.parentPath.includes('.tmp')).length;
  return { ...row, blobs: files.length - staged, staged };
}
