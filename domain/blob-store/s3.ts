/**
 * A blob store on any S3-compatible object store (AWS S3, MinIO, Ceph, R2…),
 * speaking the four calls it needs — PutObject, GetObject, HeadObject,
 * DeleteObject — plus ListObjectsV2, over node:http(s) with AWS Signature
 * Version 4. Uploads are single PUTs from the staged file, signed with the
 * SHA-256 the API already computed, so the store itself verifies the bytes
 * it received; an object appears whole or not at all.
 */
import { createHash, createHmac } from 'node:crypto';
import { createReadStream } from 'node:fs';
import fs from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { BlobStore, StoredBlob } from './blob-store.ts';

export interface S3Options {
  /** e.g. `https://s3.eu-west-1.amazonaws.com` or `http://127.0.0.1:9000`. */
  endpoint: string;
  region: string;
  bucket: string;
  accessKeyId: string;
  secretAccessKey: string;
  /** `<endpoint>/<bucket>/<key>` (true) or `<bucket>.<host>/<key>` (false). @default true */
  pathStyle?: boolean;
  /** Socket idle timeout of one request. @default 120000 */
  timeoutMs?: number;
}

/** Thrown for an answer the store gave that is not a success (and not a 404 where one is expected). */
export class S3Error extends Error {
  override name = 'S3Error';
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

const emptySha256 = createHash('sha256').update('').digest('hex');

/** RFC 3986 encoding as SigV4 wants it (`/` kept in paths). */
function uriEncode(s: string, keepSlash: boolean): string {
  return [...new TextEncoder().encode(s)]
    .map((b) => {
      const ch = String.fromCharCode(b);
      if (/[A-Za-z0-9_.~-]/.test(ch) || (keepSlash && ch === '/')) return ch;
      return `%${b.toString(16).toUpperCase().padStart(2, '0')}`;
    })
    .join('');
}

const hmac = (key: Buffer | string, data: string) => createHmac('sha256', key).update(data).digest();

interface SignedRequest {
  url: URL;
  headers: Record<string, string>;
}

/** Signs a request (AWS Signature Version 4, header auth). Exported for tests. */
export function signS3Request(
  opts: Pick<S3Options, 'region' | 'accessKeyId' | 'secretAccessKey'>,
  method: string,
  url: URL,
  payloadSha256: string,
  extraHeaders: Record<string, string> = {},
  now = new Date(),
): SignedRequest {
  const amzDate = now.toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
  const date = amzDate.slice(0, 8);
  const headers: Record<string, string> = {
    ...Object.fromEntries(Object.entries(extraHeaders).map(([k, v]) => [k.toLowerCase(), v])),
    host: url.host,
    'x-amz-content-sha256': payloadSha256,
    'x-amz-date': amzDate,
  };
  const names = Object.keys(headers).sort();
  const canonicalHeaders = names.map((n) => `${n}:${headers[n]!.trim().replace(/\s+/g, ' ')}\n`).join('');
  const signedHeaders = names.join(';');
  const query = [...url.searchParams.entries()]
    .map(([k, v]) => [uriEncode(k, false), uriEncode(v, false)] as const)
    .sort(([a, x], [b, y]) => (a < b ? -1 : a > b ? 1 : x < y ? -1 : x > y ? 1 : 0))
    .map(([k, v]) => `${k}=${v}`)
    .join('&');
  const canonicalPath = uriEncode(decodeURIComponent(url.pathname), true);
  const canonicalRequest = [method, canonicalPath, query, canonicalHeaders, signedHeaders, payloadSha256].join('\n');
  const scope = `${date}/${opts.region}/s3/aws4_request`;
  const stringToSign = ['AWS4-HMAC-SHA256', amzDate, scope, createHash('sha256').update(canonicalRequest).digest('hex')].join('\n');
  const key = hmac(hmac(hmac(hmac(`AWS4${opts.secretAccessKey}`, date), opts.region), 's3'), 'aws4_request');
  const signature = createHmac('sha256', key).update(stringToSign).digest('hex');
  headers.authorization = `AWS4-HMAC-SHA256 Credential=${opts.accessKeyId}/${scope}, SignedHeaders=${signedHeaders}, Signature=${signature}`;
  return { url, headers };
}

function xmlValues(xml: string, tag: string): string[] {
  const unescape = (s: string) =>
    s.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&apos;/g, "'").replace(/&amp;/g, '&');
  return [...xml.matchAll(new RegExp(`<${tag}>([\\s\\S]*?)</${tag}>`, 'g'))].map((m) => unescape(m[1]!));
}

export class S3BlobStore implements BlobStore {
  readonly kind = 's3' as const;
  readonly stagingDir = path.join(tmpdir(), 'jobplane-uploads');
  private readonly base: URL;
  constructor(private readonly opts: S3Options) {
    this.base = new URL(opts.endpoint);
  }

  private urlFor(key: string, query: Record<string, string> = {}): URL {
    const url = new URL(this.base.toString());
    const basePath = url.pathname.replace(/\/$/, '');
    const keyPath = key ? `/${key.split('/').map((p) => uriEncode(p, false)).join('/')}` : '/';
    if (this.opts.pathStyle ?? true) url.pathname = `${basePath}/${this.opts.bucket}${key ? keyPath : ''}`;
    else {
      url.hostname = `${this.opts.bucket}.${url.hostname}`;
      url.pathname = `${basePath}${keyPath}`;
    }
    for (const [k, v] of Object.entries(query)) url.searchParams.set(k, v);
    return url;
  }

  /** One signed request; resolves with the response (body not consumed). */
  private request(method: string, url: URL, payloadSha256: string, body?: { path: string; size: number; contentType: string }): Promise<http.IncomingMessage> {
    const extra: Record<string, string> = body ? { 'content-type': body.contentType, 'content-length': String(body.size) } : {};
    const signed = signS3Request(this.opts, method, url, payloadSha256, extra);
    const transport = url.protocol === 'https:' ? https : http;
    return new Promise((resolve, reject) => {
      const req = transport.request(url, { method, headers: signed.headers }, resolve);
      req.setTimeout(this.opts.timeoutMs ?? 120_000, () => req.destroy(new Error(`S3 ${method} ${url.pathname}: no answer in time`)));
      req.on('error', reject);
      if (body) pipeline(createReadStream(body.path), req).catch(reject);
      else req.end();
    });
  }

  private async fail(method: string, key: string, res: http.IncomingMessage): Promise<never> {
    let text = '';
    for await (const chunk of res) if (text.length < 4096) text += (chunk as Buffer).toString('utf8');
    const code = xmlValues(text, 'Code')[0] ?? `HTTP${res.statusCode}`;
    const message = xmlValues(text, 'Message')[0] ?? '';
    throw new S3Error(res.statusCode ?? 0, code, `S3 ${method} ${key || '/'} failed: ${res.statusCode} ${code}${message ? ` (${message})` : ''}`);
  }

  async putFile(key: string, localPath: string, meta: { size: number; sha256: string; contentType: string }): Promise<void> {
    const res = await this.request('PUT', this.urlFor(key), meta.sha256, { path: localPath, size: meta.size, contentType: meta.contentType });
    if (res.statusCode !== 200) await this.fail('PUT', key, res);
    res.resume();
    await fs.rm(localPath, { force: true });
  }

  async get(key: string): Promise<Readable | undefined> {
    const res = await this.request('GET', this.urlFor(key), emptySha256);
    if (res.statusCode === 404) {
      res.resume();
      return undefined;
    }
    if (res.statusCode !== 200) await this.fail('GET', key, res);
    return res;
  }

  async head(key: string): Promise<StoredBlob | undefined> {
    const res = await this.request('HEAD', this.urlFor(key), emptySha256);
    res.resume();
    if (res.statusCode === 404) return undefined;
    if (res.statusCode !== 200) throw new S3Error(res.statusCode ?? 0, `HTTP${res.statusCode}`, `S3 HEAD ${key} failed: ${res.statusCode}`);
    return { size: Number(res.headers['content-length'] ?? 0) };
  }

  async delete(key: string): Promise<void> {
    const res = await this.request('DELETE', this.urlFor(key), emptySha256);
    if (res.statusCode !== 204 && res.statusCode !== 200 && res.statusCode !== 404) await this.fail('DELETE', key, res);
    res.resume();
  }

  async *list(prefix: string): AsyncIterable<string> {
    let token: string | undefined;
    do {
      const query: Record<string, string> = { 'list-type': '2', prefix };
      if (token) query['continuation-token'] = token;
      const res = await this.request('GET', this.urlFor('', query), emptySha256);
      if (res.statusCode !== 200) await this.fail('LIST', prefix, res);
      let xml = '';
      for await (const chunk of res) xml += (chunk as Buffer).toString('utf8');
      yield* xmlValues(xml, 'Key');
      token = xmlValues(xml, 'IsTruncated')[0] === 'true' ? xmlValues(xml, 'NextContinuationToken')[0] : undefined;
    } while (token);
  }
}
