/**
 * Starts `temporal server start-dev` as a child process and waits until its
 * frontend answers. Used by `npm start`, the tests and the benchmarks, so all
 * three run the same server with the same search attributes and settings.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { freePort } from '../../runtime/host-port.ts';
import { Connection } from '@temporalio/client';
import { searchAttributeFlags } from '../../contracts/search-attributes.ts';

export interface DevServerOptions {
  /** Path of the `temporal` binary (see `ensureTool`). */
  cliPath: string;
  /** gRPC port. @default a free port */
  port?: number;
  /** Web UI port; omit for a headless server. */
  uiPort?: number;
  /** SQLite file for persistent state; omit for in-memory. */
  dbFile?: string;
  /**
   * SQLite `synchronous` of that file: `normal` (WAL: fsync at checkpoints
   * only, so the last commits can be lost on power loss, not on a crash of
   * the process) or `full` (fsync on every commit: durable like Postgres with
   * `synchronous_commit=on`; what benchmarks compare). @default 'normal'
   */
  sqliteSynchronous?: 'normal' | 'full';
  /** Extra `--dynamic-config-value` pairs. */
  dynamicConfig?: Record<string, string | number | boolean>;
  /** Codec endpoint the Web UI calls to decode payloads. */
  uiCodecEndpoint?: string;
  /** Where server output goes. @default 'ignore' */
  stdio?: 'inherit' | 'ignore';
  /** Own process group, so a terminal's Ctrl-C reaches only the parent, which stops it in order. @default false */
  detached?: boolean;
  /** How long to wait for the frontend. @default 60000 */
  readyTimeoutMs?: number;
}

export interface DevServer {
  address: string;
  port: number;
  process: ChildProcess;
  /** SIGTERM, then SIGKILL after 10 s; resolves when the process has exited. */
  stop(): Promise<void>;
}

/** Dynamic config every Jobplane dev server runs with. */
export const defaultDynamicConfig: Record<string, string | number | boolean> = {
  // Priority keys and per-tenant fairness (every job carries its tenant as fairness key).
  'matching.useNewMatcher': true,
  'matching.enableFairness': true,
};

export function devServerArgs(opts: DevServerOptions & { port: number }): string[] {
  const args = ['server', 'start-dev', '--ip', '127.0.0.1', '--port', String(opts.port), '--log-level', 'warn'];
  args.push(...(opts.uiPort ? ['--ui-port', String(opts.uiPort)] : ['--headless']));
  if (opts.dbFile) {
    args.push('--db-filename', opts.dbFile, '--sqlite-pragma', 'journal_mode=wal', '--sqlite-pragma', `synchronous=${opts.sqliteSynchronous ?? 'normal'}`);
  }
  if (opts.uiCodecEndpoint) args.push('--ui-codec-endpoint', opts.uiCodecEndpoint);
  args.push(...searchAttributeFlags());
  for (const [k, v] of Object.entries({ ...defaultDynamicConfig, ...opts.dynamicConfig })) {
    args.push('--dynamic-config-value', `${k}=${JSON.stringify(v)}`);
  }
  return args;
}

/** How many times a server that dies during start-up is started again on a fresh port (only when no port was asked for). */
const startAttempts = 3;

/**
 * Starts the dev server and waits for its frontend. Without a fixed `port`, a
 * server that exits during start-up is tried again on a fresh port: the port
 * `freePort()` found can be taken by another process (another test file's
 * server binding its internal ports) before this one binds it.
 */
export async function startDevServer(opts: DevServerOptions): Promise<DevServer> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startDevServerOnce(opts);
    } catch (err) {
      if (opts.port !== undefined || attempt >= startAttempts || !(err instanceof DevServerExitedError)) throw err;
    }
  }
}

/** Thrown when the server process exits before its frontend answered; carries the end of its output. */
export class DevServerExitedError extends Error {
  override name = 'DevServerExitedError';
}

async function startDevServerOnce(opts: DevServerOptions): Promise<DevServer> {
  const port = opts.port ?? (await freePort());
  const inherit = opts.stdio === 'inherit';
  const child = spawn(opts.cliPath, devServerArgs({ ...opts, port }), {
    stdio: ['ignore', inherit ? 'inherit' : 'ignore', inherit ? 'inherit' : 'pipe'],
    detached: opts.detached ?? false,
  });
  // Keep the end of stderr, so a server that dies during start-up says why.
  let stderrTail = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderrTail = (stderrTail + chunk.toString()).slice(-4000);
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const address = `127.0.0.1:${port}`;
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  };
  try {
    await waitForFrontend(address, opts.readyTimeoutMs ?? 60_000, () => child.exitCode !== null || child.signalCode !== null);
  } catch (err) {
    await stop();
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new DevServerExitedError(`${(err as Error).message}; its last output:\n${stderrTail.trim() || '(none)'}`);
    }
    throw err;
  }
  // From here on the pipe is only drained, never read.
  child.stderr?.removeAllListeners('data').resume();
  return { address, port, process: child, stop };
}

/** Polls until the frontend answers a namespace describe (it serves the default namespace only once ready). */
export async function waitForFrontend(address: string, timeoutMs: number, died: () => boolean = () => false): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    if (died()) throw new Error(`temporal dev server exited before it was ready (${address})`);
    try {
      const conn = await Connection.connect({ address, connectTimeout: 1000 });
      try {
        await conn.workflowService.describeNamespace({ namespace: 'default' });
        return;
      } finally {
        await conn.close();
      }
    } catch (err) {
      lastError = err;
      await new Promise((r) => setTimeout(r, 250));
    }
  }
  throw new Error(`temporal dev server at ${address} not ready after ${timeoutMs} ms: ${(lastError as Error)?.message}`);
}
