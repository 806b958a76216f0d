/**
 * `npm run build:bundle [-- <out>]`: writes the prebuilt workflow bundle
 * (default `dist/workflow-bundle.js`), so worker processes started with
 * `JOBPLANE_WORKFLOW_BUNDLE=<out>` skip bundling `workflows/` at start. The
 * Docker image builds it in its build stage (infra/Dockerfile).
 *
 * The bundle embeds the workflow code and the platform's failure converter;
 * rebuild it whenever `workflows/` or `runtime/failure-converter.ts` changes.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildWorkflowBundle } from '../workers/workflow-bundle.ts';

/** Default output, relative to the working directory. */
export const defaultBundlePath = 'dist/workflow-bundle.js';

/** Bundles `workflows/` and writes the code to `outPath` atomically; returns the absolute path and size. */
export async function writeWorkflowBundle(outPath: string = defaultBundlePath): Promise<{ path: string; bytes: number }> {
  const target = path.resolve(outPath);
  const { code } = await buildWorkflowBundle();
  await fs.mkdir(path.dirname(target), { recursive: true });
  // Write then rename: a worker starting meanwhile never reads half a bundle.
  const tmp = `${target}.tmp-${process.pid}`;
  try {
    await fs.writeFile(tmp, code);
    await fs.rename(tmp, target);
  } finally {
    await fs.rm(tmp, { force: true });
  }
  return { path: target, bytes: Buffer.byteLength(code) };
}

const isMain = process.argv[1] !== undefined && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url);
if (isMain) {
  const args = process.argv.slice(2);
  if (args.length > 1 || args[0]?.startsWith('-')) {
    console.error('usage: tsx scripts/build-workflow-bundle.ts [out-file]   (default dist/workflow-bundle.js)');
    process.exit(2);
  }
  const started = performance.now();
  const { path: written, bytes } = await writeWorkflowBundle(args[0]);
  const ms = Math.round(performance.now() - started);
  const relative = path.relative(process.cwd(), written);
  const shown = relative.startsWith('..') ? written : relative;
  console.log(`workflow bundle: ${shown} (${Math.round(bytes / 1024)} KiB) in ${ms} ms`);
}
