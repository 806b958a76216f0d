/**
 * Text out of a document's bytes, per content type. Nothing is executed:
 * PDFs are parsed by PDF.js (through `unpdf`) with `eval` off and no fonts
 * loaded, in a worker thread with a heap limit and a deadline, after a scan
 * that bounds what its streams inflate to (pdf-limits.ts); HTML is tokenized
 * by htmlparser2 and only its text kept (script, style and template contents
 * dropped); Markdown loses its syntax; plain text and CSV are taken as they
 * are. The result is normalized so Postgres can store and index it (no NUL
 * or other control characters).
 */
import { Worker } from 'node:worker_threads';
import { Parser } from 'htmlparser2';
import type { DocumentContentType } from '../../contracts/index.ts';
import { DocumentTooComplexError, scanPdfStreams } from './pdf-limits.ts';

export { DocumentTooComplexError } from './pdf-limits.ts';

/** What reading one document may cost. */
export interface ExtractionLimits {
  /** Text characters (JOBPLANE_DOCUMENT_MAX_TEXT_CHARS); checked while reading. */
  maxTextChars: number;
  /** Bytes a PDF's streams may inflate to (JOBPLANE_DOCUMENT_MAX_INFLATED_BYTES). */
  maxInflatedBytes: number;
  /** Pages of a PDF (JOBPLANE_DOCUMENT_MAX_PAGES). */
  maxPages: number;
  /** Wall time of a PDF's extraction (JOBPLANE_DOCUMENT_EXTRACT_TIMEOUT_MS). */
  timeoutMs: number;
  /** Heap of the extraction thread, MiB (JOBPLANE_DOCUMENT_EXTRACT_MEMORY_MB). */
  memoryMb: number;
}

/** Thrown when a document has more text than the limit allows (found while reading). */
export class TextTooLongError extends Error {
  override name = 'TextTooLongError';
}

export interface ExtractedText {
  /** One entry per PDF page; a single entry for other types. */
  pages: string[];
  /** PDFs only. */
  pageCount: number | null;
}

/** Thrown when the bytes cannot be parsed as their type (broken or encrypted PDF). */
export class UnreadableDocumentError extends Error {
  override name = 'UnreadableDocumentError';
}

/** Control characters other than tab, newline and form feed; NUL cannot be stored in Postgres text at all. */
// eslint-disable-next-line no-control-regex
const controlChars = /[\u0000-\u0008\u000b\u000d-\u001f\u007f]/g;

/** Collapses runs of blanks, trims lines, keeps at most one empty line between paragraphs. */
export function normalizeText(text: string): string {
  return text
    .replace(/\r\n?/g, '\n')
    .replace(/\f/g, '\n')
    .replace(controlChars, ' ')
    .replace(/[ \t\u00a0]+/g, ' ')
    .split('\n')
    .map((line) => line.trim())
    .join('\n')
    .replace(/\n{3,}/g, '\n\n')
    .trim();
}

export async function extractDocumentText(bytes: Uint8Array, contentType: DocumentContentType, limits: ExtractionLimits, onProgress: () => void = () => {}): Promise<ExtractedText> {
  switch (contentType) {
    case 'application/pdf':
      return await pdfText(bytes, limits, onProgress);
    case 'text/html':
      return { pages: [normalizeText(htmlText(decodeUtf8(bytes)))], pageCount: null };
    case 'text/markdown':
      return { pages: [normalizeText(markdownText(decodeUtf8(bytes)))], pageCount: null };
    case 'text/csv':
    case 'text/plain':
      return { pages: [normalizeText(decodeUtf8(bytes))], pageCount: null };
  }
}

function decodeUtf8(bytes: Uint8Array): string {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes).replace(/^\ufeff/, '');
  } catch {
    throw new UnreadableDocumentError('the text is not valid UTF-8');
  }
}

const pdfThread = new URL('./pdf-text-thread.mjs', import.meta.url);

/** What the extraction thread (pdf-text-thread.mjs) is given, and what it answers. */
interface PdfThreadInput {
  bytes: Uint8Array;
  maxTextChars: number;
  maxPages: number;
}

type PdfThreadMessage =
  | { kind: 'page'; n: number }
  | { kind: 'done'; pages: string[]; pageCount: number }
  | { kind: 'unreadable'; message: string }
  | { kind: 'too-long'; chars: number }
  | { kind: 'too-many-pages'; pages: number };

/**
 * PDF text, within the limits: first the stream scan (no PDF.js at all for a
 * decompression bomb), then PDF.js in a worker thread that is terminated past
 * the deadline or the heap limit. Either way the ingestion fails with a
 * stable type and the worker process goes on.
 */
async function pdfText(bytes: Uint8Array, limits: ExtractionLimits, onProgress: () => void): Promise<ExtractedText> {
  scanPdfStreams(bytes, limits.maxInflatedBytes);
  // A copy, transferred: PDF.js takes ownership of (detaches) the buffer it is given.
  const copy = new Uint8Array(bytes);
  const input: PdfThreadInput = { bytes: copy, maxTextChars: limits.maxTextChars, maxPages: limits.maxPages };
  const thread = new Worker(pdfThread, {
    workerData: input,
    transferList: [copy.buffer],
    resourceLimits: { maxOldGenerationSizeMb: limits.memoryMb, maxYoungGenerationSizeMb: Math.min(64, Math.max(8, limits.memoryMb / 8)) },
  });
  return await new Promise<ExtractedText>((resolve, reject) => {
    let settled = false;
    const finish = (fn: () => void) => {
      if (settled) return;
      settled = true;
      clearTimeout(deadline);
      void thread.terminate();
      fn();
    };
    const deadline = setTimeout(() => finish(() => reject(new DocumentTooComplexError(`reading its text took longer than ${limits.timeoutMs} ms (JOBPLANE_DOCUMENT_EXTRACT_TIMEOUT_MS)`))), limits.timeoutMs);
    thread.on('message', (message: PdfThreadMessage) => {
      if (message.kind === 'page') return onProgress();
      if (message.kind === 'done') return finish(() => resolve({ pages: message.pages.map(normalizeText), pageCount: message.pageCount }));
      if (message.kind === 'unreadable') return finish(() => reject(new UnreadableDocumentError(message.message)));
      if (message.kind === 'too-long') return finish(() => reject(new TextTooLongError(`more than ${limits.maxTextChars} characters of text (stopped reading at ${message.chars})`)));
      finish(() => reject(new DocumentTooComplexError(`${message.pages} pages, more than the ${limits.maxPages} allowed (JOBPLANE_DOCUMENT_MAX_PAGES)`)));
    });
    thread.on('error', (err: Error & { code?: string }) =>
      finish(() =>
        reject(
          err.code === 'ERR_WORKER_OUT_OF_MEMORY'
            ? new DocumentTooComplexError(`reading its text needed more than ${limits.memoryMb} MiB (JOBPLANE_DOCUMENT_EXTRACT_MEMORY_MB)`)
            : new UnreadableDocumentError(`PDF text could not be read: ${err.message}`),
        ),
      ),
    );
    thread.on('exit', (code) => finish(() => reject(new UnreadableDocumentError(`the PDF reader stopped (exit code ${code})`))));
  });
}

const skippedElements = new Set(['script', 'style', 'noscript', 'template', 'svg', 'iframe', 'object', 'head']);
const blockElements = new Set([
  'p', 'div', 'br', 'li', 'ul', 'ol', 'tr', 'table', 'section', 'article', 'header', 'footer', 'aside', 'nav', 'main',
  'h1', 'h2', 'h3', 'h4', 'h5', 'h6', 'blockquote', 'pre', 'hr', 'dt', 'dd', 'figcaption', 'title',
]);

/** The text a reader would see: tags dropped, entities decoded, blocks on their own lines. */
export function htmlText(html: string): string {
  const out: string[] = [];
  let skipDepth = 0;
  let inTitle = false;
  const parser = new Parser(
    {
      onopentag(name) {
        if (name === 'title') inTitle = true;
        else if (skippedElements.has(name)) skipDepth++;
        if (blockElements.has(name)) out.push('\n');
        if (name === 'td' || name === 'th') out.push(' ');
      },
      ontext(text) {
        // The <title> is inside <head>, which is skipped otherwise.
        if (skipDepth === 0 || inTitle) out.push(text);
      },
      onclosetag(name) {
        if (name === 'title') {
          inTitle = false;
          out.push('\n\n');
        } else if (skippedElements.has(name)) skipDepth = Math.max(0, skipDepth - 1);
        if (blockElements.has(name)) out.push('\n\n');
      },
    },
    { decodeEntities: true, lowerCaseTags: true },
  );
  parser.write(html);
  parser.end();
  return out.join('');
}

/** Markdown without its syntax: headings, emphasis, links and images keep their text; code keeps its content. */
export function markdownText(md: string): string {
  return md
    .replace(/^```.*$/gm, '')
    .replace(/^~~~.*$/gm, '')
    .replace(/!\[([^\]]*)\]\([^)]*\)/g, '$1')
    .replace(/\[([^\]]*)\]\([^)]*\)/g, '$1')
    .replace(/^\s{0,3}#{1,6}\s+/gm, '')
    .replace(/^\s{0,3}>\s?/gm, '')
    .replace(/^\s*([-*+]|\d+[.)])\s+/gm, '')
    .replace(/^\s*\|?[\s:|-]+\|[\s:|-]*$/gm, '')
    .replace(/\|/g, ' ')
    .replace(/(\*\*|__|\*|_|~~|`)(?=\S)([^\n]*?\S)\1/g, '$2')
    .replace(/<[^>]+>/g, ' ');
}
