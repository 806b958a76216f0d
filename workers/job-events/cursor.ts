/** The job-end watcher's cursor in Postgres (db/schema/job-event-cursors.ts): one row per namespace. */
import { eq, sql } from 'drizzle-orm';
import type { Db } from '../../db/client.ts';
import { jobEventCursors } from '../../db/schema/index.ts';

/**
 * The namespace's cursor; on the very first tick it starts at `initial`
 * (runs that closed before the watcher ever ran are not announced).
 */
export async function readOrInitCursor(db: Db, namespace: string, initial: Date): Promise<Date> {
  await db.insert(jobEventCursors).values({ namespace, handledUntil: initial }).onConflictDoNothing();
  const [row] = await db.select().from(jobEventCursors).where(eq(jobEventCursors.namespace, namespace));
  if (!row) throw new Error(`job event cursor of ${namespace} vanished between insert and select`);
  return row.handledUntil;
}

/** Moves the cursor forward to `to` (never back: a slower, older watcher cannot undo a newer one's progress). */
export async function advanceCursor(db: Db, namespace: string, to: Date): Promise<void> {
  await db
    .update(jobEventCursors)
    .set({ handledUntil: sql`greatest(${jobEventCursors.handledUntil}, ${to.toISOString()}::timestamptz)`, updatedAt: new Date() })
    .where(eq(jobEventCursors.namespace, namespace));
}
