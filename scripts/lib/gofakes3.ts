/**
 * A real S3-compatible server for the tests of the S3 blob store:
 * `gofakes3` (github.com/johannesboyne/gofakes3, pure Go). Found or built
 * like the other tools (scripts/lib/tool-files.ts): `$GOFAKES3`; `gofakes3`
 * on PATH; `.tools/bin/gofakes3`; the per-user cache
 * (`$XDG_CACHE_HOME/jobplane/bin/gofakes3-<version>`); `go install …@v<version>`
 * (about 15 s the first time), under the cross-process tool lock.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { BIN_DIR, copyExecutable, EXE_SUFFIX as EXE, findOnPath, isExecutableFile, makeLogger, TOOLS_DIR, userCacheDir, withToolLock } from './tool-files.ts';

export const GOFAKES3_VERSION = '1.2.0';
const MODULE = `github.com/johannesboyne/gofakes3/cmd/gofakes3@v${GOFAKES3_VERSION}`;

let pending: Promise<string> | undefined;

/** Absolute path of a gofakes3 binary, built if needed (memoized per process). */
export function ensureGofakes3(opts: { quiet?: boolean; log?: (line: string) => void } = {}): Promise<string> {
  pending ??= resolve(makeLogger('gofakes3', opts));
  pending.catch(() => (pending = undefined));
  return pending;
}

async function resolve(log: (line: string) => void): Promise<string> {
  if (process.env.GOFAKES3) return path.resolve(process.env.GOFAKES3);
  const onPath = await findOnPath('gofakes3');
  if (onPath) return onPath;
  const local = path.join(BIN_DIR, `gofakes3${EXE}`);
  if (await isExecutableFile(local)) return local;
  return await withToolLock('gofakes3', log, async () => {
    if (await isExecutableFile(local)) return local;
    const cached = path.join(userCacheDir(), `gofakes3-${GOFAKES3_VERSION}${EXE}`);
    if (await isExecutableFile(cached)) {
      await copyExecutable(cached, local);
      return local;
    }
    const go = await findOnPath('go');
    if (!go) throw new Error(`gofakes3 is needed for the S3 blob store tests: install Go >= 1.21 (they build it with go install ${MODULE}) or set GOFAKES3`);
    log(`building gofakes3 ${GOFAKES3_VERSION} with go install…`);
    const gobin = path.join(TOOLS_DIR, `build-gofakes3-${process.pid}`);
    await fs.mkdir(gobin, { recursive: true });
    try {
      const output = await new Promise<string>((done, fail) => {
        let out = '';
        const child = spawn(go, ['install', MODULE], { env: { ...process.env, GOBIN: gobin }, stdio: ['ignore', 'pipe', 'pipe'] });
        child.stdout.on('data', (d: Buffer) => (out += d.toString()));
        child.stderr.on('data', (d: Buffer) => (out += d.toString()));
        child.on('error', fail);
        child.on('close', (code) => (code === 0 ? done(out) : fail(new Error(`go install ${MODULE} failed (${code}):\n${out.slice(-2000)}`))));
      });
      if (output.trim()) log(output.trim().split('\n').at(-1)!);
      await fs.mkdir(BIN_DIR, { recursive: true });
      await fs.rename(path.join(gobin, `gofakes3${EXE}`), local);
      await copyExecutable(local, cached).catch((err: Error) => log(`could not cache a copy in ${cached}: ${err.message}`));
      return local;
    } finally {
      await fs.rm(gobin, { recursive: true, force: true });
    }
  });
}

export interface FakeS3 {
  endpoint: string;
  bucket: string;
  process: ChildProcess;
  stop(): Promise<void>;
}

/** Starts an in-memory gofakes3 on a free loopback port with `bucket` created. */
export async function startFakeS3(binary: string, bucket: string): Promise<FakeS3> {
  const port = await new Promise<number>((done, fail) => {
    const srv = net.createServer();
    srv.on('error', fail);
    srv.listen(0, '127.0.0.1', () => {
      const p = (srv.address() as net.AddressInfo).port;
      srv.close(() => done(p));
    });
  });
  const child = spawn(binary, ['-backend', 'memory', '-host', `127.0.0.1:${port}`, '-initialbucket', bucket, '-quiet'], { stdio: 'ignore' });
  const exited = new Promise<void>((done) => child.once('exit', () => done()));
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`gofakes3 exited with ${child.exitCode}`);
    const up = await new Promise<boolean>((done) => {
      const socket = net.connect(port, '127.0.0.1', () => (socket.end(), done(true)));
      socket.on('error', () => done(false));
    });
    if (up) break;
    if (Date.now() > deadline) throw new Error('gofakes3 did not listen within 30 s');
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    endpoint: `http://127.0.0.1:${port}`,
    bucket,
    process: child,
    async stop() {
      if (child.exitCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}
