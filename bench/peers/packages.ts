/**
 * The peers' packages come from bench/peers/node_modules, installed on demand
 * (run.ts), so the app's `npm run typecheck` must not need them: they are
 * loaded by a specifier TypeScript does not resolve, typed by the few
 * members this bench uses (checked against bullmq 6.7.0 and graphile-worker
 * 0.17.3).
 */
import type { Http2ServerRequest, Http2ServerResponse } from 'node:http2';

/** A bare specifier in a variable: Node resolves it from bench/peers (its node_modules first), TypeScript leaves it alone. */
const load = async <T>(name: string): Promise<T> => (await import(name)) as T;

export interface BullJob<D> {
  data: D;
  updateData(data: D): Promise<void>;
}
export interface BullConnection {
  host: string;
  port: number;
  maxRetriesPerRequest: null;
}
export interface BullQueue {
  add(name: string, data: unknown, opts?: { jobId?: string; attempts?: number; backoff?: { type: 'exponential' | 'fixed'; delay: number } }): Promise<unknown>;
  close(): Promise<void>;
}
export interface BullWorker<D> {
  on(event: 'completed', fn: (job: BullJob<D>) => void): void;
  on(event: 'failed', fn: (job: BullJob<D> | undefined, err: Error) => void): void;
  waitUntilReady(): Promise<unknown>;
  close(): Promise<void>;
}
export interface BullMq {
  Queue: new (name: string, opts: { connection: BullConnection }) => BullQueue;
  Worker: new <D>(name: string, fn: (job: BullJob<D>) => Promise<unknown>, opts: { connection: BullConnection; concurrency: number }) => BullWorker<D>;
}
export const loadBullMq = () => load<BullMq>('bullmq');

export interface GraphileJob {
  task_identifier: string;
  payload: unknown;
}
export interface GraphilePgClient {
  query(text: string, values?: unknown[]): Promise<unknown>;
}
export interface GraphileHelpers {
  withPgClient<T>(fn: (client: GraphilePgClient) => Promise<T>): Promise<T>;
}
export interface GraphileRunner {
  stop(): Promise<void>;
  addJob(task: string, payload: unknown): Promise<unknown>;
  events: { on(event: 'job:complete', fn: (e: { job: GraphileJob; error: unknown }) => void): void };
}
export interface GraphileWorker {
  run(opts: {
    connectionString: string;
    concurrency: number;
    maxPoolSize: number;
    noHandleSignals: boolean;
    logger: unknown;
    taskList: Record<string, (payload: unknown, helpers: GraphileHelpers) => Promise<void>>;
  }): Promise<GraphileRunner>;
  Logger: new (factory: () => () => void) => unknown;
}
export const loadGraphileWorker = () => load<GraphileWorker>('graphile-worker');

export interface DbosHandle {
  getResult(): Promise<unknown>;
}
export interface Dbos {
  DBOS: {
    setConfig(config: { name: string; systemDatabaseUrl: string; logLevel?: string }): void;
    launch(): Promise<void>;
    shutdown(): Promise<void>;
    registerWorkflow<A extends unknown[]>(fn: (...args: A) => Promise<void>, config: { name: string }): (...args: A) => Promise<void>;
    runStep<R>(fn: () => Promise<R>, config: { name: string }): Promise<R>;
    registerQueue(name: string, options: { workerConcurrency?: number; minPollingIntervalMs?: number }): Promise<unknown>;
    startWorkflow<A extends unknown[]>(fn: (...args: A) => Promise<void>, params: { workflowID: string; queueName: string }): (...args: A) => Promise<DbosHandle>;
  };
}
export const loadDbos = () => load<Dbos>('@dbos-inc/dbos-sdk');

export interface RestateContext {
  run<R>(name: string, fn: () => Promise<R>): Promise<R>;
}
export interface RestateSdk {
  service(def: { name: string; handlers: Record<string, (ctx: RestateContext, input: string) => Promise<void>> }): unknown;
  createEndpointHandler(opts: { services: unknown[] }): (req: Http2ServerRequest, res: Http2ServerResponse) => void;
}
export const loadRestateSdk = () => load<RestateSdk>('@restatedev/restate-sdk');
