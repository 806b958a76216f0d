/**
 * A gRPC front for the dev server. With `tls` it stands in for what Temporal
 * Cloud or a self-hosted cluster's ingress does: terminates TLS (optionally
 * demanding a client certificate) and checks `Authorization: Bearer <API key>`
 * on every call. With `hold` it injects a delay: a call the hook returns a
 * promise for is forwarded only once that promise settles (a worker's
 * workflow-task completion held while the test makes something else happen).
 * Every call goes to the plaintext dev server unchanged over HTTP/2. Real gRPC:
 * only the server is local.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import http2 from 'node:http2';
import { tmpdir } from 'node:os';
import path from 'node:path';

export interface TlsFiles {
  dir: string;
  caCert: string;
  serverCert: string;
  serverKey: string;
  clientCert: string;
  clientKey: string;
  /** A CA that signed nothing here: a client trusting only it must refuse the server. */
  otherCaCert: string;
}

/** A throwaway CA, a server certificate for 127.0.0.1/localhost and a client certificate, made with openssl. */
export function makeTlsFiles(): TlsFiles {
  const dir = mkdtempSync(path.join(tmpdir(), 'jobplane-tls-'));
  const f = (name: string) => path.join(dir, name);
  const openssl = (...args: string[]) => execFileSync('openssl', args, { stdio: 'pipe' });
  const ca = (name: string) =>
    openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', `/CN=${name}`, '-keyout', f(`${name}.key`), '-out', f(`${name}.crt`));
  const leaf = (name: string, ext: string) => {
    openssl('req', '-newkey', 'rsa:2048', '-nodes', '-subj', `/CN=${name}`, '-keyout', f(`${name}.key`), '-out', f(`${name}.csr`));
    writeFileSync(f(`${name}.ext`), ext);
    openssl('x509', '-req', '-in', f(`${name}.csr`), '-CA', f('ca.crt'), '-CAkey', f('ca.key'), '-CAcreateserial', '-days', '2', '-extfile', f(`${name}.ext`), '-out', f(`${name}.crt`));
  };
  ca('ca');
  ca('other-ca');
  leaf('server', 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n');
  leaf('client', 'extendedKeyUsage=clientAuth\n');
  return {
    dir,
    caCert: f('ca.crt'),
    serverCert: f('server.crt'),
    serverKey: f('server.key'),
    clientCert: f('client.crt'),
    clientKey: f('client.key'),
    otherCaCert: f('other-ca.crt'),
  };
}

export interface GrpcProxy {
  address: string;
  /**
   * Calls forwarded, calls refused for a missing or wrong API key, and HTTP/2
   * sessions opened (with TLS: handshakes that succeeded; a refused handshake
   * opens none).
   */
  stats: { forwarded: number; refused: number; sessions: number };
  close(): Promise<void>;
}

export interface GrpcProxyOptions {
  /** host:port of the plaintext dev server. */
  upstream: string;
  /** Serve TLS with these files; without, the proxy speaks plaintext HTTP/2 like the dev server. */
  tls?: TlsFiles;
  /** Refuse calls without `Authorization: Bearer <apiKey>`. */
  apiKey?: string;
  /** Demand a client certificate signed by the CA (mTLS). */
  requireClientCert?: boolean;
  /** Called with each call's gRPC method (e.g. `RespondWorkflowTaskCompleted`); a returned promise holds the call until it settles. */
  hold?: (method: string) => Promise<void> | undefined;
}

// Hop-by-hop and pseudo headers are the proxy's own; everything else (grpc-*, te, content-type, metadata) passes.
const notForwarded = new Set([':status', ':method', ':path', ':scheme', ':authority', 'authorization']);

export async function startGrpcProxy(opts: GrpcProxyOptions): Promise<GrpcProxy> {
  // One HTTP/2 session to the server, opened again when it goes away (a restarted frontend).
  const connect = () => {
    const session = http2.connect(`http://${opts.upstream}`);
    session.on('error', () => {});
    return session;
  };
  let upstream = connect();
  const live = () => {
    if (upstream.closed || upstream.destroyed) upstream = connect();
    return upstream;
  };
  const stats = { forwarded: 0, refused: 0, sessions: 0 };
  const { tls } = opts;
  const server = tls
    ? http2.createSecureServer({
        key: readFileSync(tls.serverKey),
        cert: readFileSync(tls.serverCert),
        ca: readFileSync(tls.caCert),
        requestCert: opts.requireClientCert ?? false,
        rejectUnauthorized: opts.requireClientCert ?? false,
      })
    : http2.createServer();
  // A client that dies mid-call (a killed API) resets its socket: that is its business, not the proxy's.
  server.on('session', (session) => {
    stats.sessions++;
    session.on('error', () => {});
  });
  server.on('stream', (down, headers) => {
    if (opts.apiKey !== undefined && headers.authorization !== `Bearer ${opts.apiKey}`) {
      stats.refused++;
      // A trailers-only gRPC answer: UNAUTHENTICATED (16).
      down.respond({ ':status': 200, 'content-type': 'application/grpc', 'grpc-status': '16', 'grpc-message': 'missing or wrong API key' }, { endStream: true });
      return;
    }
    const held = opts.hold?.(String(headers[':path']).split('/').pop() ?? '');
    if (!held) return forward(down, headers);
    // Paused, the request body waits in the stream's buffer until the call goes on.
    down.pause();
    down.on('error', () => {});
    void held.finally(() => {
      if (!down.closed) forward(down, headers);
    });
  });

  function forward(down: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders) {
    stats.forwarded++;
    const forwarded: http2.OutgoingHttpHeaders = { ':method': headers[':method'], ':path': headers[':path'] };
    for (const [k, v] of Object.entries(headers)) if (!notForwarded.has(k)) forwarded[k] = v;
    let up: http2.ClientHttp2Stream;
    try {
      up = live().request(forwarded);
    } catch {
      // The session died between the check and the request: UNAVAILABLE (14), as a dead server would answer.
      upstream.destroy();
      down.respond({ ':status': 200, 'content-type': 'application/grpc', 'grpc-status': '14', 'grpc-message': 'upstream unavailable' }, { endStream: true });
      return;
    }
    let trailers: http2.IncomingHttpHeaders | undefined;
    up.on('response', (h) => {
      const out: http2.OutgoingHttpHeaders = {};
      for (const [k, v] of Object.entries(h)) if (!k.startsWith(':') || k === ':status') out[k] = v;
      // A trailers-only answer (an error status in the headers) ends the call as it came.
      if (h['grpc-status'] !== undefined) down.respond(out, { endStream: true });
      else down.respond(out, { waitForTrailers: true });
    });
    up.on('trailers', (t) => (trailers = t));
    up.on('data', (chunk: Buffer) => {
      if (!down.writableEnded) down.write(chunk);
    });
    up.on('end', () => {
      if (!down.closed && !down.writableEnded) down.end();
    });
    down.on('wantTrailers', () => {
      const out: http2.OutgoingHttpHeaders = {};
      for (const [k, v] of Object.entries(trailers ?? {})) if (!k.startsWith(':')) out[k] = v;
      down.sendTrailers(out);
    });
    down.on('data', (chunk: Buffer) => up.write(chunk));
    down.on('end', () => up.end());
    // Either side going away (a cancelled long poll, a stopped server) closes the other.
    up.on('error', () => down.close(http2.constants.NGHTTP2_INTERNAL_ERROR));
    down.on('error', () => up.close(http2.constants.NGHTTP2_CANCEL));
    down.on('close', () => up.close(http2.constants.NGHTTP2_CANCEL));
    down.resume();
  }
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    address: `127.0.0.1:${port}`,
    stats,
    async close() {
      upstream.close();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        // Long polls hold sessions open; do not wait for them.
        setTimeout(resolve, 2000).unref();
      });
    },
  };
}
