/**
 * Scratch databases of benchmark runs are named `jp_bench_<epoch ms>_<hex>`,
 * so a later run can tell a leftover from a database a live run still uses.
 */
import { randomBytes } from 'node:crypto';
import postgres from 'postgres';
import { createScratchDatabase } from '../scripts/lib/postgres.ts';

const namePattern = /^jp_bench_(\d+)_[0-9a-f]+$/;
/** Far longer than any bounded run (BENCH_TIMEOUT_MS), so a live run's database is never touched. */
const staleAfterMs = 6 * 60 * 60_000;

export function createBenchDatabase(baseUrl: string): ReturnType<typeof createScratchDatabase> {
  return createScratchDatabase(baseUrl, `jp_bench_${Date.now()}_${randomBytes(3).toString('hex')}`);
}

/**
 * A run killed outright cannot drop its database (tsx SIGKILLs a child that is
 * slow to acknowledge Ctrl-C), so each run sweeps what earlier runs left.
 */
export async function dropStaleBenchDatabases(baseUrl: string): Promise<string[]> {
  const sql = postgres(baseUrl, { max: 1, onnotice: () => {} });
  try {
    const rows = await sql<{ datname: string }[]>`select datname from pg_database where datname like 'jp\\_bench\\_%'`;
    const stale = rows
      .map((r) => r.datname)
      .filter((name) => Date.now() - Number(namePattern.exec(name)?.[1] ?? Date.now()) > staleAfterMs);
    for (const name of stale) await sql.unsafe(`drop database if exists "${name}" with (force)`);
    return stale;
  } finally {
    await sql.end({ timeout: 5 });
  }
}
