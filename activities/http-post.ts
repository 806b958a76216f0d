/** A single outbound POST over node:http(s), with the connection pinned to pre-checked addresses. */
import http from 'node:http';
import https from 'node:https';
import type { LookupAddress } from 'node:dns';
import { pinnedLookup } from '../domain/outbound/destination-guard.ts';

export interface PostResult {
  statusCode: number;
  headers: http.IncomingHttpHeaders;
  /** First bytes of the response body, for the attempt record. */
  bodySnippet: string;
}

export interface PostOptions {
  url: URL;
  body: string;
  headers: Record<string, string>;
  addresses: LookupAddress[];
  timeoutMs: number;
  signal?: AbortSignal;
}

/** Thrown when no HTTP response arrived in time. */
export class RequestTimeoutError extends Error {
  override name = 'RequestTimeoutError';
}

const snippetBytes = 1024;

export function postOnce(opts: PostOptions): Promise<PostResult> {
  const transport = opts.url.protocol === 'https:' ? https : http;
  return new Promise<PostResult>((resolve, reject) => {
    const req = transport.request(
      opts.url,
      {
        method: 'POST',
        headers: { ...opts.headers, 'content-length': String(Buffer.byteLength(opts.body)) },
        lookup: pinnedLookup(opts.addresses) as never,
        signal: opts.signal,
        // A fresh connection per attempt: a pooled socket could outlive the address check.
        agent: false,
      },
      (res) => {
        const chunks: Buffer[] = [];
        let kept = 0;
        res.on('data', (chunk: Buffer) => {
          if (kept < snippetBytes) {
            chunks.push(chunk);
            kept += chunk.length;
          }
        });
        res.on('end', () =>
          resolve({
            statusCode: res.statusCode ?? 0,
            headers: res.headers,
            bodySnippet: Buffer.concat(chunks).subarray(0, snippetBytes).toString('utf8'),
          }),
        );
        res.on('error', reject);
      },
    );
    req.setTimeout(opts.timeoutMs, () => req.destroy(new RequestTimeoutError(`no response within ${opts.timeoutMs} ms`)));
    req.on('error', reject);
    req.end(opts.body);
  });
}

/** Parses `Retry-After` (delta seconds or an HTTP date) into milliseconds, or undefined. */
export function parseRetryAfter(value: string | string[] | undefined, now = Date.now()): number | undefined {
  const v = Array.isArray(value) ? value[0] : value;
  if (!v) return undefined;
  if (/^\d+$/.test(v.trim())) return Number(v.trim()) * 1000;
  const at = Date.parse(v);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}
