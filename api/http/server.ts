/**
 * The API's socket server: Hono's Node adapter with timeouts that bound what
 * a slow or stalled client can hold. A request never holds a database
 * connection or transaction while its body is arriving (uploads stream to a
 * staging file, stored lists to a spool file, JSON bodies are read before
 * any query of their own); these timeouts then bound the sockets and the
 * staging files: headers within JOBPLANE_HTTP_HEADERS_TIMEOUT_MS, the whole
 * request within JOBPLANE_HTTP_REQUEST_TIMEOUT_MS, no connection idle longer
 * than JOBPLANE_HTTP_IDLE_TIMEOUT_MS.
 */
import { serve, type ServerType } from '@hono/node-server';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Config } from '../../runtime/config.ts';
import { problemTypeBase } from './problems.ts';

export type HttpTimeouts = Pick<Config, 'httpHeadersTimeoutMs' | 'httpRequestTimeoutMs' | 'httpIdleTimeoutMs' | 'httpKeepAliveTimeoutMs'>;

export function serveApi(
  fetch: (req: Request) => Response | Promise<Response>,
  opts: { port: number; hostname: string; timeouts: HttpTimeouts },
  onListening?: (info: AddressInfo) => void,
): ServerType {
  const { timeouts } = opts;
  const server = serve(
    {
      fetch,
      port: opts.port,
      hostname: opts.hostname,
      serverOptions: {
        headersTimeout: timeouts.httpHeadersTimeoutMs,
        requestTimeout: timeouts.httpRequestTimeoutMs,
        keepAliveTimeout: timeouts.httpKeepAliveTimeoutMs,
        // Node checks the two timeouts above only this often (30 s by default).
        connectionsCheckingInterval: Math.min(1000, timeouts.httpHeadersTimeoutMs),
      },
    },
    onListening,
  );
  // Inactivity in either direction, a stalled body included.
  (server as Server).setTimeout(timeouts.httpIdleTimeoutMs, (socket) => socket.destroy());
  // Requests Node refuses before the app sees them (headers too large, not HTTP) still get a problem+json answer.
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => answerClientError(err, socket));
  return server;
}

function answerClientError(err: NodeJS.ErrnoException, socket: Duplex): void {
  if (!socket.writable || (err.code === 'ECONNRESET' && !socket.readable)) return void socket.destroy();
  const [status, title] =
    err.code === 'HPE_HEADER_OVERFLOW'
      ? [431, 'Request header fields (or the URL) are too large']
      : err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? [408, 'The request did not arrive in time']
        : [400, 'The request is not valid HTTP'];
  const slug = status === 431 ? 'request-too-large' : status === 408 ? 'request-timeout' : 'malformed-request';
  const body = JSON.stringify({ type: `${problemTypeBase}${slug}`, title, status });
  socket.end(`HTTP/1.1 ${status} ${title}\r\nContent-Type: application/problem+json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
}
