/** What the `document.ingest` activities need, and which document a step works on. */
import type { Db } from '../../../db/client.ts';
import type { BlobStore } from '../../../domain/blob-store/blob-store.ts';
import type { Classifier } from '../classifier.ts';
import type { ExtractionLimits } from '../text.ts';

export interface DocumentDeps {
  db: Db;
  blobs: BlobStore;
  classifier: Classifier;
  /** Recorded in every derived row's lineage. */
  codeVersion: string;
  maxBytes: number;
  chunkChars: number;
  /** What extracting one document's text may cost (pages, inflated bytes, time, memory, characters). */
  extraction: ExtractionLimits;
}

/** Which document a step works on. */
export interface DocumentRef {
  tenantId: string;
  documentId: string;
  /** The `document.ingest` job running the step. */
  jobId: string;
}

export interface SourceRef extends DocumentRef {
  sha256: string;
}
