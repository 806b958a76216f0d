/**
 * W5 — document ingestion. N small text documents uploaded through the API
 * (`POST /v1/documents`, multipart, `BENCH_W5_CONCURRENCY` in flight), each
 * ingested by the real `document.ingest` workflow on in-process workers
 * (extract → classify → chunk and index → mark ingested → events).
 *
 * - documents/s: N ÷ (first upload sent → last document searchable);
 * - upload-to-searchable latency per document: from the moment its upload
 *   was sent to the commit that set it `ingested` (`ingested_at`, Postgres
 *   clock on this same machine). Search filters on that status, so this is
 *   the moment it becomes findable; a sample is checked through the search
 *   API afterwards;
 * - baseline, same run, same concurrency: raw single-row INSERT + COMMIT of
 *   the same texts into a table shaped like the index (generated tsvector
 *   under a GIN index) — the cost of one durable indexed write, which every
 *   ingestion pays several times over.
 */
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import postgres from 'postgres';
import { startWorkload, type BenchBase } from './stack.ts';
import { round, runPool, summarize, type Summary } from './util.ts';

export interface W5Settings {
  n: number;
  concurrency: number;
  warmup: number;
  /** Documents checked through `GET /v1/documents/search` afterwards. */
  searchSample: number;
  /** Documents uploaded one at a time first: the pipeline's latency with no queue. */
  sequential: number;
}

export interface W5Result {
  settings: W5Settings;
  api: {
    documents: number;
    /** First upload sent → last document searchable. */
    seconds: number;
    submitSeconds: number;
    documentsPerSec: number;
    /** Upload sent → searchable, ms. */
    uploadToSearchableMs: Summary;
    /** Upload request → 202, ms. */
    uploadMs: Summary;
    failed: number;
  };
  /** One document at a time, each waited for: upload sent → searchable, ms. */
  sequentialToSearchableMs: Summary;
  search: { checked: number; found: number; latencyMs: Summary };
  baseline: { inserts: number; seconds: number; insertsPerSec: number };
  /** documents/s ÷ raw indexed inserts/s. */
  ratio: number;
}

/** A small document: a few paragraphs of business text with one word unique to it. */
function documentText(i: number, token: string): string {
  const kinds = [
    'Invoice number INV-{i}. Bill to: Example Corp. Amount due: {i}.00 EUR. Due date in 30 days. Payment terms apply.',
    'Quarterly report {i}. Executive summary: revenue grew. Findings and recommendations follow; methodology in the appendix.',
    'This Agreement {i} between the parties. Governing law applies. The parties hereby agree to the terms and conditions.',
    'Meeting notes {i}. Attendees discussed the roadmap, hiring and the office move. Next meeting in two weeks.',
  ];
  const lead = kinds[i % kinds.length]!.replaceAll('{i}', String(i));
  return `${lead}\n\nReference ${token}.\n\n${'Supporting detail sentence for a realistic size. '.repeat(20)}`;
}

export async function runW5(base: BenchBase, s: W5Settings, signal: AbortSignal, log: (m: string) => void): Promise<W5Result> {
  const wl = await startWorkload(base, 'w5');
  const sql = postgres(base.databaseUrl, { max: s.concurrency, onnotice: () => {} });
  base.cleanup.add('w5 postgres', () => sql.end({ timeout: 5 }));
  const run = randomBytes(3).toString('hex');
  const token = (i: number) => `w5${run}doc${i}`;

  const upload = async (i: number, prefix: string): Promise<{ id: string; sentAt: number; ms: number }> => {
    const form = new FormData();
    form.set('file', new Blob([documentText(i, `${prefix}${token(i)}`)], { type: 'text/plain' }), `doc-${prefix}${i}.txt`);
    const sentAt = Date.now();
    const t0 = performance.now();
    const res = await fetch(`${wl.apiUrl}/v1/documents`, { method: 'POST', headers: { authorization: `Bearer ${wl.apiKey}` }, body: form, signal });
    const body = (await res.json()) as { id?: string };
    if (res.status !== 202 || !body.id) throw new Error(`POST /v1/documents answered ${res.status}: ${JSON.stringify(body)}`);
    return { id: body.id, sentAt, ms: performance.now() - t0 };
  };

  // Polls only what is still pending, twice a second: the harness must not load Postgres (the
  // latency comes from `ingested_at`, written by the pipeline itself, not from when this notices).
  const settled = async (ids: string[]) => {
    let pending = ids;
    while (pending.length > 0) {
      signal.throwIfAborted();
      const done = await sql<{ id: string }[]>`select id from documents where id = any(${pending}) and status in ('ingested', 'failed')`;
      const finished = new Set(done.map((r) => r.id));
      pending = pending.filter((id) => !finished.has(id));
      if (pending.length > 0) await new Promise((r) => setTimeout(r, pending.length > 1 ? 500 : 50));
    }
  };

  // Warm-up: a new task queue, cold caches and JIT, before any clock runs.
  log(`W5: warm-up of ${s.warmup} documents`);
  await settled((await runPool(s.warmup, s.concurrency, signal, (i) => upload(i, 'warm'))).map((u) => u.id));

  log(`W5: ${s.sequential} documents one at a time (latency with no queue)`);
  const sequential: number[] = [];
  for (let i = 0; i < s.sequential; i++) {
    const u = await upload(i, 'seq');
    await settled([u.id]);
    const [row] = await sql<{ ingested_at: Date | null }[]>`select ingested_at from documents where id = ${u.id}`;
    if (row?.ingested_at) sequential.push(row.ingested_at.getTime() - u.sentAt);
  }

  log(`W5: ${s.n} documents through POST /v1/documents, ${s.concurrency} in flight`);
  const t0 = Date.now();
  const uploads = await runPool(s.n, s.concurrency, signal, (i) => upload(i, ''));
  const submitSeconds = (Date.now() - t0) / 1000;
  const ids = uploads.map((u) => u.id);
  await settled(ids);
  const rows = await sql<{ id: string; status: string; ingested_at: Date | null }[]>`select id, status, ingested_at from documents where id = any(${ids})`;
  const byId = new Map(rows.map((r) => [r.id, r]));
  const latencies = uploads.flatMap((u) => {
    const at = byId.get(u.id)?.ingested_at;
    return at ? [at.getTime() - u.sentAt] : [];
  });
  const lastSearchable = Math.max(...rows.flatMap((r) => (r.ingested_at ? [r.ingested_at.getTime()] : [])));
  const seconds = (lastSearchable - t0) / 1000;
  const failed = rows.filter((r) => r.status !== 'ingested').length;

  // Correctness spot check through the API: each sampled document is found by its own word.
  const sample = Array.from({ length: Math.min(s.searchSample, s.n) }, (_, k) => Math.floor((k * s.n) / Math.min(s.searchSample, s.n)));
  const searchMs: number[] = [];
  let found = 0;
  for (const i of sample) {
    const started = performance.now();
    const res = await fetch(`${wl.apiUrl}/v1/documents/search?q=${token(i)}`, { headers: { authorization: `Bearer ${wl.apiKey}` }, signal });
    const body = (await res.json()) as { items?: { documentId: string }[] };
    searchMs.push(performance.now() - started);
    if (body.items?.length === 1 && body.items[0]!.documentId === ids[i]) found++;
  }

  log(`W5 baseline: ${s.n} raw INSERT + COMMIT into an indexed tsvector table`);
  await sql`create table if not exists bench_w5_raw (id bigserial primary key, content text not null, tsv tsvector generated always as (to_tsvector('english', content)) stored)`;
  await sql`create index if not exists bench_w5_raw_tsv on bench_w5_raw using gin (tsv)`;
  for (let i = 0; i < s.warmup; i++) await sql`insert into bench_w5_raw (content) values (${documentText(i, `warm${token(i)}`)})`;
  const b0 = performance.now();
  await runPool(s.n, s.concurrency, signal, (i) => sql`insert into bench_w5_raw (content) values (${documentText(i, `raw${token(i)}`)})`);
  const baselineSeconds = (performance.now() - b0) / 1000;
  await sql`drop table bench_w5_raw`;

  const documentsPerSec = s.n / seconds;
  const insertsPerSec = s.n / baselineSeconds;
  return {
    settings: s,
    api: {
      documents: s.n,
      seconds: round(seconds, 3),
      submitSeconds: round(submitSeconds, 3),
      documentsPerSec: round(documentsPerSec, 1),
      uploadToSearchableMs: summarize(latencies),
      uploadMs: summarize(uploads.map((u) => u.ms)),
      failed,
    },
    sequentialToSearchableMs: summarize(sequential),
    search: { checked: sample.length, found, latencyMs: summarize(searchMs) },
    baseline: { inserts: s.n, seconds: round(baselineSeconds, 3), insertsPerSec: round(insertsPerSec, 1) },
    ratio: round(documentsPerSec / insertsPerSec, 4),
  };
}
