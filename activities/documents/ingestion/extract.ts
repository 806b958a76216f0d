/** `extractText`: the stored bytes, checked against their SHA-256, become the document's text. */
import { createHash } from 'node:crypto';
import { ApplicationFailure, Context } from '@temporalio/activity';
import { documentTexts } from '../../../db/schema/index.ts';
import { documentFailureTypes, type DocumentContentType } from '../../../contracts/index.ts';
import { BlobTooLargeError, readBlob, type BlobStore } from '../../../domain/blob-store/blob-store.ts';
import { currentLineage } from '../lineage.ts';
import { DocumentTooComplexError, extractDocumentText, TextTooLongError, UnreadableDocumentError, type ExtractedText } from '../text.ts';
import { fail, lockForWrite, logFields, readLive } from './rows.ts';
import type { DocumentDeps, SourceRef } from './types.ts';

type ExtractRef = SourceRef & { contentType: DocumentContentType };

/** Reads the bytes, checks their SHA-256, extracts the text and stores it with its lineage. */
export async function extractText(deps: DocumentDeps, ref: ExtractRef): Promise<{ charCount: number; pageCount: number | null }> {
  const ctx = Context.current();
  const bytes = await readVerifiedBytes(deps, ref);
  const extracted = await extractOrFail(deps, ref, bytes, () => ctx.heartbeat());
  const text = checkedText(deps, extracted);
  await storeText(deps, ref, text, extracted.pageCount);
  ctx.log.info('document text extracted', { ...logFields(ref), charCount: text.length, pageCount: extracted.pageCount });
  return { charCount: text.length, pageCount: extracted.pageCount };
}

/** The document's bytes, whose SHA-256 must be the one the upload recorded. */
async function readVerifiedBytes(deps: DocumentDeps, ref: SourceRef): Promise<Buffer> {
  const row = await readLive(deps.db, ref);
  const bytes = row.blobKey ? await readBlobOrFail(deps.blobs, row.blobKey, deps.maxBytes) : undefined;
  if (!bytes) throw ApplicationFailure.retryable(`the bytes of document ${ref.documentId} are not in the blob store`, documentFailureTypes.blobMissing);
  const actual = createHash('sha256').update(bytes).digest('hex');
  if (actual !== ref.sha256) throw fail(documentFailureTypes.blobCorrupt, `stored bytes hash to ${actual}, expected ${ref.sha256}`);
  return bytes;
}

/** Extraction within the limits; what a document cannot give fails for good with its type. */
async function extractOrFail(deps: DocumentDeps, ref: ExtractRef, bytes: Buffer, heartbeat: () => void): Promise<ExtractedText> {
  try {
    return await extractDocumentText(bytes, ref.contentType, deps.extraction, heartbeat);
  } catch (err) {
    if (err instanceof UnreadableDocumentError) throw fail(documentFailureTypes.unreadable, err.message);
    if (err instanceof DocumentTooComplexError) throw fail(documentFailureTypes.tooComplex, err.message);
    if (err instanceof TextTooLongError) throw fail(documentFailureTypes.tooLong, err.message);
    throw err;
  }
}

/** The pages joined with form feeds; empty or too long a text fails for good. */
function checkedText(deps: DocumentDeps, extracted: ExtractedText): string {
  const text = extracted.pages.join('\f');
  if (!text.replace(/\f/g, '').trim()) {
    throw fail(documentFailureTypes.empty, extracted.pageCount ? `no text in ${extracted.pageCount} page(s) (a scan without a text layer?)` : 'the document has no text');
  }
  if (text.length > deps.extraction.maxTextChars) throw fail(documentFailureTypes.tooLong, `${text.length} characters of text, more than the ${deps.extraction.maxTextChars} allowed`);
  return text;
}

/** Upserts the text by document, with its lineage. */
async function storeText(deps: DocumentDeps, ref: SourceRef, text: string, pageCount: number | null): Promise<void> {
  const lineage = currentLineage(ref.sha256, deps.codeVersion);
  const values = { documentId: ref.documentId, tenantId: ref.tenantId, text, charCount: text.length, pageCount, ...lineage };
  await deps.db.transaction(async (tx) => {
    await lockForWrite(tx, ref);
    await tx
      .insert(documentTexts)
      .values(values)
      .onConflictDoUpdate({ target: documentTexts.documentId, set: { ...values, producedAt: new Date() } });
  });
}

async function readBlobOrFail(blobs: BlobStore, key: string, maxBytes: number): Promise<Buffer | undefined> {
  try {
    return await readBlob(blobs, key, maxBytes);
  } catch (err) {
    if (err instanceof BlobTooLargeError) throw fail(documentFailureTypes.blobCorrupt, `stored blob is larger than the ${maxBytes}-byte document limit`);
    throw err;
  }
}
