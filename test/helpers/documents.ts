/** Uploading and waiting for documents in tests, and real small PDFs made with pdf-lib. */
import { PDFDocument, StandardFonts } from 'pdf-lib';
import { vi } from 'vitest';
import type { ApiKeyRole } from '../../db/schema/index.ts';
import type { TestStack } from './stack.ts';

export type Json = Record<string, unknown>;

/** A real PDF: one page per string, the text drawn with a standard font (so it has a text layer). */
export async function makePdf(pages: string[], title?: string): Promise<Uint8Array> {
  const doc = await PDFDocument.create();
  if (title) doc.setTitle(title);
  const font = await doc.embedFont(StandardFonts.Helvetica);
  for (const text of pages) {
    const page = doc.addPage([595, 842]);
    const lines = text.split('\n');
    lines.forEach((line, i) => page.drawText(line, { x: 50, y: 780 - i * 18, size: 12, font }));
  }
  return await doc.save();
}

export interface UploadOptions {
  filename: string;
  type?: string;
  metadata?: unknown;
  role?: ApiKeyRole | null;
  headers?: Record<string, string>;
}

export async function upload(stack: TestStack, bytes: Uint8Array | string, opts: UploadOptions): Promise<Response> {
  const form = new FormData();
  form.set('file', new Blob([bytes], { type: opts.type ?? '' }), opts.filename);
  if (opts.metadata !== undefined) form.set('metadata', typeof opts.metadata === 'string' ? opts.metadata : JSON.stringify(opts.metadata));
  return await stack.api('/v1/documents', { method: 'POST', role: opts.role === undefined ? 'submitter' : opts.role, body: form, headers: opts.headers });
}

/** Uploads and expects 202; returns `{id, jobId}`. */
export async function uploadNew(stack: TestStack, bytes: Uint8Array | string, opts: UploadOptions): Promise<{ id: string; jobId: string }> {
  const res = await upload(stack, bytes, opts);
  const body = (await res.json()) as { id: string; jobId: string };
  if (res.status !== 202) throw new Error(`upload answered ${res.status}: ${JSON.stringify(body)}`);
  return body;
}

/** Polls `GET /v1/documents/{id}` until its status is one of `statuses`. */
export async function waitForDocument(stack: TestStack, id: string, statuses: string[] = ['ingested', 'failed'], timeoutMs = 60_000, role: ApiKeyRole = 'viewer'): Promise<Json> {
  return await vi.waitFor(
    async () => {
      const res = await stack.api(`/v1/documents/${id}`, { role });
      const last = (await res.json()) as Json;
      if (!statuses.includes(String(last.status))) throw new Error(`document ${id} did not reach ${statuses.join('|')} in ${timeoutMs} ms; last: ${JSON.stringify(last)}`);
      return last;
    },
    { timeout: timeoutMs, interval: 200 },
  );
}

export async function search(stack: TestStack, q: string, extra = '', role: ApiKeyRole = 'viewer'): Promise<{ items: Json[]; nextCursor: string | null }> {
  const res = await stack.api(`/v1/documents/search?q=${encodeURIComponent(q)}${extra}`, { role });
  const body = (await res.json()) as { items: Json[]; nextCursor: string | null };
  if (res.status !== 200) throw new Error(`search answered ${res.status}: ${JSON.stringify(body)}`);
  return body;
}

