/** A local receiver for the dev stack, so the printed curl has somewhere to deliver to. */
import { createServer, type Server } from 'node:http';

export function startWebhookSink(port: number, log: (line: string) => void): Promise<Server> {
  const server = createServer((req, res) => {
    let bytes = 0;
    req.on('data', (c: Buffer) => (bytes += c.length));
    req.on('end', () => {
      log(`received ${req.method} ${req.url} ${bytes} bytes, job ${req.headers['jobplane-job-id'] ?? '?'}, event ${req.headers['jobplane-event-type'] ?? '-'}`);
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"received":true}');
    });
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve(server));
  });
}
