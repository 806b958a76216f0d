/**
 * The `document.ingest` activities. Each reads and writes Postgres by the
 * document id, with the document row locked (`FOR UPDATE`) while it writes,
 * so a concurrent delete either happens before (the step fails with
 * `DocumentDeleted`) or after (it removes what the step wrote). Each write is
 * keyed: the text and the classification are upserted by document, and the
 * chunks are replaced in one transaction — a retried activity or a reset
 * workflow leaves exactly one set. Only ids, counts and the class travel in
 * workflow payloads; the bytes and the text stay in the blob store and
 * Postgres.
 *
 * One file per step under `ingestion/` (the row locks they share in
 * `ingestion/rows.ts`); this factory binds them to their dependencies.
 */
import { beginIngestion } from './ingestion/begin.ts';
import { classifyDocument } from './ingestion/classify.ts';
import { extractText } from './ingestion/extract.ts';
import { compensateIngestion, markIngested } from './ingestion/finish.ts';
import { indexDocument } from './ingestion/index-chunks.ts';
import type { DocumentDeps } from './ingestion/types.ts';

export type { DocumentDeps, DocumentRef, SourceRef } from './ingestion/types.ts';

type Step<R, T> = (deps: DocumentDeps, ref: R) => Promise<T>;

/** The steps in the order the workflow runs them, then the compensation; registered by these names. */
export function createDocumentActivities(deps: DocumentDeps) {
  const bind =
    <R, T>(step: Step<R, T>) =>
    (ref: R): Promise<T> =>
      step(deps, ref);
  return {
    beginIngestion: bind(beginIngestion),
    extractText: bind(extractText),
    classifyDocument: bind(classifyDocument),
    indexDocument: bind(indexDocument),
    markIngested: bind(markIngested),
    compensateIngestion: bind(compensateIngestion),
  };
}

