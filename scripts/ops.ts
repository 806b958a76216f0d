/**
 * The on-call CLI: finds stuck jobs and resets, terminates or retries them
 * through the Jobplane API (so every action is tenant-scoped, role-checked
 * and audited). Run `npm run ops -- --help`.
 *
 *   JOBPLANE_API_URL   API base URL (default http://localhost:3000)
 *   JOBPLANE_API_KEY   an operator (or admin) key; else --key-file, else .data/dev-api-key
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { JobplaneClient } from '../client/jobplane-client.ts';
import { JobplaneProblemError } from '../client/errors.ts';
import { opsUsage, parseOpsArgs, UsageError, type OpsArgs } from './lib/ops-args.ts';
import { formatBatch, formatBatchStarted, formatDiagnosis, formatJob, formatReset, formatStuck } from './lib/ops-format.ts';

function apiKey(args: OpsArgs): string {
  const file = args.keyFile ?? (process.env.JOBPLANE_API_KEY ? undefined : path.join(process.env.JOBPLANE_DATA_DIR ?? '.data', 'dev-api-key'));
  if (!file) return process.env.JOBPLANE_API_KEY!;
  try {
    return readFileSync(file, 'utf8').trim();
  } catch (err) {
    throw new UsageError(`no API key: set JOBPLANE_API_KEY or pass --key-file (could not read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
}

const baseUrlOf = (args: OpsArgs) => args.url ?? process.env.JOBPLANE_API_URL ?? 'http://localhost:3000';

async function run(args: OpsArgs, out: (text: string) => void): Promise<void> {
  const baseUrl = baseUrlOf(args);
  const api = new JobplaneClient({ baseUrl, apiKey: apiKey(args), timeoutMs: 60_000 });
  const print = <T>(value: T, human: (v: T) => string) => out(args.json ? JSON.stringify(value, null, 2) : human(value));
  const c = args.command;
  switch (c.name) {
    case 'stuck':
      return print(await api.stuckJobs({ minAttempts: c.minAttempts, olderThan: c.olderThan, type: c.type, limit: c.limit }), formatStuck);
    case 'describe': {
      const [job, diagnosis] = await Promise.all([api.getJob(c.jobId), api.diagnoseJob(c.jobId, { minAttempts: c.minAttempts, olderThan: c.olderThan })]);
      return print({ job, diagnosis }, (v) => formatDiagnosis(v.job, v.diagnosis));
    }
    case 'reset':
      return print(await api.resetJob(c.jobId, { to: c.to, reason: c.reason }), formatReset);
    case 'reset-batch': {
      const started = await api.resetBatch({ jobType: c.jobType, buildId: c.buildId, to: c.to, reason: c.reason });
      if (c.detach) return print(started, formatBatchStarted);
      if (!args.json) out(formatBatchStarted(started));
      const done = await api.waitForBatch(started.batchJobId, { timeoutMs: 10 * 60_000 });
      print(args.json ? { ...started, batch: done } : done, (v) => formatBatch(v as typeof done));
      if (done.state !== 'completed' || done.failedOperations > 0) process.exitCode = 1;
      return;
    }
    case 'batch':
      return print(await api.getBatch(c.batchJobId), formatBatch);
    case 'terminate':
      return print(await api.terminateJob(c.jobId, c.reason), (j) => formatJob('terminated', j));
    case 'retry':
      return print(await api.retryJob(c.jobId), (j) => formatJob('created', j));
  }
}

function describeProblem(err: JobplaneProblemError): string {
  const p = err.problem;
  const fields = (err.errors ?? []).map((e) => `\n  ${e.path}: ${e.message}`).join('');
  return `error: ${p.status} ${p.title}${p.detail ? `: ${p.detail}` : ''}${fields}\n  type: ${p.type}${p.requestId ? `\n  request id: ${p.requestId}` : ''}`;
}

async function main(argv: string[]): Promise<number> {
  let json = false;
  let baseUrl = '';
  try {
    const args = parseOpsArgs(argv);
    if (args === 'help') {
      console.log(opsUsage);
      return 0;
    }
    json = args.json;
    baseUrl = baseUrlOf(args);
    await run(args, (text) => console.log(text));
    return Number(process.exitCode ?? 0);
  } catch (err) {
    if (err instanceof UsageError) {
      console.error(`${err.message}\n\n${opsUsage}`);
      return 2;
    }
    if (err instanceof JobplaneProblemError) {
      console.error(json ? JSON.stringify(err.problem, null, 2) : describeProblem(err));
      return 1;
    }
    const cause = (err as Error).cause instanceof Error ? ` (${((err as Error).cause as Error).message})` : '';
    const where = err instanceof TypeError || (err as Error).name === 'TimeoutError' ? ` — is the API up at ${baseUrl}?` : '';
    console.error(`error: ${(err as Error).message}${cause}${where}`);
    return 1;
  }
}

process.exitCode = await main(process.argv.slice(2));
