import { drizzle } from 'drizzle-orm/postgres-js';
import postgres from 'postgres';
import * as schema from './schema/index.ts';

/** Same casing as drizzle.config.ts: TypeScript camelCase ↔ SQL snake_case. */
export const dbCasing = 'snake_case' as const;

export type Db = ReturnType<typeof createDb>['db'];

/** Options of {@link createDb}. */
export interface CreateDbOptions {
  /** Pool size. @default 10 */
  max?: number;
  /** Application name shown in pg_stat_activity. @default 'jobplane' */
  applicationName?: string;
}

/** Creates a pooled client; call `close()` on shutdown. */
export function createDb(url: string, opts: CreateDbOptions = {}) {
  const sql = postgres(url, {
    max: opts.max ?? 10,
    onnotice: () => {},
    connection: { application_name: opts.applicationName ?? 'jobplane' },
  });
  const db = drizzle(sql, { schema, casing: dbCasing });
  return { db, sql, close: () => sql.end({ timeout: 5 }) };
}
