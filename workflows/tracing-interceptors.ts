/**
 * Trace propagation and spans inside the workflow sandbox, without
 * OpenTelemetry's libraries.
 *
 * Why not `@temporalio/interceptors-opentelemetry`'s workflow interceptors:
 * with the reusable V8 context every new workflow evaluates again every
 * module it imports, and those interceptors import `@opentelemetry/api`,
 * `core`, `sdk-trace-base`, `resources` and `semantic-conventions` (hundreds
 * of modules, a few constant tables of thousands of entries). Profiled on
 * 2 cores (`BENCH_WORKLOADS=w7 BENCH_W7_CPU_PROF=…`), that evaluation was about
 * a quarter of the workflow thread's CPU for a `noop` job. Those modules cannot
 * be preloaded instead: they keep per-workflow state in module variables and
 * register a global tracer provider, and the SDK deep-freezes what it
 * preloads.
 *
 * What this keeps, span for span, of what those interceptors did (and what
 * test/observability/tracing.test.ts checks): the `_tracer-data` header
 * (a W3C `traceparent`/`tracestate` carrier, the activity and client
 * interceptors' format) continued as a `RunWorkflow:<type>` span, one span
 * per signal and update handled, and a span per activity, child workflow,
 * signal sent and continue-as-new started from the workflow, whose context
 * travels on in that command's headers. Spans are handed to the `exporter`
 * sink the workers register (runtime/tracing.ts), which is not called on
 * replay, so a replayed or reset run exports nothing twice.
 *
 * Ids come from the sandbox's seeded `Math.random` and times from its
 * workflow clock, as in the library: deterministic on replay.
 */
import {
  AsyncLocalStorage,
  ContinueAsNew,
  defaultPayloadConverter,
  proxySinks,
  workflowInfo,
  type ActivityInput,
  type ContinueAsNewInput,
  type LocalActivityInput,
  type Next,
  type SignalInput,
  type SignalWorkflowInput,
  type StartChildWorkflowExecutionInput,
  type UpdateInput,
  type WorkflowExecuteInput,
  type WorkflowInboundCallsInterceptor,
  type WorkflowOutboundCallsInterceptor,
} from '@temporalio/workflow';
import type { Headers } from '@temporalio/common';
import type { OpenTelemetrySinks, SerializableSpan } from '@temporalio/interceptors-opentelemetry/lib/workflow/definitions.js';

/** The header the OpenTelemetry client and activity interceptors read and write. */
const traceHeader = '_tracer-data';

/** `SpanKind.INTERNAL` and `SpanStatusCode` values of the OpenTelemetry API. */
const internalKind = 0;
const statusCode = { unset: 0, ok: 1, error: 2 } as const;

interface SpanContext {
  traceId: string;
  spanId: string;
  traceFlags: number;
  traceState?: string;
}

/** The span the current code runs in: outbound commands become its children. */
const activeSpan = new AsyncLocalStorage<SpanContext>();

function randomHex(chars: number): string {
  let out = '';
  while (out.length < chars) out += Math.floor(Math.random() * 0x1_0000_0000).toString(16).padStart(8, '0');
  return out.slice(0, chars);
}

/** `00-<trace id>-<span id>-<flags>` (W3C Trace Context), or undefined when malformed. */
function parseTraceparent(value: unknown, traceState: unknown): SpanContext | undefined {
  const match = typeof value === 'string' ? /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/.exec(value) : null;
  if (!match || /^0+$/.test(match[1]!) || /^0+$/.test(match[2]!)) return undefined;
  return { traceId: match[1]!, spanId: match[2]!, traceFlags: parseInt(match[3]!, 16), ...(typeof traceState === 'string' && traceState ? { traceState } : {}) };
}

function contextFromHeaders(headers: Headers): SpanContext | undefined {
  const payload = headers[traceHeader];
  if (!payload) return undefined;
  try {
    const carrier = defaultPayloadConverter.fromPayload<Record<string, unknown>>(payload);
    return parseTraceparent(carrier?.traceparent, carrier?.tracestate);
  } catch {
    return undefined; // A header we cannot read starts a new trace rather than failing the workflow task.
  }
}

function headersWithContext(headers: Headers, context: SpanContext): Headers {
  const carrier: Record<string, string> = { traceparent: `00-${context.traceId}-${context.spanId}-${context.traceFlags.toString(16).padStart(2, '0')}` };
  if (context.traceState) carrier.tracestate = context.traceState;
  return { ...headers, [traceHeader]: defaultPayloadConverter.toPayload(carrier) };
}

type HrTime = [number, number];
const hrTime = (ms: number): HrTime => [Math.floor(ms / 1000), Math.round((ms % 1000) * 1e6)];

/**
 * Runs `fn` in a new span under `parent` (the active span when omitted),
 * ends it when `fn` settles and exports it. `acceptable` errors (a
 * continue-as-new) end the span as OK.
 */
async function inSpan<T>(name: string, parent: SpanContext | undefined, fn: (context: SpanContext) => Promise<T>, acceptable?: (err: unknown) => boolean): Promise<T> {
  const up = parent ?? activeSpan.getStore();
  const context: SpanContext = { traceId: up?.traceId ?? randomHex(32), spanId: randomHex(16), traceFlags: up?.traceFlags ?? 1, ...(up?.traceState ? { traceState: up.traceState } : {}) };
  const startMs = Date.now();
  let status: SerializableSpan['status'] = { code: statusCode.ok };
  const events: SerializableSpan['events'] = [];
  try {
    return await activeSpan.run(context, () => fn(context));
  } catch (err) {
    if (!acceptable?.(err)) {
      const message = err instanceof Error ? err.message : String(err);
      // A benign application failure (an expected outcome) leaves the status unset, as the library does.
      const benign = (err as { category?: unknown } | null)?.category === 'BENIGN';
      status = benign ? { code: statusCode.unset } : { code: statusCode.error, message };
      events.push({ name: 'exception', time: hrTime(Date.now()), attributes: { 'exception.type': (err as Error | null)?.name ?? 'Error', 'exception.message': message } });
    }
    throw err;
  } finally {
    exportSpan(name, context, up?.spanId, startMs, status, events);
  }
}

function exportSpan(name: string, context: SpanContext, parentSpanId: string | undefined, startMs: number, status: SerializableSpan['status'], events: SerializableSpan['events']): void {
  const endMs = Date.now();
  const span: SerializableSpan = {
    name,
    kind: internalKind,
    spanContext: { ...context, isRemote: false },
    ...(parentSpanId ? { parentSpanId } : {}),
    startTime: hrTime(startMs),
    endTime: hrTime(endMs),
    duration: hrTime(endMs - startMs),
    status,
    attributes: {},
    links: [],
    events,
    ended: true,
    droppedAttributesCount: 0,
    droppedEventsCount: 0,
    droppedLinksCount: 0,
    instrumentationLibrary: { name: '@temporalio/interceptor-workflow' },
  };
  proxySinks<OpenTelemetrySinks>().exporter.export([span]);
}

export class TracingInboundInterceptor implements WorkflowInboundCallsInterceptor {
  async execute(input: WorkflowExecuteInput, next: Next<WorkflowInboundCallsInterceptor, 'execute'>): Promise<unknown> {
    return await inSpan(`RunWorkflow:${workflowInfo().workflowType}`, contextFromHeaders(input.headers), () => next(input), (err) => err instanceof ContinueAsNew);
  }

  async handleSignal(input: SignalInput, next: Next<WorkflowInboundCallsInterceptor, 'handleSignal'>): Promise<void> {
    return await inSpan(`HandleSignal:${input.signalName}`, contextFromHeaders(input.headers), () => next(input));
  }

  async handleUpdate(input: UpdateInput, next: Next<WorkflowInboundCallsInterceptor, 'handleUpdate'>): Promise<unknown> {
    return await inSpan(`HandleUpdate:${input.name}`, contextFromHeaders(input.headers), () => next(input));
  }
}

export class TracingOutboundInterceptor implements WorkflowOutboundCallsInterceptor {
  async scheduleActivity(input: ActivityInput, next: Next<WorkflowOutboundCallsInterceptor, 'scheduleActivity'>): Promise<unknown> {
    return await inSpan(`StartActivity:${input.activityType}`, undefined, (span) => next({ ...input, headers: headersWithContext(input.headers, span) }));
  }

  async scheduleLocalActivity(input: LocalActivityInput, next: Next<WorkflowOutboundCallsInterceptor, 'scheduleLocalActivity'>): Promise<unknown> {
    return await inSpan(`StartActivity:${input.activityType}`, undefined, (span) => next({ ...input, headers: headersWithContext(input.headers, span) }));
  }

  async startChildWorkflowExecution(
    input: StartChildWorkflowExecutionInput,
    next: Next<WorkflowOutboundCallsInterceptor, 'startChildWorkflowExecution'>,
  ): Promise<[Promise<string>, Promise<unknown>]> {
    return await inSpan(`StartChildWorkflow:${input.workflowType}`, undefined, (span) => next({ ...input, headers: headersWithContext(input.headers, span) }));
  }

  async signalWorkflow(input: SignalWorkflowInput, next: Next<WorkflowOutboundCallsInterceptor, 'signalWorkflow'>): Promise<void> {
    return await inSpan(`SignalWorkflow:${input.signalName}`, undefined, (span) => next({ ...input, headers: headersWithContext(input.headers, span) }));
  }

  async continueAsNew(input: ContinueAsNewInput, next: Next<WorkflowOutboundCallsInterceptor, 'continueAsNew'>): Promise<never> {
    return await inSpan(
      `ContinueAsNew:${input.options.workflowType}`,
      undefined,
      (span) => next({ ...input, headers: headersWithContext(input.headers, span) }),
      (err) => err instanceof ContinueAsNew,
    );
  }
}
