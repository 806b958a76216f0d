/**
 * Only one job-end watcher works at a time across worker processes: the one
 * holding a Postgres advisory lock on a connection of its own. Others stand
 * by and try again every tick, so when the holder dies (its connection
 * closes, the lock goes with it) another takes over within one interval.
 */
import postgres from 'postgres';

/** `pg_try_advisory_lock(classId, objectId)`: the class names this use of advisory locks. */
const lockClassId = 0x4a504a45; // "JPJE": Jobplane job events

/** A stable 31-bit number for the namespace (the lock's object id). */
function namespaceKey(namespace: string): number {
  let h = 0;
  for (const ch of namespace) h = (Math.imul(h, 31) + ch.codePointAt(0)!) | 0;
  return h & 0x7fffffff;
}

export interface LeaderLock {
  /** True while this process holds the lock (it takes it if free). */
  held(): Promise<boolean>;
  /** Releases the lock by closing its connection. */
  close(): Promise<void>;
}

export function createLeaderLock(databaseUrl: string, namespace: string): LeaderLock {
  // One connection that lives as long as the process: no idle timeout and no
  // max lifetime, which would silently drop the lock on a reconnect.
  const sql = postgres(databaseUrl, { max: 1, idle_timeout: 0, max_lifetime: null, onnotice: () => {}, connection: { application_name: 'jobplane-job-events-lock' } });
  const objectId = namespaceKey(namespace);
  return {
    async held() {
      // Checked on the connection itself: if it was re-established the new
      // session does not hold the lock, and takes it only if it is free. The
      // check avoids stacking a re-entrant lock every tick.
      const [row] = await sql<{ held: boolean }[]>`
        select case
          when exists (
            select 1 from pg_locks
            where locktype = 'advisory' and pid = pg_backend_pid() and classid = ${lockClassId}::oid and objid = ${objectId}::oid and objsubid = 2 and granted
          ) then true
          else pg_try_advisory_lock(${lockClassId}::int, ${objectId}::int)
        end as held`;
      return row?.held === true;
    },
    close: () => sql.end({ timeout: 5 }),
  };
}
