/**
 * The PDF text extraction, in a worker thread of its own (see `pdfText` in
 * document-text.ts, which declares the messages): PDF.js with `eval` off and
 * no fonts loaded, page by page, stopping as soon as the text passes its
 * limit. The thread has a heap limit and a deadline, so a document that would
 * take too long or too much memory ends the thread, not the worker process.
 *
 * Plain JavaScript on purpose: a worker thread does not inherit the parent's
 * TypeScript loader in every runner (vitest's forks, for one).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { getDocumentProxy } from 'unpdf';

const post = (message) => parentPort.postMessage(message);

/** @param {{ bytes: Uint8Array, maxTextChars: number, maxPages: number }} input */
async function run({ bytes, maxTextChars, maxPages }) {
  let pdf;
  try {
    pdf = await getDocumentProxy(bytes, { isEvalSupported: false, disableFontFace: true, useSystemFonts: false, stopAtErrors: false, verbosity: 0 });
  } catch (err) {
    return post({ kind: 'unreadable', message: `not a readable PDF: ${err.message}` });
  }
  if (pdf.numPages > maxPages) return post({ kind: 'too-many-pages', pages: pdf.numPages });
  try {
    const pages = [];
    let chars = 0;
    for (let n = 1; n <= pdf.numPages; n++) {
      const page = await pdf.getPage(n);
      const content = await page.getTextContent();
      let text = '';
      for (const item of content.items) {
        if (!('str' in item)) continue;
        text += item.str + (item.hasEOL ? '\n' : ' ');
      }
      // Checked while reading, not after: a document far over the limit stops here, not once all of it is in memory.
      // (Before normalization text is longer; the exact check runs on the normalized text.)
      chars += text.length;
      if (chars > maxTextChars * 2) return post({ kind: 'too-long', chars });
      pages.push(text);
      page.cleanup();
      post({ kind: 'page', n });
    }
    post({ kind: 'done', pages, pageCount: pdf.numPages });
  } catch (err) {
    post({ kind: 'unreadable', message: `PDF text could not be read: ${err.message}` });
  } finally {
    await pdf.destroy();
  }
}

await run(workerData);
