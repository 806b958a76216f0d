/**
 * Documents cannot exhaust a worker. PDFs built here, in code: a
 * decompression bomb (a content stream of a few hundred KB that inflates to
 * 512 MiB), the same nested in two Flate layers, one with more pages than
 * allowed and one whose text takes longer to read than allowed. Each fails
 * its ingestion with `DocumentTooComplex`; the worker process (a real child
 * process, so its memory can be read) grows by far less than what the bombs
 * hold, and goes on ingesting a normal document afterwards.
 */
import { readFileSync } from 'node:fs';
import { constants, createDeflate, deflateSync } from 'node:zlib';
import { PDFDocument, PDFName, PDFRawStream, StandardFonts } from 'pdf-lib';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { makePdf, uploadNew, waitForDocument } from '../helpers/documents.ts';
import { startTestStack, type TestStack } from '../helpers/stack.ts';

let stack: TestStack;
let workerPid: number;

beforeAll(async () => {
  stack = await startTestStack('bombs', {
    env: { JOBPLANE_DOCUMENT_MAX_PAGES: '40', JOBPLANE_DOCUMENT_EXTRACT_TIMEOUT_MS: '2500', JOBPLANE_DOCUMENT_MAX_INFLATED_BYTES: String(64 * 1024 * 1024) },
  });
  workerPid = (await stack.spawnWorkerProcess()).pid!;
}, 180_000);
afterAll(async () => {
  await stack?.close();
});

const mib = 1024 * 1024;

/** `bytes` of zeros, deflated as a stream (never held whole). */
async function deflatedZeros(bytes: number): Promise<Buffer> {
  const deflate = createDeflate({ level: constants.Z_BEST_COMPRESSION });
  const chunks: Buffer[] = [];
  deflate.on('data', (c: Buffer) => chunks.push(c));
  const done = new Promise((resolve) => deflate.on('end', resolve));
  const zeros = Buffer.alloc(mib);
  for (let sent = 0; sent < bytes; sent += mib) {
    if (!deflate.write(zeros)) await new Promise((r) => deflate.once('drain', r));
  }
  deflate.end();
  await done;
  return Buffer.concat(chunks);
}

/** A one-page PDF whose content stream is `data` under `layers` Flate filters. */
async function pdfWithStream(data: Buffer, layers: number): Promise<Uint8Array> {
  const doc = await PDFDocument.create();
  const page = doc.addPage([595, 842]);
  const filters = Array.from({ length: layers }, () => PDFName.of('FlateDecode'));
  const dict = doc.context.obj({ Filter: layers === 1 ? filters[0]! : filters, Length: data.length });
  page.node.set(PDFName.of('Contents'), doc.context.register(PDFRawStream.of(dict, data)));
  return await doc.save({ useObjectStreams: false });
}

/** Pages whose content streams hold many text operators each: small on disk, slow to read. */
async function slowPdf(pages: number, opsPerPage: number): Promise<Uint8Array> {
  const doc = await PDFDocument.create();
  const font = await doc.embedFont(StandardFonts.Helvetica);
  const ops = `BT /F1 1 Tf ${'1 0 0 1 1 1 Tm (slow) Tj '.repeat(opsPerPage)} ET`;
  const contents = deflateSync(Buffer.from(ops));
  for (let i = 0; i < pages; i++) {
    const page = doc.addPage([595, 842]);
    page.drawText('x', { x: 1, y: 1, size: 1, font }); // registers /F1 in the page resources
    page.node.set(PDFName.of('Contents'), doc.context.register(PDFRawStream.of(doc.context.obj({ Filter: PDFName.of('FlateDecode'), Length: contents.length }), contents)));
  }
  return await doc.save({ useObjectStreams: false });
}

function memoryOf(pid: number): { rss: number; peak: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = (field: string) => Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(status)![1]) * 1024;
  return { rss: kib('VmRSS'), peak: kib('VmHWM') };
}

async function expectTooComplex(bytes: Uint8Array, name: string, why: RegExp) {
  const { id } = await uploadNew(stack, bytes, { filename: `${name}.pdf`, type: 'application/pdf' });
  const doc = await waitForDocument(stack, id, ['ingested', 'failed'], 60_000);
  expect(doc, name).toMatchObject({ status: 'failed', failure: { type: 'DocumentTooComplex' } });
  expect(String((doc.failure as { message: string }).message), name).toMatch(why);
}

it('decompression bombs, too many pages and too slow a read fail as DocumentTooComplex; the worker stays small and healthy', async () => {
  const bombStream = await deflatedZeros(512 * mib);
  const bomb = await pdfWithStream(bombStream, 1);
  expect(bomb.length).toBeLessThan(1 * mib);
  const nested = await pdfWithStream(deflateSync(await deflatedZeros(256 * mib)), 2);
  const manyPages = await makePdf(Array.from({ length: 45 }, (_, i) => `page ${i}`));
  const slow = await slowPdf(38, 60_000);
  const before = memoryOf(workerPid);

  await expectTooComplex(bomb, 'bomb', /inflate to more than/);
  await expectTooComplex(nested, 'nested bomb', /inflate to more than/);
  await expectTooComplex(manyPages, 'many pages', /45 pages, more than the 40 allowed/);
  await expectTooComplex(slow, 'slow', /took longer than 2500 ms/);

  const after = memoryOf(workerPid);
  // The bombs hold 768 MiB of content between them: the process must not have come near it.
  expect(after.peak - before.peak, `worker peak RSS grew from ${before.peak} to ${after.peak}`).toBeLessThan(300 * mib);

  // And it goes on working.
  const normal = await uploadNew(stack, await makePdf(['A plain invoice after the bombs, total 42 EUR']), { filename: 'plain.pdf', type: 'application/pdf' });
  expect(await waitForDocument(stack, normal.id)).toMatchObject({ status: 'ingested' });
}, 240_000);
