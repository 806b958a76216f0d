/**
 * Finds, or provisions, the Temporal command-line tools the project shells out to.
 *
 * Resolution order for each tool (the first candidate that runs wins):
 *   a. an explicit override in the environment (`TEMPORAL_CLI` / `TCTL_CLI`);
 *   b. the binary on PATH;
 *   c. the repo-local copy in `.tools/bin`;
 *   d. a per-user cache (`$XDG_CACHE_HOME/jobplane/bin`), so fresh clones skip the build;
 *   e. the official release download (temporal only);
 *   f. `go install` from source.
 * Steps c–f run under a cross-process lock so parallel test workers never build at once.
 */
import { execFile, spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { promisify } from 'node:util';
import { BIN_DIR, copyExecutable, EXE_SUFFIX, findOnPath, isExecutableFile, makeLogger, REPO_ROOT, TOOLS_DIR, userCacheDir, withToolLock } from './tool-files.ts';

const execFileAsync = promisify(execFile);

export type ToolName = 'temporal' | 'tctl';

/** Options for {@link ensureTool}. */
export interface EnsureToolOptions {
  /** Suppress all progress output (fallbacks taken, build output, heartbeats). Failures still throw. */
  quiet?: boolean;
  /** Receives each progress line, already prefixed with `[provision <tool>] `. Defaults to stderr so stdout stays clean. */
  log?: (line: string) => void;
}

/** Thrown when no way of getting a working binary succeeded; `message` tells the user how to fix it. */
export class ToolUnavailableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ToolUnavailableError';
  }
}

interface ToolSpec {
  /** The version we provision (download, go install, cache file name). */
  readonly version: string;
  /** Oldest version accepted from anywhere; undefined = any version that runs. */
  readonly minVersion: string | undefined;
  readonly envVar: string;
  /** Argument lists tried in turn to make the binary print its version. */
  readonly versionArgs: readonly (readonly string[])[];
  readonly goPackage: string;
  /** Release builds stamp the version via ldflags; without it `go install` yields "0.0.0-DEV". */
  readonly goLdflags: string;
  readonly downloadable: boolean;
  readonly installHint: string;
}

const TOOL_SPECS = {
  temporal: {
    version: '1.5.1',
    minVersion: '1.5.0',
    envVar: 'TEMPORAL_CLI',
    versionArgs: [['--version']],
    goPackage: 'github.com/temporalio/cli/cmd/temporal',
    goLdflags: '-s -w -X github.com/temporalio/cli/temporalcli.Version=1.5.1',
    downloadable: true,
    installHint:
      'install the Temporal CLI >= 1.5.0 (https://docs.temporal.io/cli#install, e.g. `brew install temporal`) and put `temporal` on your PATH',
  },
  tctl: {
    version: '1.18.4',
    minVersion: undefined,
    envVar: 'TCTL_CLI',
    // tctl is a urfave/cli app: `--version` and its alias `-v` both print "tctl version 1.18.4".
    versionArgs: [['--version'], ['-v']],
    goPackage: 'github.com/temporalio/tctl/cmd/tctl',
    goLdflags: '-s -w',
    downloadable: false,
    installHint:
      'install tctl 1.18.4 (https://github.com/temporalio/tctl/releases, or `brew install tctl`) and put `tctl` on your PATH',
  },
} as const satisfies Record<ToolName, ToolSpec>;


const PROBE_TIMEOUT_MS = 10_000;
const DOWNLOAD_CONNECT_TIMEOUT_MS = 5_000;
const DOWNLOAD_TOTAL_TIMEOUT_MS = 5 * 60_000;
const EXTRACT_TIMEOUT_MS = 2 * 60_000;
const BUILD_HEARTBEAT_MS = 15_000;
const MAX_KEPT_BUILD_LINES = 5_000;

interface Found {
  path: string;
  version: string;
}

type Probe = { ok: true; version: string } | { ok: false; reason: string };

interface Ctx {
  name: ToolName;
  spec: ToolSpec;
  log: (line: string) => void;
  /** Human-readable record of every source that did not work, for the final error. */
  tried: string[];
}

// Keyed by the override too, so setting TEMPORAL_CLI later in the same process is honoured.
const resolutions = new Map<string, Promise<string>>();

/**
 * Returns the absolute path of a working `name` binary, provisioning it if needed.
 * Cheap after the first call in a process (memoized) and across processes (`.tools/bin` is checked first).
 */
export async function ensureTool(name: ToolName, opts: EnsureToolOptions = {}): Promise<string> {
  if (!Object.hasOwn(TOOL_SPECS, name)) throw new TypeError(`unknown tool: ${String(name)}`);
  const spec: ToolSpec = TOOL_SPECS[name];
  const key = `${name}\0${process.env[spec.envVar] ?? ''}`;
  let pending = resolutions.get(key);
  if (!pending) {
    pending = resolveTool({ name, spec, log: makeLogger(name, opts), tried: [] });
    resolutions.set(key, pending);
    // Failures are not remembered: the user may fix things and call again.
    pending.catch(() => resolutions.delete(key));
  }
  return pending;
}

/** Runs `binary --version` and returns the x.y.z it reports, or undefined if it does not run. */
export async function readToolVersion(name: ToolName, binary: string): Promise<string | undefined> {
  const probe = await probeVersion(binary, TOOL_SPECS[name]);
  return probe.ok ? probe.version : undefined;
}

async function resolveTool(ctx: Ctx): Promise<string> {
  const explicit = await fromEnvVar(ctx);
  if (explicit) return explicit;

  const found =
    (await fromPath(ctx)) ?? (await fromLocalBin(ctx)) ?? (await withToolLock(ctx.name, ctx.log, () => provisionLocked(ctx)));
  if (!found) throw new ToolUnavailableError(howToFix(ctx));
  await rememberInUserCache(ctx, found);
  return found.path;
}

/** Steps c–f, serialized across processes because they write into `.tools/bin`. */
async function provisionLocked(ctx: Ctx): Promise<Found | undefined> {
  // Whoever held the lock before us has probably just finished provisioning.
  const local = await checkCandidate(localBinPath(ctx.name), ctx.spec);
  if (local.ok) return { path: localBinPath(ctx.name), version: local.version };
  return (await fromUserCache(ctx)) ?? (await fromDownload(ctx)) ?? (await fromGoInstall(ctx));
}

// ---------------------------------------------------------------------------------------------
// Sources

async function fromEnvVar(ctx: Ctx): Promise<string | undefined> {
  const { name, spec } = ctx;
  const raw = process.env[spec.envVar];
  if (!raw) return undefined;
  const binary = path.resolve(raw);
  // An explicit override that does not work is a configuration mistake: say so instead of
  // silently falling back to some other binary.
  if (!(await isExecutableFile(binary))) {
    throw new ToolUnavailableError(
      `${spec.envVar} is set to "${raw}", but that is not an executable file.\n` +
        `Point ${spec.envVar} at a working ${name} binary, or unset it to let the project find or build one.`,
    );
  }
  const probe = await checkCandidate(binary, spec);
  if (!probe.ok) {
    throw new ToolUnavailableError(
      `${spec.envVar} is set to "${raw}", but it is not usable: ${probe.reason}.\n` +
        `Point ${spec.envVar} at a working ${name} binary, or unset it to let the project find or build one.`,
    );
  }
  return binary;
}

async function fromPath(ctx: Ctx): Promise<Found | undefined> {
  const binary = await findOnPath(ctx.name);
  if (!binary) {
    ctx.tried.push(`PATH: no \`${ctx.name}\` found`);
    return undefined;
  }
  return acceptCandidate(ctx, binary, 'PATH');
}

async function fromLocalBin(ctx: Ctx): Promise<Found | undefined> {
  const binary = localBinPath(ctx.name);
  if (!(await isExecutableFile(binary))) {
    ctx.tried.push(`${relativeToRepo(binary)}: not present`);
    return undefined;
  }
  return acceptCandidate(ctx, binary, relativeToRepo(binary));
}

async function fromUserCache(ctx: Ctx): Promise<Found | undefined> {
  const cached = userCachePath(ctx.name, ctx.spec);
  if (!(await isExecutableFile(cached))) {
    ctx.tried.push(`user cache ${cached}: not present`);
    return undefined;
  }
  const found = await acceptCandidate(ctx, cached, 'user cache');
  if (!found) return undefined;
  // Use a repo-local copy so the repo keeps working even if the cache is cleaned.
  const local = localBinPath(ctx.name);
  await copyExecutable(cached, local);
  ctx.log(`copied ${cached} to ${relativeToRepo(local)}`);
  return { path: local, version: found.version };
}

async function fromDownload(ctx: Ctx): Promise<Found | undefined> {
  if (!ctx.spec.downloadable) return undefined;
  try {
    return await downloadRelease(ctx);
  } catch (err) {
    const reason = describeError(err);
    ctx.tried.push(`download of the official release: ${reason}`);
    ctx.log(`download unavailable: ${reason}`);
    return undefined;
  }
}

async function fromGoInstall(ctx: Ctx): Promise<Found | undefined> {
  const { name, spec } = ctx;
  const target = `${spec.goPackage}@v${spec.version}`;
  const go = await findOnPath('go');
  if (!go) {
    ctx.tried.push(`go install ${target}: \`go\` is not on PATH`);
    ctx.log('go is not on PATH, cannot build from source');
    return undefined;
  }

  ctx.log(`building ${name} ${spec.version} from source with go install (the first build takes several minutes)…`);
  let build = await runGoInstall(ctx, go, spec.goLdflags, target);
  if (!build.ok && build.output.includes('linkname')) {
    // Newer Go toolchains refuse some go:linkname uses in older dependencies unless told not to check.
    ctx.log('build failed on a go:linkname check; retrying with -checklinkname=0');
    build = await runGoInstall(ctx, go, `${spec.goLdflags} -checklinkname=0`, target);
  }
  if (!build.ok) {
    ctx.tried.push(`go install ${target}: ${build.summary}`);
    return undefined;
  }
  return acceptCandidate(ctx, localBinPath(name), `go install ${target}`);
}

// ---------------------------------------------------------------------------------------------
// Download (temporal only)

const RELEASE_PLATFORMS: Partial<Record<NodeJS.Platform, string>> = {
  linux: 'linux',
  darwin: 'darwin',
  win32: 'windows',
};
const RELEASE_ARCHS: Partial<Record<string, string>> = { x64: 'amd64', arm64: 'arm64' };

async function downloadRelease(ctx: Ctx): Promise<Found> {
  const platform = RELEASE_PLATFORMS[process.platform];
  const arch = RELEASE_ARCHS[process.arch];
  if (!platform || !arch) throw new Error(`no release build for ${process.platform}/${process.arch}`);
  const url = `https://temporal.download/cli/archive/v${ctx.spec.version}?platform=${platform}&arch=${arch}`;

  const archive = await fetchWithConnectTimeout(url);
  ctx.log(`downloaded ${url} (${Math.round(archive.length / 1e6)} MB)`);
  await fs.mkdir(TOOLS_DIR, { recursive: true });
  const workDir = await fs.mkdtemp(path.join(TOOLS_DIR, `download-${ctx.name}-`));
  try {
    const archivePath = path.join(workDir, platform === 'windows' ? 'archive.zip' : 'archive.tar.gz');
    await fs.writeFile(archivePath, archive);
    const tarFlags = platform === 'windows' ? '-xf' : '-xzf'; // Windows' bsdtar reads the zip itself
    await execFileAsync('tar', [tarFlags, archivePath, '-C', workDir], { timeout: EXTRACT_TIMEOUT_MS });
    const extracted = await findFileNamed(workDir, `${ctx.name}${EXE_SUFFIX}`);
    if (!extracted) throw new Error(`the archive from ${url} has no ${ctx.name}${EXE_SUFFIX}`);
    const probe = await checkCandidate(extracted, ctx.spec);
    if (!probe.ok) throw new Error(probe.reason);
    await copyExecutable(extracted, localBinPath(ctx.name));
    return { path: localBinPath(ctx.name), version: probe.version };
  } finally {
    await fs.rm(workDir, { recursive: true, force: true });
  }
}

/** Gives up quickly when the host is unreachable, but allows a slow body once the server answered. */
async function fetchWithConnectTimeout(url: string): Promise<Buffer> {
  const connect = new AbortController();
  const timer = setTimeout(
    () => connect.abort(new Error(`no response within ${DOWNLOAD_CONNECT_TIMEOUT_MS / 1000} s`)),
    DOWNLOAD_CONNECT_TIMEOUT_MS,
  );
  try {
    const signal = AbortSignal.any([connect.signal, AbortSignal.timeout(DOWNLOAD_TOTAL_TIMEOUT_MS)]);
    const response = await fetch(url, { signal });
    clearTimeout(timer);
    if (!response.ok) throw new Error(`HTTP ${response.status} ${response.statusText} from ${url}`);
    return Buffer.from(await response.arrayBuffer());
  } finally {
    clearTimeout(timer);
  }
}

async function findFileNamed(dir: string, fileName: string): Promise<string | undefined> {
  const entries = await fs.readdir(dir, { recursive: true });
  const match = entries.find((entry) => path.basename(entry) === fileName);
  return match === undefined ? undefined : path.join(dir, match);
}

// ---------------------------------------------------------------------------------------------
// go install

interface BuildResult {
  ok: boolean;
  output: string;
  summary: string;
}

/**
 * Builds into a private GOBIN and then renames into `.tools/bin`: go would otherwise rewrite
 * the binary in place, which fails with ETXTBSY while someone runs it and lets lock-free
 * readers see a half-written file.
 */
async function runGoInstall(ctx: Ctx, go: string, ldflags: string, target: string): Promise<BuildResult> {
  const stagingBin = path.join(TOOLS_DIR, `build-${ctx.name}`);
  await fs.rm(stagingBin, { recursive: true, force: true });
  await fs.mkdir(stagingBin, { recursive: true });
  try {
    const result = await spawnGoInstall(ctx, go, ['install', `-ldflags=${ldflags}`, target], stagingBin);
    if (!result.ok) return result;
    const built = path.join(stagingBin, `${ctx.name}${EXE_SUFFIX}`);
    if (!(await isExecutableFile(built))) return { ...result, ok: false, summary: `go produced no ${built}` };
    await fs.mkdir(BIN_DIR, { recursive: true });
    await fs.rename(built, localBinPath(ctx.name));
    return result;
  } finally {
    await fs.rm(stagingBin, { recursive: true, force: true });
  }
}

function spawnGoInstall(ctx: Ctx, go: string, args: string[], gobin: string): Promise<BuildResult> {
  return new Promise((resolve) => {
    const started = Date.now();
    const lines: string[] = [];
    const child = spawn(go, args, {
      env: { ...process.env, GOBIN: gobin },
      stdio: ['ignore', 'pipe', 'pipe'],
      windowsHide: true,
    });
    const onLine = (line: string): void => {
      if (lines.length < MAX_KEPT_BUILD_LINES) lines.push(line);
      ctx.log(line);
    };
    createInterface({ input: child.stdout }).on('line', onLine);
    createInterface({ input: child.stderr }).on('line', onLine);
    // go prints nothing while compiling; without a heartbeat a multi-minute build looks hung.
    const heartbeat = setInterval(() => {
      ctx.log(`still building ${ctx.name} (${Math.round((Date.now() - started) / 1000)}s)…`);
    }, BUILD_HEARTBEAT_MS);

    const finish = (ok: boolean, how: string): void => {
      clearInterval(heartbeat);
      const output = lines.join('\n');
      const tail = lines.slice(-10).map((l) => `      ${l}`).join('\n');
      resolve({ ok, output, summary: tail ? `${how}; last output:\n${tail}` : how });
    };
    child.on('error', (err) => finish(false, `could not start go: ${err.message}`));
    child.on('close', (code, signal) => {
      if (code === 0) finish(true, 'ok');
      else finish(false, signal ? `killed by ${signal}` : `exited with code ${code}`);
    });
  });
}

// ---------------------------------------------------------------------------------------------
// Candidate checks

/** Probes a candidate and logs why it is skipped; undefined = not usable. */
async function acceptCandidate(ctx: Ctx, binary: string, label: string): Promise<Found | undefined> {
  const probe = await checkCandidate(binary, ctx.spec);
  if (probe.ok) return { path: binary, version: probe.version };
  ctx.tried.push(`${label}: ${probe.reason}`);
  ctx.log(`ignoring ${binary}: ${probe.reason}`);
  return undefined;
}

async function checkCandidate(binary: string, spec: ToolSpec): Promise<Probe> {
  if (!(await isExecutableFile(binary))) return { ok: false, reason: `${binary} is not an executable file` };
  const probe = await probeVersion(binary, spec);
  if (!probe.ok) return probe;
  if (spec.minVersion && compareVersions(probe.version, spec.minVersion) < 0) {
    return { ok: false, reason: `${binary} reports version ${probe.version}, need >= ${spec.minVersion}` };
  }
  return probe;
}

async function probeVersion(binary: string, spec: ToolSpec): Promise<Probe> {
  let reason = 'no version flag worked';
  for (const args of spec.versionArgs) {
    const command = `${path.basename(binary)} ${args.join(' ')}`;
    try {
      const { stdout, stderr } = await execFileAsync(binary, [...args], {
        timeout: PROBE_TIMEOUT_MS,
        windowsHide: true,
      });
      const version = parseVersion(`${stdout}\n${stderr}`);
      if (version) return { ok: true, version };
      reason = `\`${command}\` printed no version`;
    } catch (err) {
      reason = `\`${command}\` failed: ${describeExecFailure(err)}`;
    }
  }
  return { ok: false, reason };
}

/** Parses "temporal version 1.5.1 (Server 1.29.1, UI 2.x)" or "tctl version 1.18.4". */
function parseVersion(output: string): string | undefined {
  return /\bversion\s+v?(\d+\.\d+\.\d+)/i.exec(output)?.[1];
}

function compareVersions(a: string, b: string): number {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < 3; i++) {
    const diff = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (diff !== 0) return diff;
  }
  return 0;
}

// ---------------------------------------------------------------------------------------------
// Per-user cache

function userCachePath(name: ToolName, spec: ToolSpec): string {
  return path.join(userCacheDir(), `${name}-${spec.version}${EXE_SUFFIX}`);
}

/** Keeps a copy outside the repo so the next fresh clone does not rebuild. Best effort. */
async function rememberInUserCache(ctx: Ctx, found: Found): Promise<void> {
  // The cache file name promises the pinned version; a different one from PATH must not claim it.
  if (found.version !== ctx.spec.version) return;
  const cached = userCachePath(ctx.name, ctx.spec);
  if (path.resolve(found.path) === cached || (await isExecutableFile(cached))) return;
  try {
    await copyExecutable(found.path, cached);
    ctx.log(`cached a copy in ${cached}`);
  } catch (err) {
    ctx.log(`could not cache a copy in ${cached}: ${describeError(err)}`);
  }
}

// ---------------------------------------------------------------------------------------------
// Helpers

function localBinPath(name: ToolName): string {
  return path.join(BIN_DIR, `${name}${EXE_SUFFIX}`);
}

function relativeToRepo(file: string): string {
  return path.relative(REPO_ROOT, file) || file;
}

function howToFix(ctx: Ctx): string {
  const { name, spec } = ctx;
  const wanted = spec.minVersion ? ` >= ${spec.minVersion}` : '';
  return [
    `Could not find or provision the ${name} CLI${wanted}.`,
    '',
    'Tried:',
    `  - ${spec.envVar}: not set`,
    ...ctx.tried.map((attempt) => `  - ${attempt}`),
    '',
    'To fix, do one of:',
    `  - ${spec.installHint}`,
    `  - set ${spec.envVar}=/absolute/path/to/${name}`,
    `  - install Go >= 1.25 (https://go.dev/dl/) and run \`npm run provision\` again; it builds ${name} ${spec.version} into .tools/bin with`,
    `      go install ${spec.goPackage}@v${spec.version}`,
  ].join('\n');
}

function describeError(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  // fetch() hides the useful part (ENOTFOUND, ECONNREFUSED…) in `cause`.
  const cause = err.cause instanceof Error ? ` (${err.cause.message})` : '';
  return `${err.message}${cause}`;
}

/** execFile's own message repeats the whole command line and stderr; keep the gist. */
function describeExecFailure(err: unknown): string {
  const failure = (typeof err === 'object' && err !== null ? err : {}) as {
    code?: unknown;
    killed?: unknown;
    stderr?: unknown;
  };
  if (failure.killed) return `no answer within ${PROBE_TIMEOUT_MS / 1000} s`;
  if (typeof failure.code === 'string') return failure.code; // ENOENT, EACCES, ENOEXEC…
  const firstLine = typeof failure.stderr === 'string' ? (failure.stderr.trim().split('\n')[0] ?? '') : '';
  return `exit code ${String(failure.code)}${firstLine ? `: ${firstLine}` : ''}`;
}
