/**
 * OpenTelemetry tracing: one trace per job, from the API request through the
 * workflow to each activity (Temporal's OpenTelemetry interceptors carry the
 * context in workflow and activity headers).
 *
 * The interceptors are always wired (client, workers, workflow bundle) and are
 * no-ops until a tracer provider is installed here: at process start when
 * `JOBPLANE_OTLP_ENDPOINT` is set (OTLP/HTTP), or by a test with an in-memory
 * exporter. One provider per process at most; {@link shutdownTracing} resets.
 */
import { context, propagation, trace, type Tracer } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { Resource } from '@opentelemetry/resources';
import {
  BasicTracerProvider,
  BatchSpanProcessor,
  SimpleSpanProcessor,
  type ReadableSpan,
  type Span,
  type SpanExporter,
  type SpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import type { Context } from '@opentelemetry/api';
import type { Context as ActivityContext } from '@temporalio/activity';
import {
  makeWorkflowExporter,
  OpenTelemetryActivityInboundInterceptor,
  OpenTelemetryActivityOutboundInterceptor,
  OpenTelemetryWorkflowClientInterceptor,
} from '@temporalio/interceptors-opentelemetry';
import type { Config } from './config.ts';

export interface InstallTracingOptions {
  /** `service.name` of the spans (`jobplane-api`, `jobplane-workers`, a test name). */
  serviceName: string;
  /** Where spans go. Exporters are wrapped in a processor (batching unless `simple`). */
  exporter?: SpanExporter;
  /** A ready span processor instead of (or as well as) an exporter. */
  processor?: SpanProcessor;
  /** Export each span as it ends (tests); default batches. */
  simple?: boolean;
}

interface Installed {
  provider: BasicTracerProvider;
  processors: SpanProcessor[];
  resource: Resource;
}

let installed: Installed | undefined;

/** Installs the process-wide tracer provider (and the async context manager and W3C propagators). */
export function installTracing(opts: InstallTracingOptions): BasicTracerProvider {
  if (installed) throw new Error('tracing is already installed in this process (call shutdownTracing first)');
  const processors: SpanProcessor[] = [];
  if (opts.processor) processors.push(opts.processor);
  if (opts.exporter) processors.push(opts.simple ? new SimpleSpanProcessor(opts.exporter) : new BatchSpanProcessor(opts.exporter));
  if (processors.length === 0) throw new Error('installTracing needs an exporter or a span processor');
  const resource = new Resource({ 'service.name': opts.serviceName });
  const provider = new BasicTracerProvider({ resource, spanProcessors: processors });
  // Default propagators: W3C trace context + baggage.
  provider.register({ contextManager: new AsyncLocalStorageContextManager().enable() });
  installed = { provider, processors, resource };
  return provider;
}

/** Installs OTLP/HTTP export when `JOBPLANE_OTLP_ENDPOINT` is set; otherwise tracing stays off. */
export function installTracingFromConfig(config: Pick<Config, 'otlpEndpoint'>, serviceName: string): BasicTracerProvider | undefined {
  if (!config.otlpEndpoint) return undefined;
  const base = config.otlpEndpoint.replace(/\/+$/, '');
  const url = base.endsWith('/v1/traces') ? base : `${base}/v1/traces`;
  return installTracing({ serviceName, exporter: new OTLPTraceExporter({ url }) });
}

/** Whether a tracer provider is installed in this process. */
export function tracingEnabled(): boolean {
  return installed !== undefined;
}

/** Flushes and removes the provider and the global API registrations (tests; process shutdown). */
export async function shutdownTracing(): Promise<void> {
  const current = installed;
  if (!current) return;
  installed = undefined;
  try {
    await current.provider.shutdown();
  } finally {
    trace.disable();
    context.disable();
    propagation.disable();
  }
}

/** Tracer of Jobplane's own spans (the API's request spans); a no-op tracer while tracing is off. */
export function jobplaneTracer(): Tracer {
  return trace.getTracer('jobplane');
}

/** Client interceptors: `workflow.start` & co. open a span and carry its context to the workflow. */
export function workflowClientInterceptors() {
  return [new OpenTelemetryWorkflowClientInterceptor()];
}

/**
 * Hands workflow spans (made in the sandbox, shipped out through a sink) to
 * whatever provider is installed when they end; dropped while tracing is off.
 */
const forwardToInstalled: SpanProcessor = {
  onStart(_span: Span, _ctx: Context) {},
  onEnd(span: ReadableSpan) {
    for (const p of installed?.processors ?? []) p.onEnd(span);
  },
  forceFlush: async () => {},
  shutdown: async () => {},
};

/**
 * Worker options for tracing: activity interceptors (RunActivity spans) and
 * the sink the bundled workflow interceptors (workers/workflow-bundle.ts)
 * export RunWorkflow/StartActivity spans through. Always registered, since
 * the bundle always calls the sink.
 */
export function workerTracingOptions(serviceName = 'jobplane-workers') {
  return {
    interceptors: {
      activity: [
        (ctx: ActivityContext) => ({
          inbound: new OpenTelemetryActivityInboundInterceptor(ctx),
          outbound: new OpenTelemetryActivityOutboundInterceptor(ctx),
        }),
      ],
    },
    sinks: { exporter: makeWorkflowExporter(forwardToInstalled, installed?.resource ?? new Resource({ 'service.name': serviceName })) },
  };
}
