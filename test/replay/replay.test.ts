/**
 * Replays every recorded history under test/replay/<workflow>/ against the
 * current workflow code. An incompatible change fails here until it is
 * guarded with patched() or shipped as a new workflow type.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { Worker } from '@temporalio/worker';
import { replayDir } from '../helpers/record-history.ts';
import { codecFrom, failureConverterPath } from '../../runtime/temporal.ts';
import { workerTracingOptions } from '../../runtime/tracing.ts';
import { testCodecKeys, workflowBundlePath } from '../helpers/stack.ts';

const histories = readdirSync(replayDir, { withFileTypes: true })
  .filter((d) => d.isDirectory())
  .flatMap((d) =>
    readdirSync(path.join(replayDir, d.name))
      .filter((f) => f.endsWith('.json'))
      .map((f) => ({ name: `${d.name}/${f}`, file: path.join(replayDir, d.name, f) })),
  );

describe('replay of recorded histories', () => {
  it('has recorded histories to replay', () => {
    expect(histories.length).toBeGreaterThanOrEqual(4);
  });

  it.each(histories)('$name replays deterministically', async ({ file }) => {
    const history: unknown = JSON.parse(readFileSync(file, 'utf8'));
    // Histories recorded since payload encryption hold ciphertext: replay decrypts with the fixed test keys.
    const dataConverter = { payloadCodecs: [codecFrom({ codecKeys: testCodecKeys, codecCurrentKey: undefined })], failureConverterPath };
    // The bundle's tracing interceptors call a sink: register it as real workers do.
    const { sinks } = workerTracingOptions();
    await Worker.runReplayHistory({ workflowBundle: { codePath: await workflowBundlePath() }, dataConverter, sinks }, history);
  });
});
