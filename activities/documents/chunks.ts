/**
 * Splits a document's text into chunks for the full-text index: chunks end
 * at paragraph boundaries, a paragraph longer than the target at sentence
 * boundaries, and a sentence longer than that at a space. Deterministic, so
 * a retried or reset indexing produces the same chunks.
 */

export interface Chunk {
  index: number;
  /** 1-based page of a paginated document; null otherwise. */
  page: number | null;
  /** Offset of the chunk in the stored text (pages joined by `\f`). */
  charStart: number;
  content: string;
}

interface Segment {
  start: number;
  end: number;
}

/** Pieces of `text[from, to)` no longer than `max` characters, split at the best boundary available. */
function segments(text: string, from: number, to: number, max: number): Segment[] {
  if (to - from <= max) return [{ start: from, end: to }];
  const piece = text.slice(from, to);
  for (const boundary of [/\n\n+/g, /(?<=[.!?;:])\s+/g, /\s+/g]) {
    const cuts = [...piece.matchAll(boundary)].map((m) => ({ at: from + m.index, after: from + m.index + m[0].length }));
    if (cuts.length === 0) continue;
    const out: Segment[] = [];
    let start = from;
    for (const cut of cuts) {
      if (cut.at > start) out.push({ start, end: cut.at });
      start = cut.after;
    }
    if (start < to) out.push({ start, end: to });
    return out.flatMap((s) => (s.end - s.start > max ? segments(text, s.start, s.end, max) : [s]));
  }
  // One unbroken run of characters (a hash, a base64 blob): cut it.
  const out: Segment[] = [];
  for (let start = from; start < to; start += max) out.push({ start, end: Math.min(to, start + max) });
  return out;
}

/** Chunks of `pages` (joined by `\f` in the stored text) of about `target` characters each. */
export function chunkPages(pages: readonly string[], target: number, paginated: boolean): Chunk[] {
  const chunks: Chunk[] = [];
  const text = pages.join('\f');
  let pageStart = 0;
  pages.forEach((pageText, i) => {
    const pageEnd = pageStart + pageText.length;
    let current: Segment | undefined;
    const flush = () => {
      if (!current) return;
      const content = text.slice(current.start, current.end).trim();
      if (content) chunks.push({ index: chunks.length, page: paginated ? i + 1 : null, charStart: current.start, content });
      current = undefined;
    };
    for (const seg of segments(text, pageStart, pageEnd, target)) {
      if (current && seg.end - current.start > target) flush();
      current = current ? { start: current.start, end: seg.end } : seg;
    }
    flush();
    pageStart = pageEnd + 1;
  });
  return chunks;
}
