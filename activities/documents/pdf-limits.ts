/**
 * What a PDF costs to read, bounded before PDF.js is given it. A PDF's
 * streams are mostly Flate-compressed, and Flate inflates up to about 1000×:
 * a 61 KB file can hold gigabytes of content stream. PDF.js inflates what it
 * reads into memory outside the V8 heap (typed arrays), where no heap limit
 * applies, so the scan inflates every stream text extraction would read —
 * content streams, fonts, object streams; not images, which text extraction
 * never decodes — with `maxOutputLength`, and refuses the document once the
 * total passes the budget. Nested Flate filters are inflated layer by layer.
 */
import { inflateSync } from 'node:zlib';

/** Thrown when reading the document would take more than the limits allow. */
export class DocumentTooComplexError extends Error {
  override name = 'DocumentTooComplexError';
}

export interface PdfCost {
  streams: number;
  inflatedBytes: number;
}

const latin1 = (bytes: Uint8Array, from: number, to: number) => Buffer.from(bytes.buffer, bytes.byteOffset + from, to - from).toString('latin1');

/**
 * Inflates each Flate stream (but images) within `maxInflatedBytes` in all;
 * throws {@link DocumentTooComplexError} past it. Streams it cannot inflate
 * (damaged, other filters) are left for PDF.js to judge.
 */
export function scanPdfStreams(bytes: Uint8Array, maxInflatedBytes: number): PdfCost {
  const text = latin1(bytes, 0, bytes.length);
  let inflatedBytes = 0;
  let streams = 0;
  for (let at = text.indexOf('stream'); at >= 0; at = text.indexOf('stream', at + 6)) {
    // `endstream` contains `stream`: only a keyword that starts a stream counts.
    if (text.startsWith('end', at - 3)) continue;
    const dictStart = text.lastIndexOf('<<', at);
    const dict = dictStart >= 0 ? text.slice(dictStart, at) : '';
    let start = at + 6;
    if (text[start] === '\r') start++;
    if (text[start] === '\n') start++;
    const end = text.indexOf('endstream', start);
    if (end < 0) break;
    streams++;
    at = end;
    if (/\/Subtype\s*\/Image\b/.test(dict)) continue;
    const filters = /\/Filter\s*(\[[^\]]*\]|\/\w+)/.exec(dict)?.[1] ?? '';
    const flateLayers = [...filters.matchAll(/\/(\w+)/g)].map((m) => m[1]);
    let data: Buffer = Buffer.from(bytes.buffer, bytes.byteOffset + start, end - start);
    for (const filter of flateLayers) {
      if (filter !== 'FlateDecode' && filter !== 'Fl') break;
      const budget = maxInflatedBytes - inflatedBytes;
      try {
        data = inflateSync(data, { maxOutputLength: Math.max(1, budget), finishFlush: 2 /* Z_SYNC_FLUSH: tolerate a stream cut short */ });
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE' || err instanceof RangeError) {
          throw new DocumentTooComplexError(`its streams inflate to more than ${maxInflatedBytes} bytes (JOBPLANE_DOCUMENT_MAX_INFLATED_BYTES)`);
        }
        break; // not valid Flate: PDF.js decides
      }
      inflatedBytes += data.length;
      if (inflatedBytes > maxInflatedBytes) throw new DocumentTooComplexError(`its streams inflate to more than ${maxInflatedBytes} bytes (JOBPLANE_DOCUMENT_MAX_INFLATED_BYTES)`);
    }
  }
  return { streams, inflatedBytes };
}
