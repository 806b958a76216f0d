/** `indexDocument`: the stored text cut into chunks, which are the document's search index rows. */
import { Context } from '@temporalio/activity';
import { eq } from 'drizzle-orm';
import { documentChunks } from '../../../db/schema/index.ts';
import { chunkPages } from '../chunks.ts';
import { currentLineage } from '../lineage.ts';
import { lockForWrite, logFields, storedText } from './rows.ts';
import type { DocumentDeps, SourceRef } from './types.ts';

/** Chunk rows inserted per statement. */
const insertBatch = 500;

/** Replaces the document's chunks (and so its index rows) in one transaction. */
export async function indexDocument(deps: DocumentDeps, ref: SourceRef): Promise<{ chunkCount: number }> {
  const ctx = Context.current();
  const stored = await storedText(deps.db, ref);
  const chunks = chunkPages(stored.text.split('\f'), deps.chunkChars, stored.pageCount !== null);
  await replaceChunks(deps, ref, chunks);
  ctx.log.info('document indexed', { ...logFields(ref), chunkCount: chunks.length });
  return { chunkCount: chunks.length };
}

async function replaceChunks(deps: DocumentDeps, ref: SourceRef, chunks: ReturnType<typeof chunkPages>): Promise<void> {
  const lineage = currentLineage(ref.sha256, deps.codeVersion);
  await deps.db.transaction(async (tx) => {
    await lockForWrite(tx, ref);
    await tx.delete(documentChunks).where(eq(documentChunks.documentId, ref.documentId));
    for (let i = 0; i < chunks.length; i += insertBatch) {
      await tx.insert(documentChunks).values(
        chunks.slice(i, i + insertBatch).map((c) => ({
          documentId: ref.documentId,
          tenantId: ref.tenantId,
          chunkIndex: c.index,
          page: c.page,
          charStart: c.charStart,
          content: c.content,
          ...lineage,
        })),
      );
    }
  });
}
