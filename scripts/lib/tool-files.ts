/**
 * File and process helpers shared by the tool provisioners (`cli-tools.ts`
 * for the Temporal CLI and tctl, `kustomize.ts` for the infra checks): where
 * tools live, PATH lookup, atomic copies, progress lines, and the
 * cross-process lock that keeps two test workers from building at once.
 */
import { constants as fsConstants } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const TOOLS_DIR = path.join(REPO_ROOT, '.tools');
export const BIN_DIR = path.join(TOOLS_DIR, 'bin');
export const EXE_SUFFIX = process.platform === 'win32' ? '.exe' : '';

const LOCK_STALE_MS = 20 * 60_000;
const LOCK_REFRESH_MS = 60_000;
const LOCK_POLL_MS = 500;

/** Per-user cache of built tools (`$XDG_CACHE_HOME/jobplane/bin`), so a fresh clone reuses an earlier build. */
export function userCacheDir(): string {
  return path.join(process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache'), 'jobplane', 'bin');
}

/**
 * mkdir is atomic, so the directory doubles as the lock. The holder touches it every minute, and
 * a waiter breaks it when it has not been touched for 20 minutes or its owner process is gone
 * (e.g. a Ctrl-C'd build), so a crash never blocks provisioning for long.
 */
export async function withToolLock<T>(name: string, log: (line: string) => void, fn: () => Promise<T>): Promise<T> {
  await fs.mkdir(BIN_DIR, { recursive: true });
  const lockDir = path.join(TOOLS_DIR, `.lock-${name}`);
  await acquireLock(name, log, lockDir);
  const refresh = setInterval(() => {
    const now = new Date();
    fs.utimes(lockDir, now, now).catch(() => undefined);
  }, LOCK_REFRESH_MS);
  refresh.unref();
  try {
    return await fn();
  } finally {
    clearInterval(refresh);
    await fs.rm(lockDir, { recursive: true, force: true });
  }
}

async function acquireLock(name: string, log: (line: string) => void, lockDir: string): Promise<void> {
  let announced = false;
  for (;;) {
    try {
      await fs.mkdir(lockDir);
      const owner = { pid: process.pid, host: os.hostname(), since: new Date().toISOString() };
      await fs.writeFile(path.join(lockDir, 'owner.json'), JSON.stringify(owner));
      return;
    } catch (err) {
      if (errorCode(err) !== 'EEXIST') throw err;
    }
    const stale = await staleLockReason(lockDir);
    if (stale) {
      // Two waiters could both judge the same lock stale; the window is tiny and only after a crash.
      log(`breaking stale lock ${path.relative(REPO_ROOT, lockDir)} (${stale})`);
      await fs.rm(lockDir, { recursive: true, force: true });
      continue;
    }
    if (!announced) {
      log(`waiting for another process to finish provisioning ${name}…`);
      announced = true;
    }
    await new Promise((resolve) => setTimeout(resolve, LOCK_POLL_MS));
  }
}

async function staleLockReason(lockDir: string): Promise<string | undefined> {
  let mtimeMs: number;
  try {
    mtimeMs = (await fs.stat(lockDir)).mtimeMs;
  } catch {
    return undefined; // released meanwhile; the next mkdir will tell
  }
  const age = Date.now() - mtimeMs;
  if (age > LOCK_STALE_MS) return `untouched for ${Math.round(age / 60_000)} min`;
  const owner = await readLockOwner(lockDir);
  if (owner && owner.host === os.hostname() && !isProcessAlive(owner.pid)) {
    return `owner process ${owner.pid} is gone`;
  }
  return undefined;
}

async function readLockOwner(lockDir: string): Promise<{ pid: number; host: string } | undefined> {
  try {
    const owner: unknown = JSON.parse(await fs.readFile(path.join(lockDir, 'owner.json'), 'utf8'));
    if (typeof owner !== 'object' || owner === null) return undefined;
    const { pid, host } = owner as Record<string, unknown>;
    return typeof pid === 'number' && typeof host === 'string' ? { pid, host } : undefined;
  } catch {
    return undefined; // not written yet, or half-written: treat as alive
  }
}

function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return errorCode(err) === 'EPERM'; // exists, but belongs to someone else
  }
}

/** The first executable `command` on PATH. */
export async function findOnPath(command: string): Promise<string | undefined> {
  const dirs = (process.env.PATH ?? '').split(path.delimiter).filter(Boolean);
  const exts = process.platform === 'win32' ? (process.env.PATHEXT ?? '.EXE;.CMD;.BAT').split(';') : [''];
  for (const dir of dirs) {
    for (const ext of exts) {
      const candidate = path.resolve(dir, `${command}${ext}`);
      if (await isExecutableFile(candidate)) return candidate;
    }
  }
  return undefined;
}

export async function isExecutableFile(file: string): Promise<boolean> {
  try {
    if (!(await fs.stat(file)).isFile()) return false;
    await fs.access(file, fsConstants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Copies via a temp file and rename so nobody ever runs a half-copied binary. */
export async function copyExecutable(src: string, dest: string): Promise<void> {
  await fs.mkdir(path.dirname(dest), { recursive: true });
  const tmp = `${dest}.tmp-${process.pid}`;
  try {
    await fs.copyFile(src, tmp);
    await fs.chmod(tmp, 0o755);
    await fs.rename(tmp, dest);
  } finally {
    await fs.rm(tmp, { force: true });
  }
}

export function makeLogger(name: string, opts: { quiet?: boolean; log?: (line: string) => void }): (line: string) => void {
  if (opts.quiet) return () => undefined;
  const sink = opts.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  return (line) => sink(`[provision ${name}] ${line}`);
}

export function errorCode(err: unknown): unknown {
  return typeof err === 'object' && err !== null ? (err as { code?: unknown }).code : undefined;
}
