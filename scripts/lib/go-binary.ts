/**
 * Finds, or builds with `go install`, a binary the project runs but does not
 * ship (the Temporal server, its schema tool, the Web UI server). Resolution,
 * first match wins:
 *
 *   a. an explicit override in the environment (`spec.envVar`);
 *   b. the repo-local copy in `.tools/bin/<name>-<version>`;
 *   c. the per-user cache (`$XDG_CACHE_HOME/jobplane/bin/<name>-<version>`), so
 *      a fresh clone (and CI) reuses an earlier build;
 *   d. `go install <module>@<version>` into a private GOBIN, with a progress
 *      line every 15 s, retried with `-checklinkname=0` when an old dependency
 *      trips Go's linkname check.
 *
 * Steps b–d run under the cross-process tool lock (tool-files.ts), so parallel
 * test files and `npm start` never build the same binary twice at once.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { BIN_DIR, copyExecutable, EXE_SUFFIX, findOnPath, isExecutableFile, makeLogger, TOOLS_DIR, userCacheDir, withToolLock } from './tool-files.ts';

/** What to build and where to look for it. */
export interface GoBinarySpec {
  /** Name the project calls it by, used for cache files and messages (`temporal-server`). */
  name: string;
  /** Go package path to install (`go.temporal.io/server/cmd/server`). */
  goPackage: string;
  /** Module version, without the `v`. */
  version: string;
  /** File name `go install` writes (the last element of the package path, e.g. `server`). */
  installedAs: string;
  /** Environment variable that points at a binary to use instead. */
  envVar: string;
  /** How long the first build takes, for the progress message. */
  buildHint: string;
}

/** Thrown when no binary could be found or built; the message says what to do. */
export class GoBinaryUnavailableError extends Error {
  override name = 'GoBinaryUnavailableError';
}

const HEARTBEAT_MS = 15_000;
const pending = new Map<string, Promise<string>>();

/** Absolute path of the binary, built if needed (memoized per process, failures are not). */
export function ensureGoBinary(spec: GoBinarySpec, opts: { quiet?: boolean; log?: (line: string) => void } = {}): Promise<string> {
  const key = `${spec.name}\0${process.env[spec.envVar] ?? ''}`;
  let found = pending.get(key);
  if (!found) {
    found = resolve(spec, makeLogger(spec.name, opts));
    pending.set(key, found);
    found.catch(() => pending.delete(key));
  }
  return found;
}

/** Where the per-user cache keeps this version of the binary. */
export function cachedBinaryPath(spec: GoBinarySpec): string {
  return path.join(userCacheDir(), `${spec.name}-${spec.version}${EXE_SUFFIX}`);
}

async function resolve(spec: GoBinarySpec, log: (line: string) => void): Promise<string> {
  const explicit = process.env[spec.envVar];
  if (explicit) {
    if (await isExecutableFile(explicit)) return path.resolve(explicit);
    throw new GoBinaryUnavailableError(`${spec.envVar}=${explicit} is not an executable file`);
  }
  const local = path.join(BIN_DIR, `${spec.name}-${spec.version}${EXE_SUFFIX}`);
  if (await isExecutableFile(local)) return local;
  return await withToolLock(spec.name, log, async () => {
    if (await isExecutableFile(local)) return local; // built by whoever held the lock before us
    const cached = cachedBinaryPath(spec);
    if (await isExecutableFile(cached)) {
      await copyExecutable(cached, local);
      return local;
    }
    await build(spec, local, log);
    await copyExecutable(local, cached).catch((err: Error) => log(`could not keep a copy in ${cached}: ${err.message}`));
    return local;
  });
}

async function build(spec: GoBinarySpec, dest: string, log: (line: string) => void): Promise<void> {
  const target = `${spec.goPackage}@v${spec.version}`;
  const go = await findOnPath('go');
  if (!go) {
    throw new GoBinaryUnavailableError(
      `${spec.name} ${spec.version} is needed and not built yet: install Go >= 1.25 (it is built with \`go install ${target}\`), or set ${spec.envVar} to a binary you have`,
    );
  }
  log(`building ${spec.name} ${spec.version} with go install ${target} (${spec.buildHint})…`);
  const staging = path.join(TOOLS_DIR, `build-${spec.name}-${process.pid}`);
  await fs.rm(staging, { recursive: true, force: true });
  await fs.mkdir(staging, { recursive: true });
  try {
    let result = await goInstall(go, ['install', target], staging, spec.name, log);
    // Old dependencies that use go:linkname into the runtime fail to link on new Go releases.
    if (!result.ok && /linkname/.test(result.output)) {
      log('the linker refused a go:linkname; building again with -ldflags=-checklinkname=0');
      result = await goInstall(go, ['install', '-ldflags=-checklinkname=0', target], staging, spec.name, log);
    }
    if (!result.ok) throw new GoBinaryUnavailableError(`go install ${target} failed (${result.how}); last output:\n${result.output.split('\n').slice(-15).join('\n')}`);
    const built = path.join(staging, `${spec.installedAs}${EXE_SUFFIX}`);
    if (!(await isExecutableFile(built))) throw new GoBinaryUnavailableError(`go install ${target} produced no ${built}`);
    await fs.mkdir(BIN_DIR, { recursive: true });
    // Renamed into place: nobody ever runs a half-written binary.
    await fs.rename(built, dest);
  } finally {
    await fs.rm(staging, { recursive: true, force: true });
  }
}

function goInstall(go: string, args: string[], gobin: string, name: string, log: (line: string) => void): Promise<{ ok: boolean; output: string; how: string }> {
  return new Promise((done) => {
    const started = Date.now();
    const lines: string[] = [];
    const child = spawn(go, args, { env: { ...process.env, GOBIN: gobin }, stdio: ['ignore', 'pipe', 'pipe'] });
    const onLine = (line: string) => {
      if (lines.length < 5000) lines.push(line);
      log(line);
    };
    createInterface({ input: child.stdout }).on('line', onLine);
    createInterface({ input: child.stderr }).on('line', onLine);
    // go prints nothing while it compiles; without this a long build looks hung.
    const heartbeat = setInterval(() => log(`still building ${name} (${Math.round((Date.now() - started) / 1000)} s)…`), HEARTBEAT_MS);
    const finish = (ok: boolean, how: string) => {
      clearInterval(heartbeat);
      done({ ok, output: lines.join('\n'), how });
    };
    child.on('error', (err) => finish(false, `could not start go: ${err.message}`));
    child.on('close', (code, signal) => finish(code === 0, signal ? `killed by ${signal}` : `exit code ${code}`));
  });
}
