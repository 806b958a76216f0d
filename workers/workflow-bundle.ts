import { fileURLToPath } from 'node:url';
import { bundleWorkflowCode, type WorkflowBundleWithSourceMap } from '@temporalio/worker';

export const workflowsEntry = fileURLToPath(new URL('../workflows/index.ts', import.meta.url));

/** A prebuilt bundle when configured (production images), otherwise bundle `workflows/` now (a few seconds). */
export async function loadWorkflowBundle(prebuiltPath: string | undefined): Promise<WorkflowBundleWithSourceMap | { codePath: string }> {
  if (prebuiltPath) return { codePath: prebuiltPath };
  return await bundleWorkflowCode({ workflowsPath: workflowsEntry, logger: quietBundlerLogger });
}

const noop = () => {};
const quietBundlerLogger = { trace: noop, debug: noop, info: noop, warn: noop, error: (m: string) => console.error(m), log: noop };
