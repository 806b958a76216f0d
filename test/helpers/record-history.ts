/**
 * Saves the event history of a finished workflow under `test/replay/` when
 * `JOBPLANE_RECORD_HISTORIES=1` (see `npm run record-histories`), in the JSON
 * form `temporal workflow show -o json` prints, the same form on-call would
 * download from production. The replay test replays every saved history
 * against the current workflow code.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { inject } from 'vitest';
import { repoRoot } from './stack.ts';

export const replayDir = path.join(repoRoot, 'test/replay');
export const recording = process.env.JOBPLANE_RECORD_HISTORIES === '1';

export async function recordHistory(temporalAddress: string, workflowId: string, folder: string, name: string): Promise<void> {
  if (!recording) return;
  const { stdout } = await promisify(execFile)(
    inject('temporalCli'),
    ['workflow', 'show', '--address', temporalAddress, '--workflow-id', workflowId, '--output', 'json'],
    { maxBuffer: 64 * 1024 * 1024 },
  );
  const dir = path.join(replayDir, folder);
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, `${name}.json`), JSON.stringify(JSON.parse(stdout), null, 1) + '\n');
}
