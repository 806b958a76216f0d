/**
 * Workflow interceptors bundled into every workflow (see
 * workers/workflow-bundle.ts `workflowInterceptorModules`). Runs in the
 * workflow sandbox: import nothing but sandbox-safe modules.
 *
 * OpenTelemetry: continues the trace carried in the workflow's headers
 * (RunWorkflow span) and passes it on to activities (StartActivity span);
 * spans leave the sandbox through the `exporter` sink the workers register
 * (runtime/tracing.ts `workerTracingOptions`). SDK flags keep histories
 * recorded without these interceptors replaying as before.
 *
 * Job metrics: `jobplane_jobs_finished` and `jobplane_job_duration` per job
 * type, tenant and status (workflows/job-metrics-interceptor.ts), through the
 * SDK's replay-safe `metricMeter`.
 */
import type { WorkflowInterceptorsFactory } from '@temporalio/workflow';
import {
  OpenTelemetryInboundInterceptor,
  OpenTelemetryInternalsInterceptor,
  OpenTelemetryOutboundInterceptor,
} from '@temporalio/interceptors-opentelemetry/lib/workflow/index.js';
import { JobMetricsInboundInterceptor } from './job-metrics-interceptor.ts';

export const interceptors: WorkflowInterceptorsFactory = () => ({
  inbound: [new OpenTelemetryInboundInterceptor(), new JobMetricsInboundInterceptor()],
  outbound: [new OpenTelemetryOutboundInterceptor()],
  internals: [new OpenTelemetryInternalsInterceptor()],
});
