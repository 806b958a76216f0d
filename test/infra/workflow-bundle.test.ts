/**
 * The prebuilt workflow bundle the image ships (`scripts/build-workflow-bundle.ts`,
 * run as the Dockerfile's build stage runs it): the file it writes replays a
 * recorded history of every workflow type when loaded as
 * `JOBPLANE_WORKFLOW_BUNDLE` is, by path, with no server involved.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { Worker } from '@temporalio/worker';
import { codecFrom, failureConverterPath } from '../../runtime/temporal.ts';
import { replayDir } from '../helpers/record-history.ts';
import { testCodecKeys } from '../helpers/stack.ts';

const root = path.resolve(import.meta.dirname, '../..');
const outDir = mkdtempSync(path.join(tmpdir(), 'jobplane-prebuilt-'));
afterAll(() => rmSync(outDir, { recursive: true, force: true }));

describe('scripts/build-workflow-bundle.ts', () => {
  it('writes a bundle that workers load by path and that replays every workflow type', async () => {
    const out = path.join(outDir, 'dist', 'workflow-bundle.js');
    const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', 'scripts/build-workflow-bundle.ts', out], { cwd: root, timeout: 120_000 });
    expect(stdout).toMatch(/^workflow bundle: .+ \(\d+ KiB\) in \d+ ms$/m);
    expect(statSync(out).size).toBeGreaterThan(100_000);

    const dataConverter = { payloadCodecs: [codecFrom({ codecKeys: testCodecKeys, codecCurrentKey: undefined })], failureConverterPath };
    const types = readdirSync(replayDir, { withFileTypes: true }).filter((d) => d.isDirectory());
    expect(types.length).toBeGreaterThanOrEqual(2);
    for (const type of types) {
      const first = readdirSync(path.join(replayDir, type.name)).filter((f) => f.endsWith('.json')).sort()[0]!;
      const history: unknown = JSON.parse(readFileSync(path.join(replayDir, type.name, first), 'utf8'));
      await Worker.runReplayHistory({ workflowBundle: { codePath: out }, dataConverter }, history);
    }
  });

  it('refuses unknown options', async () => {
    await expect(promisify(execFile)(process.execPath, ['--import', 'tsx', 'scripts/build-workflow-bundle.ts', '--out'], { cwd: root })).rejects.toMatchObject({ code: 2 });
  });
});
