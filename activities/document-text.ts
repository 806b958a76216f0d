/**
 * Text out of a document's bytes, per content type. Nothing is executed:
 * PDFs are parsed by PDF.js (through `unpdf`) with `eval` off and no fonts
 * loaded; HTML is tokenized by htmlparser2 and only its text kept (script,
 * style and template contents dropped); Markdown loses its syntax; plain
 * text and CSV are taken as they are. The result is normalized so Postgres
 * can store and index it (no NUL or other control characters).
 */
import { Parser } from 'htmlparser2';
import { getDocumentProxy } from 'unpdf';
import type { DocumentContentType } from '../contracts/index.ts';

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

export async function extractDocumentText(bytes: Uint8Array, contentType: DocumentContentType, onProgress: () => void = () => {}): Promise<ExtractedText> {
  switch (contentType) {
    case 'application/pdf':
      return await pdfText(bytes, onProgress);
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

async function pdfText(bytes: Uint8Array, onProgress: () => void): Promise<ExtractedText> {
  let pdf: Awaited<ReturnType<typeof getDocumentProxy>>;
  try {
    // A copy: PDF.js takes ownership of (detaches) the buffer it is given.
    pdf = await getDocumentProxy(new Uint8Array(bytes), { isEvalSupported: false, disableFontFace: true, useSystemFonts: false, stopAtErrors: false, verbosity: 0 });
  } catch (err) {
    throw new UnreadableDocumentError(`not a readable PDF: ${(err as Error).message}`);
  }
  try {
    const pages: string[] = [];
    for (let n = 1; n <= pdf.numPages; n++) {
      const page = await pdf.getPage(n);
      const content = await page.getTextContent();
      let text = '';
      for (const item of content.items) {
        if (!('str' in item)) continue;
        text += item.str + (item.hasEOL ? '\n' : ' ');
      }
      pages.push(normalizeText(text));
      page.cleanup();
      onProgress();
    }
    return { pages, pageCount: pdf.numPages };
  } catch (err) {
    throw new UnreadableDocumentError(`PDF text could not be read: ${(err as Error).message}`);
  } finally {
    await pdf.destroy();
  }
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
