/** `classifyDocument`: the stored text's class, from the configured classifier, stored with its lineage. */
import { Context } from '@temporalio/activity';
import { documentClassifications } from '../../../db/schema/index.ts';
import type { Classification } from '../../../contracts/index.ts';
import type { ClassifierResult } from '../classifier.ts';
import { currentLineage } from '../lineage.ts';
import { lockForWrite, logFields, readLive, storedText } from './rows.ts';
import type { DocumentDeps, SourceRef } from './types.ts';

/** Classifies the stored text with the configured provider and stores the class with its lineage. */
export async function classifyDocument(deps: DocumentDeps, ref: SourceRef): Promise<Classification> {
  const ctx = Context.current();
  const doc = await readLive(deps.db, ref);
  const { text } = await storedText(deps.db, ref);
  const result = await deps.classifier.classify(
    { documentId: ref.documentId, title: doc.title, contentType: doc.contentType, text: text.replace(/\f/g, '\n') },
    { heartbeat: () => ctx.heartbeat(), signal: ctx.cancellationSignal },
  );
  await storeClassification(deps, ref, result);
  ctx.log.info('document classified', { ...logFields(ref), label: result.label, confidence: result.confidence, classifier: result.classifier });
  return { label: result.label, confidence: result.confidence };
}

/** Upserts the class by document, with its lineage. */
async function storeClassification(deps: DocumentDeps, ref: SourceRef, result: ClassifierResult): Promise<void> {
  const lineage = currentLineage(ref.sha256, deps.codeVersion);
  const values = {
    documentId: ref.documentId,
    tenantId: ref.tenantId,
    label: result.label,
    confidence: result.confidence,
    classifier: result.classifier,
    detail: result.detail ?? null,
    ...lineage,
  };
  await deps.db.transaction(async (tx) => {
    await lockForWrite(tx, ref);
    await tx
      .insert(documentClassifications)
      .values(values)
      .onConflictDoUpdate({ target: documentClassifications.documentId, set: { ...values, producedAt: new Date() } });
  });
}
