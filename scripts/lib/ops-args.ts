/** Argument parsing of the ops CLI (`npm run ops -- <command> …`): one typed command, or a usage error. */
import { parseArgs } from 'node:util';

export const opsUsage = `usage: npm run ops -- <command> [options]

commands:
  stuck [--min-attempts N] [--older-than 1h] [--type JOB_TYPE] [--limit N]
                                  running jobs that look stuck, with the commands that fix them
  describe <jobId> [--min-attempts N] [--older-than 1h]
                                  status, pending work, attempts, decoded last failure, fix commands
  reset <jobId> [--to last|first|<eventId>] --reason TEXT
                                  new run from the last (default) or first completed workflow task, or an event
  reset-batch [--type JOB_TYPE] [--build-id ID] [--to last|first] --reason TEXT [--detach]
                                  server-side batch reset of the tenant's running jobs; waits unless --detach
  batch <batchJobId>              state and progress of a batch
  terminate <jobId> --reason TEXT end a running job now
  retry <jobId>                   run a finished job again as a new job (same input, retryOf set)

options:
  --json            print the API's JSON instead of text
  --url URL         API base URL (default: $JOBPLANE_API_URL or http://localhost:3000)
  --key-file PATH   file holding an operator key (default: $JOBPLANE_API_KEY, else .data/dev-api-key)
  -h, --help        this text

exit codes: 0 done, 1 the API refused or could not be reached (problem detail on stderr), 2 bad usage`;

export type ResetTo = 'last-workflow-task' | 'first-workflow-task' | { eventId: number };

export type OpsCommand =
  | { name: 'stuck'; minAttempts?: number; olderThan?: string; type?: string; limit?: number }
  | { name: 'describe'; jobId: string; minAttempts?: number; olderThan?: string }
  | { name: 'reset'; jobId: string; to: ResetTo; reason: string }
  | { name: 'reset-batch'; jobType?: string; buildId?: string; to: 'last-workflow-task' | 'first-workflow-task'; reason: string; detach: boolean }
  | { name: 'batch'; batchJobId: string }
  | { name: 'terminate'; jobId: string; reason: string }
  | { name: 'retry'; jobId: string };

export interface OpsArgs {
  command: OpsCommand;
  json: boolean;
  url?: string;
  keyFile?: string;
}

/** Thrown for bad usage; the CLI prints it with the usage text and exits 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}

const options = {
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
  url: { type: 'string' },
  'key-file': { type: 'string' },
  'min-attempts': { type: 'string' },
  'older-than': { type: 'string' },
  type: { type: 'string' },
  limit: { type: 'string' },
  to: { type: 'string' },
  reason: { type: 'string' },
  'build-id': { type: 'string' },
  detach: { type: 'boolean' },
} as const;

/** Which options each command takes (the global ones are always allowed). */
const allowed: Record<OpsCommand['name'], string[]> = {
  stuck: ['min-attempts', 'older-than', 'type', 'limit'],
  describe: ['min-attempts', 'older-than'],
  reset: ['to', 'reason'],
  'reset-batch': ['type', 'build-id', 'to', 'reason', 'detach'],
  batch: [],
  terminate: ['reason'],
  retry: [],
};
const globalOptions = ['json', 'help', 'url', 'key-file'];

function positiveInt(flag: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value) || Number(value) < 1) throw new UsageError(`--${flag} must be a positive whole number, got "${value}"`);
  return Number(value);
}

function resetTo(value: string | undefined, allowEvent: boolean): ResetTo {
  if (value === undefined || value === 'last') return 'last-workflow-task';
  if (value === 'first') return 'first-workflow-task';
  if (allowEvent && /^\d+$/.test(value) && Number(value) > 0) return { eventId: Number(value) };
  throw new UsageError(`--to must be last, first${allowEvent ? ' or an event id' : ''}, got "${value}"`);
}

/** Parses `argv` (without node and the script); `'help'` when help was asked for. */
export function parseOpsArgs(argv: string[]): OpsArgs | 'help' {
  let parsed: ReturnType<typeof parseArgs<{ args: string[]; options: typeof options; allowPositionals: true; strict: true }>>;
  try {
    parsed = parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const { values: v, positionals } = parsed;
  if (v.help || positionals.length === 0) return 'help';
  const [name, ...rest] = positionals;
  if (!name || !Object.hasOwn(allowed, name)) throw new UsageError(`unknown command "${name}"`);
  const cmd = name as OpsCommand['name'];
  const given = Object.keys(v).filter((k) => v[k as keyof typeof v] !== undefined);
  const stray = given.filter((k) => !globalOptions.includes(k) && !allowed[cmd].includes(k));
  if (stray.length > 0) throw new UsageError(`${cmd} does not take --${stray.join(', --')}`);

  const needsId = ['describe', 'reset', 'batch', 'terminate', 'retry'].includes(cmd);
  if (needsId && rest.length !== 1) throw new UsageError(`${cmd} takes exactly one ${cmd === 'batch' ? 'batch job id' : 'job id'}`);
  if (!needsId && rest.length > 0) throw new UsageError(`${cmd} takes no arguments, got "${rest.join(' ')}"`);
  const id = rest[0]!;
  const reason = () => {
    if (!v.reason?.trim()) throw new UsageError(`${cmd} needs --reason TEXT (it is recorded in Temporal and in the audit log)`);
    return v.reason;
  };

  let command: OpsCommand;
  switch (cmd) {
    case 'stuck':
      command = { name: cmd, minAttempts: positiveInt('min-attempts', v['min-attempts']), olderThan: v['older-than'], type: v.type, limit: positiveInt('limit', v.limit) };
      break;
    case 'describe':
      command = { name: cmd, jobId: id, minAttempts: positiveInt('min-attempts', v['min-attempts']), olderThan: v['older-than'] };
      break;
    case 'reset':
      command = { name: cmd, jobId: id, to: resetTo(v.to, true), reason: reason() };
      break;
    case 'reset-batch':
      command = { name: cmd, jobType: v.type, buildId: v['build-id'], to: resetTo(v.to, false) as 'last-workflow-task' | 'first-workflow-task', reason: reason(), detach: v.detach ?? false };
      break;
    case 'batch':
      command = { name: cmd, batchJobId: id };
      break;
    case 'terminate':
      command = { name: cmd, jobId: id, reason: reason() };
      break;
    case 'retry':
      command = { name: cmd, jobId: id };
      break;
  }
  return { command, json: v.json ?? false, url: v.url, keyFile: v['key-file'] };
}
