/**
 * Creates Temporal's two databases and brings their schemas to the server's
 * version with the server's own schema tool (`temporal-sql-tool`), exactly
 * as an operator does for a production cluster. Idempotent, so it runs on
 * every start: the database and the version table are created only when
 * missing, and `update-schema` applies only the versions a database lacks
 * (after an upgrade of the server binary, the new ones).
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import postgres from 'postgres';
import type { ClusterDatabases } from './config.ts';

const execFileAsync = promisify(execFile);

/** Thrown when the schema tool fails for a reason other than "already there"; carries its output. */
export class ClusterSchemaError extends Error {
  override name = 'ClusterSchemaError';
}

export async function setUpClusterSchemas(sqlTool: string, schemaDir: string, db: ClusterDatabases): Promise<void> {
  for (const [database, folder] of [
    [db.persistence, 'temporal'],
    [db.visibility, 'visibility'],
  ] as const) {
    await ensureDatabase(db, database);
    const run = (args: string[]) => runSqlTool(sqlTool, db, database, args);
    if (!(await hasVersionTable(db, database))) await run(['setup-schema', '-v', '0.0']);
    await run(['update-schema', '-d', path.join(schemaDir, folder, 'versioned')]);
  }
}

async function withAdmin<T>(db: ClusterDatabases, database: string, fn: (sql: postgres.Sql) => Promise<T>): Promise<T> {
  const sql = postgres({ host: db.host, port: db.port, user: db.user, password: db.password, database, max: 1, onnotice: () => {} });
  try {
    return await fn(sql);
  } finally {
    await sql.end();
  }
}

/** `create-database` of the tool fails on an existing database; ask Postgres first instead of parsing its error. */
async function ensureDatabase(db: ClusterDatabases, database: string): Promise<void> {
  await withAdmin(db, 'postgres', async (sql) => {
    const [row] = await sql`select 1 as found from pg_database where datname = ${database}`;
    if (!row) await sql.unsafe(`create database "${database.replace(/"/g, '')}"`);
  });
}

async function hasVersionTable(db: ClusterDatabases, database: string): Promise<boolean> {
  return await withAdmin(db, database, async (sql) => {
    const [row] = await sql`select to_regclass('public.schema_version') is not null as found`;
    return Boolean(row?.found);
  });
}

async function runSqlTool(sqlTool: string, db: ClusterDatabases, database: string, args: string[]): Promise<void> {
  const common = ['--plugin', 'postgres12', '--endpoint', db.host, '--port', String(db.port), '--user', db.user, '--database', database];
  try {
    // The password goes through the environment, not the command line other users can read in `ps`.
    await execFileAsync(sqlTool, [...common, ...args], { env: { ...process.env, SQL_PASSWORD: db.password }, timeout: 120_000 });
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; message: string };
    throw new ClusterSchemaError(`temporal-sql-tool ${args.join(' ')} on ${database} failed: ${e.message}\n${(e.stderr ?? '') + (e.stdout ?? '')}`.trim());
  }
}

/** Whether a server process has written the cluster's metadata record (done once, by the first process to start). */
export async function hasClusterMetadata(db: ClusterDatabases): Promise<boolean> {
  return await withAdmin(db, db.persistence, async (sql) => {
    const [row] = await sql`select count(*)::int as n from cluster_metadata_info`;
    return (row?.n ?? 0) > 0;
  });
}
