import { fileURLToPath } from 'node:url';
import { bundleWorkflowCode, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { failureConverterPath } from '../runtime/temporal.ts';

export const workflowsEntry = fileURLToPath(new URL('../workflows/index.ts', import.meta.url));
/** Workflow interceptors (OpenTelemetry trace propagation, job outcome metrics) bundled into every workflow. */
export const workflowInterceptorsPath = fileURLToPath(new URL('../workflows/interceptors.ts', import.meta.url));
/**
 * The job contracts, evaluated once per worker thread instead of once per
 * workflow. With the reusable V8 context every new workflow otherwise re-runs
 * the module code of everything it imports, and the contracts build every job
 * type's zod schemas: measured on 2 cores, that was half of a noop workflow's
 * CPU (30 → 15 ms per workflow, 36 → 60 workflows/s with this). Safe because
 * contracts hold no per-workflow state: they are constants, schemas and pure
 * functions, and the SDK deep-freezes preloaded modules, so a workflow that
 * tried to change one would fail loudly instead of leaking into another.
 */
export const preloadedWorkflowModules = [fileURLToPath(new URL('../contracts/index.ts', import.meta.url))];

/** Bundles `workflows/` with the platform's failure converter and workflow interceptors (what `JOBPLANE_WORKFLOW_BUNDLE` files must be built with). */
export async function buildWorkflowBundle(): Promise<WorkflowBundleWithSourceMap> {
  return await bundleWorkflowCode({
    workflowsPath: workflowsEntry,
    failureConverterPath,
    workflowInterceptorModules: [workflowInterceptorsPath],
    preloadModules: preloadedWorkflowModules,
    logger: quietBundlerLogger,
  });
}

/** A prebuilt bundle when configured (production images), otherwise bundle `workflows/` now (a few seconds). */
export async function loadWorkflowBundle(prebuiltPath: string | undefined): Promise<WorkflowBundleWithSourceMap | { codePath: string }> {
  if (prebuiltPath) return { codePath: prebuiltPath };
  return await buildWorkflowBundle();
}

const noop = () => {};
const quietBundlerLogger = { trace: noop, debug: noop, info: noop, warn: noop, error: (m: string) => console.error(m), log: noop };
