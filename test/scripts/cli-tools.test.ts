/**
 * Runs the real provisioning code against the real binaries. `npm test` provisions them before
 * vitest starts, so nothing here builds or downloads and each case takes a second or two at most.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ensureTool, ToolUnavailableError } from '../../scripts/lib/cli-tools.ts';

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const TSX = path.join(REPO_ROOT, 'node_modules', '.bin', 'tsx');
const CHILD_TIMEOUT_MS = 30_000;
// Fake binaries are shell scripts and the fresh clone uses a symlink.
const posixIt = it.skipIf(process.platform === 'win32');

interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Like execFile, but a non-zero exit is a result to assert on, not an exception. */
function run(file: string, args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}) {
  return new Promise<RunResult>((resolve) => {
    execFile(file, args, { ...options, timeout: CHILD_TIMEOUT_MS }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : null) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

let scratch: string;
const savedEnv = { TEMPORAL_CLI: process.env.TEMPORAL_CLI, TCTL_CLI: process.env.TCTL_CLI };

beforeAll(async () => {
  scratch = await fs.mkdtemp(path.join(os.tmpdir(), 'cli-tools-test-'));
});

afterAll(async () => {
  await fs.rm(scratch, { recursive: true, force: true });
});

afterEach(() => {
  for (const [key, value] of Object.entries(savedEnv)) {
    if (value === undefined) delete process.env[key];
    else process.env[key] = value;
  }
});

async function writeFile(name: string, content: string, mode: number): Promise<string> {
  const file = path.join(scratch, name);
  await fs.writeFile(file, content, { mode });
  return file;
}

/** The binary ensureTool finds without any override. */
async function realTemporal(): Promise<string> {
  delete process.env.TEMPORAL_CLI;
  return ensureTool('temporal', { quiet: true });
}

describe('ensureTool with an explicit override', () => {
  it('rejects TEMPORAL_CLI pointing at a non-executable file, naming the variable', async () => {
    process.env.TEMPORAL_CLI = await writeFile('not-executable', 'just text\n', 0o644);
    const attempt = ensureTool('temporal', { quiet: true });
    await expect(attempt).rejects.toBeInstanceOf(ToolUnavailableError);
    await expect(attempt).rejects.toThrow(/TEMPORAL_CLI/);
  });

  it('rejects TCTL_CLI pointing at a missing file, naming the variable', async () => {
    process.env.TCTL_CLI = path.join(scratch, 'no-such-tctl');
    await expect(ensureTool('tctl', { quiet: true })).rejects.toThrow(/TCTL_CLI/);
  });

  posixIt('rejects a TEMPORAL_CLI that reports a version below 1.5.0', async () => {
    const old = '#!/bin/sh\necho "temporal version 1.4.0 (Server 1.28.0, UI 2.38.0)"\n';
    process.env.TEMPORAL_CLI = await writeFile('old-temporal', old, 0o755);
    const attempt = ensureTool('temporal', { quiet: true });
    await expect(attempt).rejects.toBeInstanceOf(ToolUnavailableError);
    await expect(attempt).rejects.toThrow(/TEMPORAL_CLI.*1\.4\.0.*>= 1\.5\.0/s);
  });

  posixIt('returns TEMPORAL_CLI as given when it points at a working binary', async () => {
    const link = path.join(scratch, 'temporal-link');
    await fs.symlink(await realTemporal(), link);
    process.env.TEMPORAL_CLI = link;
    await expect(ensureTool('temporal', { quiet: true })).resolves.toBe(link);
  });
});

describe('ensureTool without an override', () => {
  it('finds a temporal that reports version 1.5.1, and answers again instantly', async () => {
    const binary = await realTemporal();
    expect(path.isAbsolute(binary)).toBe(true);
    const { code, stdout } = await run(binary, ['--version']);
    expect(code).toBe(0);
    expect(stdout).toContain('1.5.1');

    const started = performance.now();
    await expect(ensureTool('temporal', { quiet: true })).resolves.toBe(binary);
    expect(performance.now() - started).toBeLessThan(50);
  });

  it('uses a TCTL_CLI that runs and reports a version', async () => {
    // The Go module proxy here refuses github.com/temporalio/tctl (403), so the real
    // binary cannot be built on this machine; the override path is what on-call uses.
    const fake = path.join(scratch, 'tctl-fake');
    await fs.writeFile(fake, '#!/bin/sh\necho "tctl version 1.18.4"\n', { mode: 0o755 });
    process.env.TCTL_CLI = fake;
    await expect(ensureTool('tctl', { quiet: true })).resolves.toBe(fake);
  });
});

describe('provision-cli', () => {
  it('`tsx scripts/provision-cli.ts --quiet --only temporal` exits 0 and prints the tool', async () => {
    const { code, stdout, stderr } = await run(TSX, ['scripts/provision-cli.ts', '--quiet', '--only', 'temporal'], { cwd: REPO_ROOT });
    expect(stderr).toBe('');
    expect(code).toBe(0);
    expect(stdout).toMatch(/^temporal: \/.+ \(1\.5\.1\)$/m);
  });

  /** A copy of the two scripts in an empty directory: a clone with no .tools, no tools on PATH, no go. */
  async function freshClone(name: string) {
    const root = path.join(scratch, name);
    await fs.mkdir(path.join(root, 'scripts', 'lib'), { recursive: true });
    await fs.mkdir(path.join(root, 'empty-path'));
    await fs.mkdir(path.join(root, 'home'));
    await fs.writeFile(path.join(root, 'package.json'), '{ "type": "module" }\n');
    for (const file of ['scripts/provision-cli.ts', 'scripts/lib/cli-tools.ts', 'scripts/lib/tool-files.ts']) {
      await fs.copyFile(path.join(REPO_ROOT, file), path.join(root, file));
    }
    const env = {
      PATH: path.join(root, 'empty-path'),
      HOME: path.join(root, 'home'),
      XDG_CACHE_HOME: path.join(root, 'cache'),
    };
    // cwd stays in the repo so `--import tsx` resolves from its node_modules.
    const provision = (...args: string[]) =>
      run(process.execPath, ['--import', 'tsx', path.join(root, 'scripts', 'provision-cli.ts'), ...args], {
        cwd: REPO_ROOT,
        env,
      });
    return { root, cacheDir: env.XDG_CACHE_HOME, provision };
  }

  posixIt('reuses the per-user cache in a fresh clone, with concurrent callers serialized', async () => {
    const clone = await freshClone('clone-with-cache');
    await fs.mkdir(path.join(clone.cacheDir, 'jobplane', 'bin'), { recursive: true });
    await fs.symlink(await realTemporal(), path.join(clone.cacheDir, 'jobplane', 'bin', 'temporal-1.5.1'));

    const results = await Promise.all([
      clone.provision('--quiet', '--only', 'temporal'),
      clone.provision('--quiet', '--only', 'temporal'),
    ]);

    const local = path.join(clone.root, '.tools', 'bin', 'temporal');
    for (const result of results) {
      expect(result.stderr).toBe('');
      expect(result.code).toBe(0);
      expect(result.stdout).toBe(`temporal: ${local} (1.5.1)\n`);
    }
    expect((await fs.stat(local)).mode & 0o777).toBe(0o755);
    expect(await fs.readdir(path.join(clone.root, '.tools'))).toEqual(['bin']); // lock released
  });

  it('exits 1 with a how-to-fix message and no stack trace when nothing works', async () => {
    const clone = await freshClone('clone-without-anything');
    const { code, stdout, stderr } = await clone.provision('--quiet', '--only', 'tctl');
    expect(code).toBe(1);
    expect(stdout).toBe('');
    expect(stderr).toContain('Could not find or provision the tctl CLI');
    expect(stderr).toContain('`go` is not on PATH');
    expect(stderr).toContain('TCTL_CLI');
    expect(stderr).toContain('Go >= 1.25');
    expect(stderr).not.toMatch(/^\s+at /m);
  });

  it('rejects an unknown --only value with exit code 2', async () => {
    const { code, stderr } = await run(TSX, ['scripts/provision-cli.ts', '--only', 'docker'], { cwd: REPO_ROOT });
    expect(code).toBe(2);
    expect(stderr).toContain('--only must be one of temporal, tctl');
  });
});
