/**
 * Stored item lists for large batches (`POST /v1/batch-inputs`): the body is
 * streamed (NDJSON line by line, a JSON array read whole), every item is
 * validated against the job type's input schema and spooled to a temp file,
 * and only once the whole body is in are the rows written, in one
 * transaction, so a list with one bad item stores nothing — and a client that
 * stalls mid-upload holds a socket and a temp file, never a database
 * connection. A `batch.run` job then references the list by id and its
 * workflow reads it in pages.
 */
import { createReadStream } from 'node:fs';
import fs, { type FileHandle } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { and, asc, eq, gt } from 'drizzle-orm';
import { batchItemCatalog, batchLimits, batchInputIdPattern, batchRun, type BatchRunInput } from '../../contracts/index.ts';
import type { Db } from '../../db/client.ts';
import { batchInputItems, batchInputs, batchItemFailures } from '../../db/schema/index.ts';
import type { Config } from '../../runtime/config.ts';
import type { TenantCaller } from '../http/auth.ts';
import { newId } from '../../runtime/ids.ts';
import { inspectJson } from '../http/json-guard.ts';
import { fieldErrors, ProblemError, type FieldError } from '../http/problems.ts';
import type { JobRow } from '../../db/schema/index.ts';
import { recordAudit } from '../../db/audit.ts';
import { addDailyUsage, utcDay } from '../../db/usage.ts';

/** Rows per INSERT while storing a list. */
const insertChunk = 1000;

export type BatchInputFormat = 'json' | 'ndjson';

/** The body format from Content-Type; 415 for anything else. */
export function batchInputFormat(contentType: string | undefined): BatchInputFormat {
  const type = (contentType ?? '').split(';')[0]!.trim().toLowerCase();
  if (type === 'application/json') return 'json';
  if (type === 'application/x-ndjson' || type === 'application/ndjson' || type === 'application/jsonl') return 'ndjson';
  throw new ProblemError('unsupported-media-type', `got ${type ? `"${type}"` : 'no Content-Type'}; send application/json (an array) or application/x-ndjson`);
}

/** Yields the body's text in chunks, refusing it past `limitBytes` (413) without reading the rest. */
async function* boundedText(body: ReadableStream<Uint8Array> | null, limitBytes: number): AsyncGenerator<string> {
  if (!body) return;
  const decoder = new TextDecoder('utf-8', { fatal: true });
  let bytes = 0;
  for await (const chunk of body as unknown as AsyncIterable<Uint8Array>) {
    bytes += chunk.byteLength;
    if (bytes > limitBytes) throw new ProblemError('payload-too-large', `a stored list body may be at most ${limitBytes} bytes (JOBPLANE_BATCH_INPUT_LIMIT_BYTES)`);
    yield decoder.decode(chunk, { stream: true });
  }
  yield decoder.decode();
}

/** The items of the body, one at a time; malformed JSON is a 400 at the item's index. */
async function* parseItems(format: BatchInputFormat, text: AsyncGenerator<string>, maxDepth: number): AsyncGenerator<unknown> {
  if (format === 'json') {
    let all = '';
    for await (const part of text) all += part;
    const hostile = inspectJson(all, maxDepth + 1, 'items');
    if (hostile) throw new ProblemError('validation-error', `${hostile.path} ${hostile.message}`, { errors: [hostile] });
    let parsed: unknown;
    try {
      parsed = JSON.parse(all);
    } catch (err) {
      throw new ProblemError('malformed-json', (err as Error).message);
    }
    if (!Array.isArray(parsed)) throw new ProblemError('validation-error', 'the body must be a JSON array of items', { errors: [{ path: 'items', message: 'expected an array' }] });
    yield* parsed;
    return;
  }
  let rest = '';
  let index = 0;
  const parseLine = (line: string): unknown => {
    const hostile = inspectJson(line, maxDepth, `items.${index}`);
    if (hostile) throw new ProblemError('validation-error', `${hostile.path} ${hostile.message}`, { errors: [hostile] });
    try {
      return JSON.parse(line);
    } catch (err) {
      throw new ProblemError('validation-error', 'a line is not valid JSON', { errors: [{ path: `items.${index}`, message: (err as Error).message }] });
    }
  };
  for await (const part of text) {
    rest += part;
    // Scan from an offset and cut once per chunk: linear in the body, however many lines a chunk holds.
    let start = 0;
    let nl: number;
    while ((nl = rest.indexOf('\n', start)) >= 0) {
      const line = rest.slice(start, nl).trim();
      start = nl + 1;
      if (!line) continue;
      yield parseLine(line);
      index++;
    }
    rest = rest.slice(start);
  }
  if (rest.trim()) yield parseLine(rest.trim());
}

export interface StoredBatchInput {
  id: string;
  jobType: string;
  count: number;
  createdAt: string;
}

export async function createBatchInput(
  deps: { db: Db; config: Pick<Config, 'batchInputLimitBytes' | 'batchInputMaxItems' | 'batchInputMaxItemBytes' | 'jsonMaxDepth'> },
  caller: TenantCaller,
  jobType: string,
  format: BatchInputFormat,
  body: ReadableStream<Uint8Array> | null,
  requestId: string,
): Promise<StoredBatchInput> {
  const contract = Object.hasOwn(batchItemCatalog, jobType) ? batchItemCatalog[jobType]! : undefined;
  if (!contract) {
    throw new ProblemError('validation-error', `unknown item job type "${jobType}"`, {
      errors: [{ path: 'query.jobType', message: `must be one of: ${Object.keys(batchItemCatalog).join(', ')}` }],
    });
  }
  const spool = await ItemSpool.open();
  try {
    const count = await validateInto(spool, contract.input, jobType, format, body, deps.config);
    return await storeSpooled(deps.db, caller, jobType, spool, count, requestId);
  } finally {
    await spool.discard();
  }
}

/** Reads and validates the whole body into the spool; throws 400/413 with nothing stored. */
async function validateInto(
  spool: ItemSpool,
  schema: (typeof batchItemCatalog)[string]['input'],
  jobType: string,
  format: BatchInputFormat,
  body: ReadableStream<Uint8Array> | null,
  config: Pick<Config, 'batchInputLimitBytes' | 'batchInputMaxItems' | 'batchInputMaxItemBytes' | 'jsonMaxDepth'>,
): Promise<number> {
  const errors: FieldError[] = [];
  let count = 0;
  for await (const item of parseItems(format, boundedText(body, config.batchInputLimitBytes), config.jsonMaxDepth)) {
    const index = count++;
    if (count > config.batchInputMaxItems) {
      throw new ProblemError('validation-error', `a stored list holds at most ${config.batchInputMaxItems} items (JOBPLANE_BATCH_INPUT_MAX_ITEMS)`, {
        errors: [{ path: 'items', message: `more than ${config.batchInputMaxItems} items` }],
      });
    }
    const parsed = schema.safeParse(item);
    const json = parsed.success ? JSON.stringify(parsed.data) : '';
    if (!parsed.success) errors.push(...fieldErrors(parsed.error, `items.${index}`));
    else if (json.length > config.batchInputMaxItemBytes) {
      errors.push({ path: `items.${index}`, message: `an item may be at most ${config.batchInputMaxItemBytes} bytes of JSON` });
    }
    if (errors.length >= batchLimits.maxReportedItemErrors) break;
    if (errors.length === 0) await spool.write(json);
  }
  if (errors.length > 0) {
    throw new ProblemError('validation-error', `items do not match the ${jobType} input schema; nothing was stored`, { errors: errors.slice(0, batchLimits.maxReportedItemErrors) });
  }
  if (count === 0) throw new ProblemError('validation-error', 'the list is empty', { errors: [{ path: 'items', message: 'at least one item' }] });
  return count;
}

/** The list, its items (from the spool, `insertChunk` rows per INSERT) and its audit record, in one transaction. */
async function storeSpooled(db: Db, caller: TenantCaller, jobType: string, spool: ItemSpool, count: number, requestId: string): Promise<StoredBatchInput> {
  const id = newId('batchInput');
  return await db.transaction(async (tx) => {
    const [row] = await tx.insert(batchInputs).values({ id, tenantId: caller.tenantId, jobType, itemCount: count, createdByKeyId: caller.keyId }).returning();
    let chunk: { inputId: string; idx: number; item: unknown }[] = [];
    let idx = 0;
    let bytes = 0;
    for await (const json of spool.read()) {
      bytes += Buffer.byteLength(json);
      chunk.push({ inputId: id, idx: idx++, item: JSON.parse(json) as unknown });
      if (chunk.length >= insertChunk) {
        await tx.insert(batchInputItems).values(chunk);
        chunk = [];
      }
    }
    if (chunk.length > 0) await tx.insert(batchInputItems).values(chunk);
    // The list is storage the tenant's batch.run jobs read: its JSON bytes count on the upload's day (docs/USAGE.md).
    await addDailyUsage(tx, { tenantId: caller.tenantId, jobType: batchRun.type, day: utcDay(row!.createdAt) }, { storageBytes: bytes });
    await recordAudit(tx, {
      tenantId: caller.tenantId,
      actorKeyId: caller.keyId,
      action: 'batch_input.create',
      target: id,
      requestId,
      detail: { jobType, count },
    });
    return { id, jobType, count, createdAt: row!.createdAt.toISOString() };
  });
}

/** Validated items, one JSON line each, in a private temp file while the body is still arriving. */
class ItemSpool {
  private constructor(
    private readonly dir: string,
    private readonly file: string,
    private readonly out: FileHandle,
  ) {}

  static async open(): Promise<ItemSpool> {
    const dir = await fs.mkdtemp(path.join(tmpdir(), 'jobplane-batch-input-'));
    const file = path.join(dir, 'items.ndjson');
    return new ItemSpool(dir, file, await fs.open(file, 'w', 0o600));
  }

  async write(json: string): Promise<void> {
    await this.out.write(`${json}\n`);
  }

  async *read(): AsyncGenerator<string> {
    await this.out.close().catch(() => {});
    const lines = createInterface({ input: createReadStream(this.file), crlfDelay: Infinity });
    for await (const line of lines) if (line) yield line;
  }

  async discard(): Promise<void> {
    await this.out.close().catch(() => {});
    await fs.rm(this.dir, { recursive: true, force: true });
  }
}

/** The caller's stored list, or 404 — also for a malformed id and another tenant's list. */
export async function findBatchInput(db: Db, caller: TenantCaller, id: string): Promise<StoredBatchInput> {
  const [row] = batchInputIdPattern.test(id)
    ? await db.select().from(batchInputs).where(and(eq(batchInputs.id, id), eq(batchInputs.tenantId, caller.tenantId)))
    : [];
  if (!row) throw new ProblemError('not-found', `no stored item list ${id}`);
  return { id: row.id, jobType: row.jobType, count: row.itemCount, createdAt: row.createdAt.toISOString() };
}

/** Before a `batch.run` job starts: its `itemsRef` must be the caller's list, of the same job type (400 at `input.itemsRef` otherwise). */
export async function checkBatchItemsRef(db: Db, caller: TenantCaller, input: BatchRunInput): Promise<void> {
  if (!input.itemsRef) return;
  const list = await findBatchInput(db, caller, input.itemsRef).catch((err: unknown) => {
    if (err instanceof ProblemError && err.slug === 'not-found') return undefined;
    throw err;
  });
  const problem = !list
    ? `no stored item list ${input.itemsRef}`
    : list.jobType !== input.jobType
      ? `the list holds ${list.jobType} items, not ${input.jobType}`
      : undefined;
  if (problem) throw new ProblemError('validation-error', problem, { errors: [{ path: 'input.itemsRef', message: problem }] });
}

export interface FailedItemsPage {
  items: { index: number; type: string; message: string; round: number; failedAt: string }[];
  nextCursor: string | null;
}

/** Failed items of a batch job by index, `limit` at a time after `cursor` (the last index of the previous page). */
export async function listFailedItems(db: Db, row: JobRow, cursor: string | undefined, limit: number): Promise<FailedItemsPage> {
  if (row.type !== 'batch.run') throw new ProblemError('not-found', `job ${row.id} is a ${row.type} job, not a batch`);
  const after = cursor === undefined ? -1 : Number(cursor);
  if (!Number.isInteger(after) || after < -1) throw new ProblemError('validation-error', 'invalid cursor', { errors: [{ path: 'query.cursor', message: 'use nextCursor of the previous page' }] });
  const rows = await db
    .select({ index: batchItemFailures.itemIndex, type: batchItemFailures.errorType, message: batchItemFailures.message, round: batchItemFailures.round, failedAt: batchItemFailures.failedAt })
    .from(batchItemFailures)
    .where(and(eq(batchItemFailures.tenantId, row.tenantId), eq(batchItemFailures.batchJobId, row.id), gt(batchItemFailures.itemIndex, after)))
    .orderBy(asc(batchItemFailures.itemIndex))
    .limit(limit + 1);
  const page = rows.slice(0, limit);
  return {
    items: page.map((r) => ({ ...r, failedAt: r.failedAt.toISOString() })),
    nextCursor: rows.length > limit ? String(page.at(-1)!.index) : null,
  };
}
