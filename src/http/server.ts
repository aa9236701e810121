// The HTTP listener: health for load balancers and monitoring. Loopback by default.
import http from 'node:http';
import type { Logger } from '../log.js';
import { ListenError } from '../net/listener.js';
import type { MailStore } from '../store/types.js';

export interface HttpListener {
  readonly name: string;
  address(): { host: string; port: number };
  close(deadlineMs: number): Promise<void>;
}

export async function startHttp(opts: {
  host: string;
  port: number;
  store: MailStore;
  log: Logger;
}): Promise<HttpListener> {
  const log = opts.log.child({ listener: 'http' });
  const started = Date.now();
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (req.method === 'GET' && url.pathname === '/health') {
      // Healthy when the store answers a query.
      opts.store.listDomains().then(
        () =>
          send(res, 200, {
            status: 'ok',
            store: opts.store.kind,
            uptimeSeconds: Math.round((Date.now() - started) / 1000),
          }),
        (err) => {
          log.error({ err }, 'health check: store failed');
          send(res, 503, { status: 'error', store: opts.store.kind });
        },
      );
      return;
    }
    send(res, 404, { error: 'not found' });
  });
  server.on('clientError', (_err, socket) => socket.destroy());
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => {
      reject(new ListenError(opts.host, opts.port, err.code ?? 'EUNKNOWN', 'http', { cause: err }));
    });
    server.listen(opts.port, opts.host, () => resolve());
  });
  server.on('error', (err) => log.error({ err }, 'http listener error'));
  return {
    name: 'http',
    address() {
      const a = server.address();
      return typeof a === 'object' && a
        ? { host: a.address, port: a.port }
        : { host: opts.host, port: opts.port };
    },
    async close(deadlineMs: number) {
      const done = new Promise<void>((r) => server.close(() => r()));
      server.closeIdleConnections();
      const timer = setTimeout(() => server.closeAllConnections(), deadlineMs);
      await done;
      clearTimeout(timer);
    },
  };
}

function send(res: http.ServerResponse, status: number, body: unknown): void {
  const data = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(data),
  });
  res.end(data);
}
