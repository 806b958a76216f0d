/**
 * Reading a `multipart/form-data` upload without ever holding it whole in
 * memory: the `file` part streams through a SHA-256 hash and a content sniff
 * into a staging file, and the upload is refused with 413 the moment it
 * passes the limit (or at once when Content-Length already says so). What the
 * bytes are is decided from the declared type, the file name and the bytes
 * themselves: a PDF must start with `%PDF-`, text must be UTF-8 without NUL
 * bytes; anything else is 415.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { Readable, Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as NodeWebReadableStream } from 'node:stream/web';
import busboy from 'busboy';
import { z } from 'zod';
import type { DocumentContentType } from '../../contracts/index.ts';
import { inspectJson } from '../http/json-guard.ts';
import { fieldErrors, ProblemError } from '../http/problems.ts';

export interface StagedUpload {
  /** The staging file; the caller moves it into the blob store or removes it. */
  path: string;
  size: number;
  sha256: string;
  contentType: DocumentContentType;
  filename: string | null;
  metadata: Record<string, string | number | boolean | null> | null;
}

/** The optional `metadata` form field: a flat JSON object. */
export const UploadMetadata = z
  .record(z.string().min(1).max(100), z.union([z.string().max(2000), z.number(), z.boolean(), z.null()]))
  .refine((m) => Object.keys(m).length <= 50, 'at most 50 keys')
  .refine((m) => m.title === undefined || (typeof m.title === 'string' && m.title.length <= 300), { message: 'title must be a string of at most 300 characters', path: ['title'] });

/** Multipart framing and a metadata field on top of the file itself. */
const overheadBytes = 64 * 1024;

interface Sniff {
  head: Buffer;
  isPdf: boolean;
  /** Valid UTF-8 without NUL bytes. */
  isText: boolean;
}

/** Hashes, counts and sniffs the bytes flowing through it. */
class Inspector extends Transform {
  readonly hash = createHash('sha256');
  size = 0;
  private head = Buffer.alloc(0);
  private decoder = new TextDecoder('utf-8', { fatal: true });
  private text = true;

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.hash.update(chunk);
    this.size += chunk.length;
    if (this.head.length < 1024) this.head = Buffer.concat([this.head, chunk.subarray(0, 1024 - this.head.length)]);
    if (this.text) {
      if (chunk.includes(0)) this.text = false;
      else {
        try {
          this.decoder.decode(chunk, { stream: true });
        } catch {
          this.text = false;
        }
      }
    }
    done(null, chunk);
  }

  sniff(): Sniff {
    if (this.text) {
      try {
        this.decoder.decode(); // a multi-byte sequence cut off at the end is not UTF-8
      } catch {
        this.text = false;
      }
    }
    return { head: this.head, isPdf: this.head.subarray(0, 5).toString('latin1') === '%PDF-', isText: this.text && this.size > 0 };
  }
}

const byExtension: Record<string, DocumentContentType> = {
  '.pdf': 'application/pdf',
  '.md': 'text/markdown',
  '.markdown': 'text/markdown',
  '.html': 'text/html',
  '.htm': 'text/html',
  '.csv': 'text/csv',
  '.txt': 'text/plain',
  '.text': 'text/plain',
};

const declaredTypes: Record<string, DocumentContentType | 'any'> = {
  'application/pdf': 'application/pdf',
  'application/x-pdf': 'application/pdf',
  'text/plain': 'text/plain',
  'text/markdown': 'text/markdown',
  'text/x-markdown': 'text/markdown',
  'text/html': 'text/html',
  'application/xhtml+xml': 'text/html',
  'text/csv': 'text/csv',
  'application/csv': 'text/csv',
  'text/comma-separated-values': 'text/csv',
  // What clients send when they do not know (curl -F for most extensions): the file name and the bytes decide.
  'application/octet-stream': 'any',
  '': 'any',
};

const unsupported = (detail: string) => new ProblemError('unsupported-document-type', detail);

/** The document's content type, from what the client declared, the file name and the bytes. Throws 415. */
export function resolveContentType(declared: string, filename: string | null, sniff: Pick<Sniff, 'isPdf' | 'isText'>): DocumentContentType {
  const mime = declared.split(';')[0]!.trim().toLowerCase();
  const ext = filename ? path.extname(filename).toLowerCase() : '';
  const claimed = Object.hasOwn(declaredTypes, mime) ? declaredTypes[mime]! : undefined;
  // Browsers on Windows send this for .csv files.
  const type = claimed ?? (mime === 'application/vnd.ms-excel' && ext === '.csv' ? 'text/csv' : undefined);
  if (!type) throw unsupported(`"${mime}" is not a supported document type; send PDF, text/plain, text/markdown, text/html or text/csv`);
  if (type === 'application/pdf') {
    if (!sniff.isPdf) throw unsupported('declared application/pdf, but the bytes do not start with %PDF-');
    return type;
  }
  if (type === 'any') {
    if (sniff.isPdf) return 'application/pdf';
    if (!sniff.isText) throw unsupported('the bytes are neither a PDF nor UTF-8 text');
    const fromName = byExtension[ext];
    if (fromName === 'application/pdf') throw unsupported('named .pdf, but the bytes do not start with %PDF-');
    return fromName ?? 'text/plain';
  }
  if (sniff.isPdf) throw unsupported(`declared ${mime}, but the bytes are a PDF`);
  if (!sniff.isText) throw unsupported(`declared ${mime}, but the bytes are not UTF-8 text`);
  // Plain text named .md or .csv is Markdown or CSV: many clients only know text/plain.
  if (type === 'text/plain' && (byExtension[ext] === 'text/markdown' || byExtension[ext] === 'text/csv')) return byExtension[ext];
  return type;
}

/**
 * Streams the request's `file` part into `stagingDir` and parses `metadata`.
 * Throws problem errors: 415 (not multipart, or not an allowed type), 413
 * (over `maxBytes`), 400 (no file, two files, unknown fields, bad metadata).
 */
export async function stageUpload(req: Request, opts: { maxBytes: number; stagingDir: string }): Promise<StagedUpload> {
  const contentType = req.headers.get('content-type') ?? '';
  if (!/^multipart\/form-data\s*;/i.test(contentType)) {
    throw new ProblemError('unsupported-media-type', `send multipart/form-data with a "file" field (got ${contentType ? `"${contentType.split(';')[0]}"` : 'no Content-Type'})`);
  }
  const declaredLength = Number(req.headers.get('content-length') ?? NaN);
  if (declaredLength > opts.maxBytes + overheadBytes) throw tooLarge(opts.maxBytes);
  if (!req.body) throw new ProblemError('validation-error', 'the upload has no body', { errors: [{ path: 'file', message: 'is required' }] });

  await fs.mkdir(opts.stagingDir, { recursive: true });
  const stagingPath = path.join(opts.stagingDir, `upload-${randomBytes(12).toString('hex')}.part`);
  let bb: busboy.Busboy;
  try {
    bb = busboy({
      headers: { 'content-type': contentType },
      // busboy reports the limit when a file reaches it, not when it passes it: one byte more, so a file of exactly maxBytes is accepted.
      limits: { files: 1, fileSize: opts.maxBytes + 1, fields: 4, fieldSize: 16 * 1024, parts: 6 },
    });
  } catch (err) {
    throw new ProblemError('validation-error', `unreadable multipart body: ${(err as Error).message}`);
  }

  // Stopping the source on a refusal ends the upload at once instead of reading (and discarding) the rest.
  const source = Readable.fromWeb(req.body as unknown as NodeWebReadableStream<Uint8Array>);
  let file: { inspector: Inspector; written: Promise<void>; mime: string; filename: string | null; truncated: () => boolean } | undefined;
  let metadataRaw: string | undefined;
  let failure: ProblemError | undefined;
  const refuse = (problem: ProblemError) => {
    failure ??= problem;
    source.destroy();
  };

  bb.on('file', (name, stream, info) => {
    if (name !== 'file' || file) {
      refuse(name !== 'file' ? badField(name, 'unexpected file field; send the document as "file"') : badField('file', 'one document per upload'));
      stream.resume();
      return;
    }
    const inspector = new Inspector();
    let truncated = false;
    stream.on('limit', () => {
      truncated = true;
      refuse(tooLarge(opts.maxBytes));
    });
    const written = pipeline(stream, inspector, createWriteStream(stagingPath, { mode: 0o600 }));
    // Awaited below only when the body was read whole; a refusal must not leave it unhandled.
    written.catch(() => {});
    file = {
      inspector,
      mime: info.mimeType ?? '',
      filename: info.filename ? path.basename(info.filename).slice(0, 255) : null,
      truncated: () => truncated,
      written,
    };
  });
  bb.on('field', (name, value, info) => {
    if (name !== 'metadata') return refuse(badField(name, 'unknown field; send "file" and optionally "metadata"'));
    if (info.valueTruncated) return refuse(badField('metadata', 'at most 16 KiB of JSON'));
    metadataRaw = value;
  });
  bb.on('filesLimit', () => refuse(badField('file', 'one document per upload')));
  bb.on('fieldsLimit', () => refuse(badField('metadata', 'too many fields')));
  bb.on('partsLimit', () => refuse(badField('file', 'too many parts')));

  try {
    try {
      await pipeline(source, bb);
    } catch (err) {
      throw failure ?? new ProblemError('validation-error', `unreadable multipart body: ${(err as Error).message}`);
    }
    if (file) await file.written;
    if (failure) throw failure;
    if (!file || file.truncated()) throw failure ?? badField('file', 'is required');
    const sniff = file.inspector.sniff();
    if (file.inspector.size === 0) throw badField('file', 'is empty');
    const type = resolveContentType(file.mime, file.filename, sniff);
    let metadata: StagedUpload['metadata'] = null;
    if (metadataRaw !== undefined) {
      const hostile = inspectJson(metadataRaw, 16, 'metadata');
      if (hostile) throw badField(hostile.path, hostile.message);
      let parsed: unknown;
      try {
        parsed = JSON.parse(metadataRaw);
      } catch {
        throw badField('metadata', 'must be a JSON object');
      }
      const result = UploadMetadata.safeParse(parsed);
      if (!result.success) throw new ProblemError('validation-error', 'metadata does not match the schema', { errors: fieldErrors(result.error, 'metadata') });
      metadata = result.data;
    }
    return { path: stagingPath, size: file.inspector.size, sha256: file.inspector.hash.digest('hex'), contentType: type, filename: file.filename, metadata };
  } catch (err) {
    await fs.rm(stagingPath, { force: true });
    throw err;
  }
}

function tooLarge(maxBytes: number): ProblemError {
  return new ProblemError('payload-too-large', `documents may be at most ${maxBytes} bytes (JOBPLANE_DOCUMENT_MAX_BYTES)`);
}

function badField(path: string, message: string): ProblemError {
  return new ProblemError('validation-error', `${path}: ${message}`, { errors: [{ path, message }] });
}
