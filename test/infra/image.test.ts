/**
 * The Docker image, offline (no engine here): infra/Dockerfile passes a
 * Dockerfile linter (dockerfile-utils, the validator behind the VS Code
 * Docker extension), the runtime stage holds every file the three entry
 * points import and every package they import is a production dependency
 * (the stage installs with --omit=dev), the build context lets those files
 * in, and the shell scripts pass shellcheck when it is installed.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { builtinModules, createRequire } from 'node:module';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { ensureInfraCheckPackages } from '../../scripts/lib/kustomize.ts';

const root = path.resolve(import.meta.dirname, '../..');
const read = (file: string) => readFileSync(path.join(root, file), 'utf8');
const dockerfileText = read('infra/Dockerfile');
const entrypointFile = 'infra/docker-entrypoint.sh';

interface Instruction { keyword: string; args: string }
interface Stage { name: string; instructions: Instruction[] }

/** Instructions per stage, with line continuations joined and comments dropped. */
function stages(text: string): Stage[] {
  const out: Stage[] = [];
  for (const line of text.replace(/\\\n/g, ' ').split('\n')) {
    const m = /^\s*([A-Za-z]+)\s+(.*)$/.exec(line);
    if (!m || line.trimStart().startsWith('#')) continue;
    const keyword = m[1]!.toUpperCase();
    const args = m[2]!.trim();
    if (keyword === 'FROM') out.push({ name: /\bAS\s+(\S+)/i.exec(args)?.[1] ?? String(out.length), instructions: [] });
    out.at(-1)?.instructions.push({ keyword, args });
  }
  return out;
}
const allStages = stages(dockerfileText);
const runtime = allStages.at(-1)!;
const of = (stage: Stage, keyword: string) => stage.instructions.filter((i) => i.keyword === keyword);
/** `COPY [--flags] src… dest` of the context (not `--from`): the sources. */
const contextCopies = (stage: Stage) =>
  of(stage, 'COPY')
    .filter((i) => !/--from=/.test(i.args))
    .flatMap((i) => i.args.split(/\s+/).filter((a) => !a.startsWith('--')).slice(0, -1));
const runtimeEnv: Record<string, string> = Object.fromEntries(
  of(runtime, 'ENV').flatMap((i) => [...i.args.matchAll(/([A-Z_][A-Z0-9_]*)=("[^"]*"|\S+)/g)].map((m) => [m[1]!, m[2]!.replace(/^"|"$/g, '')])),
);

interface DockerfileUtils {
  validate(content: string, settings?: Record<string, number>): { severity?: number; message: string; range: { start: { line: number } } }[];
  ValidationSeverity: Record<'IGNORE' | 'WARNING' | 'ERROR', number>;
}
let dockerfileUtils: DockerfileUtils;

beforeAll(async () => {
  const nodeModules = await ensureInfraCheckPackages();
  dockerfileUtils = createRequire(path.join(nodeModules, 'package.json'))('dockerfile-utils') as DockerfileUtils;
}, 5 * 60_000);

/** Local files and packages reachable from `entries` by static or dynamic imports, `new URL(…, import.meta.url)` and require.resolve. */
function importClosure(entries: string[]): { files: Set<string>; packages: Set<string> } {
  const files = new Set<string>();
  const packages = new Set<string>();
  const queue = entries.map((e) => path.join(root, e));
  const builtins = new Set(builtinModules);
  while (queue.length > 0) {
    const file = queue.pop()!;
    if (files.has(file)) continue;
    files.add(file);
    if (statSync(file).isDirectory() || !file.endsWith('.ts')) continue;
    const source = readFileSync(file, 'utf8')
      .split('\n')
      .filter((l) => !/^\s*(import|export)\s+type\s/.test(l)) // erased at compile time
      .join('\n');
    const specifiers = [
      ...source.matchAll(/\bfrom\s+'([^']+)'/g),
      ...source.matchAll(/\bimport\s*\(\s*'([^']+)'\s*\)/g),
      ...source.matchAll(/^\s*import\s+'([^']+)'/gm),
      ...source.matchAll(/new URL\(\s*'([^']+)',\s*import\.meta\.url\s*\)/g),
      ...source.matchAll(/\.resolve\(\s*'([^']+)'\s*\)/g),
    ].map((m) => m[1]!);
    for (const spec of specifiers) {
      if (spec.startsWith('.')) queue.push(path.resolve(path.dirname(file), spec));
      else if (!spec.startsWith('node:') && !builtins.has(spec)) packages.add(spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]!);
    }
  }
  return { files, packages };
}

describe('infra/Dockerfile', () => {
  it('passes the Dockerfile linter with no warning', () => {
    const { WARNING, ERROR } = dockerfileUtils.ValidationSeverity;
    const diagnostics = dockerfileUtils.validate(dockerfileText, {
      instructionCmdMultiple: WARNING,
      instructionEntrypointMultiple: WARNING,
      instructionHealthcheckMultiple: WARNING,
      instructionJSONInSingleQuotes: ERROR,
      instructionWorkdirRelative: ERROR,
    });
    expect(diagnostics.map((d) => `line ${d.range.start.line + 1}: ${d.message}`)).toEqual([]);
  });

  it('is multi-stage: npm ci with npm 11 (allowScripts), a production-only install, the bundle built in a build stage', () => {
    expect(allStages.map((s) => s.name)).toEqual(expect.arrayContaining(['deps', 'prod-deps', 'build', 'runtime']));
    expect(dockerfileText).toMatch(/ARG NPM_VERSION=11\./);
    const prodDeps = allStages.find((s) => s.name === 'prod-deps')!;
    expect(of(prodDeps, 'RUN').some((i) => /npm ci\b.*--omit=dev/.test(i.args))).toBe(true);
    const build = allStages.find((s) => s.name === 'build')!;
    const bundleRun = of(build, 'RUN').find((i) => i.args.includes('scripts/build-workflow-bundle.ts'));
    const out = /build-workflow-bundle\.ts\s+(\S+)/.exec(bundleRun?.args ?? '')?.[1];
    expect(out).toBeDefined();
    // The runtime copies that file to where JOBPLANE_WORKFLOW_BUNDLE points.
    const copy = of(runtime, 'COPY').find((i) => i.args.startsWith('--from=build'));
    expect(copy?.args).toMatch(new RegExp(`/app/${out!.replace(/\./g, '\\.')}\\s+(\\S+)$`));
    expect(path.posix.resolve('/app', /\s(\S+)$/.exec(copy!.args)![1]!)).toBe(runtimeEnv.JOBPLANE_WORKFLOW_BUNDLE);
  });

  it('runs as a numeric non-root user on node:20-bookworm-slim, with an entrypoint per process', () => {
    expect(/ARG NODE_IMAGE=node:20[\d.]*-bookworm-slim/.test(dockerfileText)).toBe(true);
    const user = of(runtime, 'USER').at(-1)?.args ?? '';
    expect(user).toMatch(/^[1-9]\d*(:\d+)?$/);
    expect(runtimeEnv).toMatchObject({ JOBPLANE_API_HOST: '0.0.0.0', JOBPLANE_WORKER_HEALTH_ADDRESS: '0.0.0.0:9465', JOBPLANE_WORKER_METRICS_ADDRESS: '0.0.0.0:9464' });
    expect(runtimeEnv.NODE_OPTIONS).toMatch(/^--max-old-space-size=\d+$/);
    const entrypoint = JSON.parse(of(runtime, 'ENTRYPOINT').at(-1)!.args) as string[];
    expect(entrypoint[0]).toBe('/usr/bin/tini');
    const script = read(entrypointFile);
    for (const [command, file] of [['api', 'api/main.ts'], ['workers', 'workers/main.ts'], ['migrate', 'scripts/migrate.ts']] as const) {
      expect(script).toMatch(new RegExp(`^\\s*${command}\\) exec node --import tsx ${file.replace('.', '\\.')} "\\$@" ;;$`, 'm'));
      expect(existsSync(path.join(root, file))).toBe(true);
    }
    expect(statSync(path.join(root, entrypointFile)).mode & 0o111).not.toBe(0);
  });

  it('the runtime stage holds every file the entry points load, and their packages are production dependencies', () => {
    const { files, packages } = importClosure(['api/main.ts', 'workers/main.ts', 'scripts/migrate.ts']);
    const copied = contextCopies(runtime).map((src) => path.join(root, src));
    const outside = [...files].filter((f) => !copied.some((c) => f === c || f.startsWith(`${c}${path.sep}`))).map((f) => path.relative(root, f));
    expect(outside).toEqual([]);
    const pkg = JSON.parse(read('package.json')) as { dependencies: Record<string, string> };
    // tsx: the entrypoint runs `node --import tsx`.
    expect([...packages, 'tsx'].filter((p) => !Object.hasOwn(pkg.dependencies, p))).toEqual([]);
    expect(packages).toContain('@temporalio/worker');
  });

  it('the build context (infra/Dockerfile.dockerignore) lets in what the stages copy, and leaves out secrets and local state', () => {
    const ignore = read('infra/Dockerfile.dockerignore').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
    expect(ignore[0]).toBe('**');
    const included = ignore.filter((l) => l.startsWith('!')).map((l) => l.slice(1).replace(/\/$/, ''));
    const sources = allStages.flatMap(contextCopies).filter((s) => s !== '.');
    sources.push('scripts/build-workflow-bundle.ts'); // the build stage copies the whole (filtered) context
    for (const src of sources) expect(included, src).toContain(src.replace(/\/$/, ''));
    for (const secret of ['.data', '.env', 'infra/.env', '.tools', 'node_modules', '.git']) expect(included).not.toContain(secret);
  });
});

const shellScripts = [entrypointFile, 'infra/temporal/setup-schema.sh', 'infra/temporal/setup-namespace.sh'];
const shellcheck = (() => {
  try {
    execFileSync('shellcheck', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

describe('shell scripts', () => {
  it.skipIf(!shellcheck)('pass shellcheck (skipped when shellcheck is not installed: apt-get install shellcheck)', () => {
    expect(() => execFileSync('shellcheck', ['--shell=sh', ...shellScripts], { cwd: root, encoding: 'utf8' })).not.toThrow();
  });
});
