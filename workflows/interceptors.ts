/**
 * Workflow interceptors bundled into every workflow (see
 * workers/workflow-bundle.ts `workflowInterceptorModules`). Runs in the
 * workflow sandbox: import nothing but sandbox-safe modules.
 *
 * Tracing: continues the trace carried in the workflow's headers
 * (RunWorkflow span) and passes it on to activities (StartActivity span) and
 * children; spans leave the sandbox through the `exporter` sink the workers
 * register (runtime/tracing.ts `workerTracingOptions`). Our own light
 * interceptors (workflows/tracing-interceptors.ts), not OpenTelemetry's
 * libraries, which every workflow would evaluate again.
 *
 * Job metrics: `jobplane_jobs_finished` and `jobplane_job_duration` per job
 * type, tenant and status (workflows/job-metrics-interceptor.ts), through the
 * SDK's replay-safe `metricMeter`.
 */
import type { WorkflowInterceptorsFactory } from '@temporalio/workflow';
import { JobMetricsInboundInterceptor } from './job-metrics-interceptor.ts';
import { TracingInboundInterceptor, TracingOutboundInterceptor } from './tracing-interceptors.ts';

export const interceptors: WorkflowInterceptorsFactory = () => ({
  inbound: [new TracingInboundInterceptor(), new JobMetricsInboundInterceptor()],
  outbound: [new TracingOutboundInterceptor()],
});
