/**
 * Tooling of the offline infra checks (test/infra, `npm run infra:check`):
 *
 * - `ensureKustomize()` finds or provisions the real `kustomize` binary, like
 *   `ensureTool()` does for the Temporal CLI: `$KUSTOMIZE`; `kustomize` v5 on
 *   PATH; `.tools/bin/kustomize`; the per-user cache
 *   (`$XDG_CACHE_HOME/jobplane/bin/kustomize-<version>`); `go install
 *   sigs.k8s.io/kustomize/kustomize/v5@v<version>` (about a minute the first
 *   time, retried with `-checklinkname=0` if the linker refuses a go:linkname).
 * - `ensureInfraCheckPackages()` installs the validators pinned by
 *   `infra/check/package-lock.json` (Kubernetes and KEDA schemas, the Compose
 *   schema, a Dockerfile linter) into `infra/check/node_modules` with `npm ci`,
 *   again only when the lockfile changed.
 *
 * Both write under a cross-process lock, so parallel test runs never build or
 * install at once.
 */
import { execFile, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { BIN_DIR, copyExecutable, EXE_SUFFIX as EXE, findOnPath, isExecutableFile, makeLogger, REPO_ROOT, TOOLS_DIR, userCacheDir, withToolLock } from './tool-files.ts';

const execFileAsync = promisify(execFile);

/** The kustomize release provisioned (needs Go >= 1.24 to build). */
export const KUSTOMIZE_VERSION = '5.8.1';
const KUSTOMIZE_PACKAGE = 'sigs.k8s.io/kustomize/kustomize/v5';
const KUSTOMIZE_MAJOR = 5;

/** The npm project holding the infra validators. */
export const INFRA_CHECK_DIR = path.join(REPO_ROOT, 'infra', 'check');
const STAMP = '.jobplane-lock-sha256';

const BUILD_HEARTBEAT_MS = 15_000;

/** Options of the ensure functions. */
export interface EnsureOptions {
  /** Receives progress lines (fallbacks taken, build output). @default stderr */
  log?: (line: string) => void;
  /** No progress output at all; failures still throw. @default false */
  quiet?: boolean;
}

/** Thrown when no source gave a working tool; the message says how to fix it. */
export class InfraToolUnavailableError extends Error {
  override name = 'InfraToolUnavailableError';
}

let kustomizePromise: Promise<string> | undefined;

/** Absolute path of a working kustomize v5, provisioned if needed (memoized per process). */
export function ensureKustomize(opts: EnsureOptions = {}): Promise<string> {
  kustomizePromise ??= resolveKustomize(makeLogger('kustomize', opts));
  kustomizePromise.catch(() => (kustomizePromise = undefined));
  return kustomizePromise;
}

/** `kustomize build <dir>`: the rendered multi-document YAML. */
export async function kustomizeBuild(kustomize: string, dir: string): Promise<string> {
  const { stdout } = await execFileAsync(kustomize, ['build', dir], { maxBuffer: 32 * 1024 * 1024, timeout: 60_000 });
  return stdout;
}

async function resolveKustomize(log: (line: string) => void): Promise<string> {
  const tried: string[] = [];
  const explicit = process.env.KUSTOMIZE;
  if (explicit) {
    const version = await kustomizeVersion(explicit);
    if (version?.major === KUSTOMIZE_MAJOR) return path.resolve(explicit);
    throw new InfraToolUnavailableError(`KUSTOMIZE is set to "${explicit}", but that is not a working kustomize v${KUSTOMIZE_MAJOR} (${version ? `reports ${version.text}` : 'does not run'}).`);
  }
  const onPath = await findOnPath('kustomize');
  if (onPath && (await kustomizeVersion(onPath))?.major === KUSTOMIZE_MAJOR) return onPath;
  tried.push(onPath ? `PATH: ${onPath} is not kustomize v${KUSTOMIZE_MAJOR}` : 'PATH: no kustomize');

  const local = path.join(BIN_DIR, `kustomize${EXE}`);
  if ((await kustomizeVersion(local))?.major === KUSTOMIZE_MAJOR) return local;

  const found = await withToolLock('kustomize', log, async () => {
    if ((await kustomizeVersion(local))?.major === KUSTOMIZE_MAJOR) return local; // built while we waited
    const cached = path.join(userCacheDir(), `kustomize-${KUSTOMIZE_VERSION}${EXE}`);
    if ((await kustomizeVersion(cached))?.major === KUSTOMIZE_MAJOR) {
      await copyExecutable(cached, local);
      log(`copied ${cached} to .tools/bin`);
      return local;
    }
    tried.push(`user cache ${cached}: not present`);
    const built = await goInstall(log, tried, local);
    if (built) {
      await copyExecutable(built, cached).catch((err: Error) => log(`could not cache a copy in ${cached}: ${err.message}`));
    }
    return built;
  });
  if (found) return found;
  throw new InfraToolUnavailableError(
    [
      `Could not find or provision kustomize v${KUSTOMIZE_MAJOR}. Tried:`,
      ...tried.map((t) => `  - ${t}`),
      'Fix one of:',
      `  - install kustomize v${KUSTOMIZE_MAJOR} (https://kubectl.docs.kubernetes.io/installation/kustomize/) on PATH, or set KUSTOMIZE=/path/to/kustomize`,
      `  - install Go >= 1.24 and run the infra checks again; they build it with: go install ${KUSTOMIZE_PACKAGE}@v${KUSTOMIZE_VERSION}`,
    ].join('\n'),
  );
}

async function goInstall(log: (line: string) => void, tried: string[], target: string): Promise<string | undefined> {
  const go = await findOnPath('go');
  const module = `${KUSTOMIZE_PACKAGE}@v${KUSTOMIZE_VERSION}`;
  if (!go) {
    tried.push(`go install ${module}: go is not on PATH`);
    return undefined;
  }
  log(`building kustomize ${KUSTOMIZE_VERSION} with go install (about a minute the first time)…`);
  let result = await runGoInstall(go, module, [], log);
  if (!result.ok && result.output.includes('linkname')) {
    log('the linker refused a go:linkname; retrying with -ldflags=-checklinkname=0');
    result = await runGoInstall(go, module, ['-ldflags=-checklinkname=0'], log);
  }
  if (!result.ok || !result.binary) {
    tried.push(`go install ${module}: ${result.output.split('\n').slice(-5).join(' | ')}`);
    return undefined;
  }
  await fs.mkdir(BIN_DIR, { recursive: true });
  await fs.rename(result.binary, target);
  await fs.rm(path.dirname(result.binary), { recursive: true, force: true });
  return target;
}

/** Builds into a private GOBIN: go would otherwise rewrite `.tools/bin/kustomize` in place while others run it. */
async function runGoInstall(go: string, module: string, flags: string[], log: (line: string) => void): Promise<{ ok: boolean; output: string; binary?: string }> {
  const gobin = path.join(TOOLS_DIR, `build-kustomize-${process.pid}`);
  await fs.rm(gobin, { recursive: true, force: true });
  await fs.mkdir(gobin, { recursive: true });
  const { code, output } = await run(go, ['install', ...flags, module], { env: { ...process.env, GOBIN: gobin } }, log, 'kustomize');
  const binary = path.join(gobin, `kustomize${EXE}`);
  if (code === 0 && (await isExecutableFile(binary))) return { ok: true, output, binary };
  await fs.rm(gobin, { recursive: true, force: true });
  return { ok: false, output };
}

/** Installs infra/check's locked validators if missing or stale; returns its node_modules directory. */
export async function ensureInfraCheckPackages(opts: EnsureOptions = {}): Promise<string> {
  const log = makeLogger('infra/check', opts);
  const nodeModules = path.join(INFRA_CHECK_DIR, 'node_modules');
  const wanted = createHash('sha256').update(await fs.readFile(path.join(INFRA_CHECK_DIR, 'package-lock.json'))).digest('hex');
  const current = async () => (await fs.readFile(path.join(nodeModules, STAMP), 'utf8').catch(() => '')).trim();
  if ((await current()) === wanted) return nodeModules;
  await withToolLock('infra-check', log, async () => {
    if ((await current()) === wanted) return;
    const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
    log('installing the infra validators (npm ci in infra/check)…');
    const { code, output } = await run(npm, ['ci', '--no-audit', '--no-fund', '--loglevel=error'], { cwd: INFRA_CHECK_DIR, env: process.env }, log, 'infra/check');
    if (code !== 0) {
      throw new InfraToolUnavailableError(`npm ci in infra/check failed (exit ${code}):\n${output.split('\n').slice(-15).join('\n')}`);
    }
    await fs.writeFile(path.join(nodeModules, STAMP), `${wanted}\n`);
  });
  return nodeModules;
}

// ---------------------------------------------------------------------------------------------
// Helpers

async function kustomizeVersion(binary: string): Promise<{ major: number; text: string } | undefined> {
  if (!(await isExecutableFile(binary))) return undefined;
  try {
    const { stdout, stderr } = await execFileAsync(binary, ['version'], { timeout: 10_000 });
    const text = `${stdout}${stderr}`.trim();
    const match = /v?(\d+)\.\d+\.\d+/.exec(text);
    return match ? { major: Number(match[1]), text } : undefined;
  } catch {
    return undefined;
  }
}

function run(
  command: string,
  args: string[],
  options: { cwd?: string; env: NodeJS.ProcessEnv },
  log: (line: string) => void,
  what: string,
): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const started = Date.now();
    const lines: string[] = [];
    const child = spawn(command, args, { ...options, stdio: ['ignore', 'pipe', 'pipe'] });
    const onData = (chunk: Buffer) => {
      for (const line of chunk.toString().split('\n').filter(Boolean)) {
        if (lines.length < 2000) lines.push(line);
        log(line);
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    const heartbeat = setInterval(() => log(`still working on ${what} (${Math.round((Date.now() - started) / 1000)} s)…`), BUILD_HEARTBEAT_MS);
    const finish = (code: number | null, extra?: string) => {
      clearInterval(heartbeat);
      if (extra) lines.push(extra);
      resolve({ code, output: lines.join('\n') });
    };
    child.on('error', (err) => finish(null, `could not start ${command}: ${err.message}`));
    child.on('close', (code) => finish(code));
  });
}
