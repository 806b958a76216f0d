/**
 * `GET /v1/documents/search`: Postgres full-text search over the caller
 * tenant's ingested documents. The query is parsed with
 * `websearch_to_tsquery` (words, "phrases", `or`, `-not`), matched against
 * the GIN-indexed `tsvector` of every chunk, ranked with `ts_rank_cd`; each
 * document appears once, with its best chunk, and a `ts_headline` snippet
 * computed only for the page returned. Pages are keyset-paginated on
 * (rank, document id). Only `ingested` documents match: a document being
 * ingested, failed or deleted is never found, whatever chunks exist.
 */
import { sql } from 'drizzle-orm';
import type { Db } from '../../db/client.ts';
import type { TenantCaller } from '../http/auth.ts';
import { documentIdPattern } from '../../contracts/ids.ts';
import { ProblemError } from '../http/problems.ts';

/** Highlight markers ts_headline puts around matches; control characters cannot occur in indexed text. */
const open = '\u0001';
const close = '\u0002';
const headlineOptions = `StartSel=${open}, StopSel=${close}, MaxWords=35, MinWords=15, MaxFragments=2, FragmentDelimiter=" … "`;

const escapeHtml = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');

/** Escapes the snippet for HTML and turns the match markers into `<mark>` tags. */
export function snippetHtml(headline: string): string {
  return escapeHtml(headline).split(open).join('<mark>').split(close).join('</mark>');
}

function encodeCursor(rank: number, documentId: string): string {
  return Buffer.from(JSON.stringify([rank, documentId])).toString('base64url');
}

function decodeCursor(cursor: string): { rank: number; documentId: string } {
  try {
    const [rank, documentId] = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as [unknown, unknown];
    if (typeof rank === 'number' && Number.isFinite(rank) && typeof documentId === 'string' && documentIdPattern.test(documentId)) return { rank, documentId };
  } catch {
    // fall through
  }
  throw new ProblemError('validation-error', 'bad cursor', { errors: [{ path: 'query.cursor', message: 'not a cursor this API returned' }] });
}

interface HitRow extends Record<string, unknown> {
  document_id: string;
  chunk_index: number;
  page: number | null;
  rank: number;
  title: string | null;
  content_type: string;
  label: string | null;
  confidence: number | null;
  snippet: string;
}

export async function searchDocuments(
  deps: { db: Db; config: { publicUrl: string } },
  caller: TenantCaller,
  query: { q: string; limit: number; cursor?: string },
) {
  const after = query.cursor ? decodeCursor(query.cursor) : undefined;
  // The rank is compared as float8 both ways, so a cursor's rank round-trips exactly.
  const rows = await deps.db.execute<HitRow>(sql`
    with q as (select websearch_to_tsquery('english', ${query.q}) as query),
    best as (
      select distinct on (c.document_id) c.document_id, c.chunk_index, c.page, c.content, ts_rank_cd(c.tsv, q.query)::float8 as rank
      from document_chunks c
      join documents d on d.id = c.document_id and d.tenant_id = ${caller.tenantId} and d.status = 'ingested'
      cross join q
      where c.tenant_id = ${caller.tenantId} and c.tsv @@ q.query
      order by c.document_id, rank desc, c.chunk_index
    ),
    page as (
      select * from best
      ${after ? sql`where best.rank < ${after.rank}::float8 or (best.rank = ${after.rank}::float8 and best.document_id > ${after.documentId})` : sql``}
      order by rank desc, document_id
      limit ${query.limit + 1}
    )
    select p.document_id, p.chunk_index, p.page, p.rank, d.title, d.content_type, cl.label, cl.confidence,
           ts_headline('english', p.content, q.query, ${headlineOptions}) as snippet
    from page p
    join documents d on d.id = p.document_id
    left join document_classifications cl on cl.document_id = p.document_id
    cross join q
    order by p.rank desc, p.document_id`);
  const hits = [...rows];
  const page = hits.slice(0, query.limit);
  const base = `${deps.config.publicUrl}/v1/documents`;
  return {
    items: page.map((h) => ({
      documentId: h.document_id,
      title: h.title,
      contentType: h.content_type,
      classification: h.label ? { label: h.label, confidence: Number(h.confidence) } : null,
      rank: Number(h.rank),
      page: h.page,
      chunkIndex: h.chunk_index,
      snippet: snippetHtml(h.snippet),
      links: { self: `${base}/${h.document_id}`, content: `${base}/${h.document_id}/content` },
    })),
    nextCursor: hits.length > query.limit ? encodeCursor(Number(page.at(-1)!.rank), page.at(-1)!.document_id) : null,
  };
}
