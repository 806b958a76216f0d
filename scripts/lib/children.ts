/** Child processes of `npm start`, with prefixed output and an orderly stop. */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';

export interface Child {
  name: string;
  process: ChildProcess;
  /** Resolves when the child printed a line matching `pattern`; rejects if it exits first. */
  waitForLine(pattern: RegExp, timeoutMs: number): Promise<void>;
  /** SIGTERM, SIGKILL after `graceMs`; resolves on exit. */
  stop(graceMs?: number): Promise<void>;
}

const alive = new Set<ChildProcess>();
// Detached children outlive a parent that dies without stopping them (an EPIPE on a closed terminal, say): never leave one behind.
process.on('exit', () => {
  for (const child of alive) child.kill('SIGKILL');
});

export function spawnChild(name: string, command: string, args: string[], env: NodeJS.ProcessEnv): Child {
  // Detached: Ctrl-C reaches only `npm start`, which then stops children in order (API, workers, Temporal, Postgres).
  const child = spawn(command, args, { env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  const listeners = new Set<(line: string) => void>();
  for (const stream of [child.stdout!, child.stderr!]) {
    createInterface({ input: stream }).on('line', (line) => {
      console.log(`[${name}] ${line}`);
      for (const l of listeners) l(line);
    });
  }
  alive.add(child);
  const exited = new Promise<void>((resolve) => child.once('exit', () => (alive.delete(child), resolve())));
  return {
    name,
    process: child,
    waitForLine: (pattern, timeoutMs) =>
      new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`${name} not ready after ${timeoutMs} ms`)), timeoutMs);
        const onLine = (line: string) => {
          if (pattern.test(line)) {
            clearTimeout(timer);
            listeners.delete(onLine);
            resolve();
          }
        };
        listeners.add(onLine);
        void exited.then(() => {
          clearTimeout(timer);
          reject(new Error(`${name} exited with code ${child.exitCode}`));
        });
      }),
    async stop(graceMs = 35_000) {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    },
  };
}
