// The HTTP listener: health for load balancers and monitoring. Loopback by default.
//
// No request may take the process down: a request target that is not one we serve gets 400,
// an error in a route gets 500 and a log line, and each request has a connection guard
// (net/guard.ts) so that even an error escaping a route's callbacks ends only its connection.
import http from 'node:http';
import https from 'node:https';
import type net from 'node:net';
import type { AcmeChallenges } from '../acme/challenges.js';
import type { Logger } from '../log.js';
import type { TlsInterceptor } from '../net/client-hello.js';
import { followHttpConnection } from '../net/conn-log.js';
import { ConnectionGuard, guardConnection } from '../net/guard.js';
import { type ConnectionLimiter, normalizeIp } from '../net/limits.js';
import { ListenError } from '../net/listener.js';
import type { ServedCertificate, TlsProvider } from '../net/tls.js';
import type { MailStore } from '../store/types.js';
import { ACME_CHALLENGE_PREFIX, serveAcmeChallenge } from './acme-challenge.js';
import type { ServerMetrics } from './metrics.js';
import { metricsRoute, type RouteAnswer } from './metrics-route.js';
import type { HttpRoute } from './route.js';

export interface HttpListener {
  readonly name: string;
  address(): { host: string; port: number };
  /** Open connections (/metrics). */
  readonly connections: number;
  /** Connections accepted since the start, refused ones included (/metrics). */
  readonly accepted: number;
  close(deadlineMs: number): Promise<void>;
}

/** A protocol listener as /healthz reports it. */
export interface HealthListener {
  name: string;
  host: string;
  port: number;
  /** Open connections, those in a TLS handshake or being refused included. */
  connections?: number;
}

export interface HttpOptions {
  host: string;
  port: number;
  store: MailStore;
  log: Logger;
  /** The server's protocol listeners, for /healthz. */
  listeners?: () => readonly HealthListener[];
  /** How long /healthz waits for the store before it reports it unreachable. */
  storeTimeoutMs?: number;
  /** The server's phase, for /readyz; absent: ready. */
  phase?: () => ServerPhase;
  /** The certificates served, for /healthz. */
  certificates?: () => readonly ServedCertificate[];
  /** Serves /metrics when given. */
  metrics?: ServerMetrics;
  /** `[http] metrics_token`: empty for loopback-only /metrics. */
  metricsToken?: string;
  /** Connections per source, shared with the other listeners (limits.max_connections_per_ip). */
  limiter?: ConnectionLimiter;
  /** Routes from their own modules (autoconfig, ...), looked up after the built-in ones. */
  routes?: readonly HttpRoute[];
  /** With `[tls.acme]`: the HTTP-01 challenges to answer (src/http/acme-challenge.ts). */
  acmeChallenges?: AcmeChallenges;
  /** With `[tls.acme]`: the certificate's state for /healthz (src/acme/manager.ts). */
  acmeStatus?: () => unknown;
  /** Serve HTTPS (implicit TLS) with these certificates; absent: plain HTTP. */
  tls?: TlsProvider;
  /** HTTPS: sees the ClientHello first while active (the ACME tls-alpn-01 responder). */
  tlsInterceptor?: TlsInterceptor;
}

/** starting: listeners and store coming up; stopping: shutting down (both: /readyz 503). */
export type ServerPhase = 'starting' | 'ready' | 'stopping';

const DAY_MS = 86_400_000;

const STORE_TIMEOUT_MS = 5000;

export async function startHttp(opts: HttpOptions): Promise<HttpListener> {
  const log = opts.log.child({ listener: 'http' });
  const started = Date.now();
  const storeTimeoutMs = opts.storeTimeoutMs ?? STORE_TIMEOUT_MS;

  /** The store answers a query within the deadline. */
  const storeReachable = async (): Promise<boolean> => {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), storeTimeoutMs); // unguarded: its own promise
    });
    try {
      const query = opts.store.listDomains().then(
        () => true,
        (err) => {
          log.error({ err }, 'health check: store failed');
          return false;
        },
      );
      return await Promise.race([query, timeout]);
    } finally {
      clearTimeout(timer);
    }
  };

  /** The oldest outbound item, or null when the store cannot say now. */
  const queueAge = async () => {
    try {
      const q = await opts.store.outboundSummary();
      const oldest = q.oldest
        ? Math.max(0, Math.round((Date.now() - q.oldest.getTime()) / 1000))
        : 0;
      return { messages: q.messages, oldestAgeSeconds: oldest };
    } catch {
      return null;
    }
  };

  const certificates = () =>
    (opts.certificates?.() ?? []).map((c) => ({
      servername: c.servername,
      notAfter: c.notAfter.toISOString(),
      daysLeft: Math.floor((c.notAfter.getTime() - Date.now()) / DAY_MS),
    }));

  const metrics = opts.metrics
    ? metricsRoute({ metrics: opts.metrics, token: opts.metricsToken ?? '' })
    : null;

  type Route = (res: http.ServerResponse, req: http.IncomingMessage) => Promise<void>;
  const routes: Record<string, Route> = {
    // Healthy when the store answers a query.
    '/health': async (res) => {
      const ok = await storeReachable();
      if (ok) {
        const uptimeSeconds = Math.round((Date.now() - started) / 1000);
        send(res, 200, { status: 'ok', store: opts.store.kind, uptimeSeconds });
      } else send(res, 503, { status: 'error', store: opts.store.kind });
    },
    // For monitoring: the store and the listeners. That this answers at all shows the event
    // loop is free.
    // Also unhealthy: a certificate served past its end of validity (daysLeft < 0).
    '/healthz': async (res) => {
      const [reachable, queue] = await Promise.all([storeReachable(), queueAge()]);
      const certs = certificates();
      const ok = reachable && certs.every((c) => c.daysLeft >= 0);
      send(res, ok ? 200 : 503, {
        status: ok ? 'ok' : 'error',
        store: { kind: opts.store.kind, reachable },
        listeners: (opts.listeners?.() ?? []).map((l) => ({ ...l, up: true })),
        certificates: certs,
        queue,
        ...(opts.acmeStatus ? { acme: opts.acmeStatus() } : {}),
        uptimeSeconds: Math.round((Date.now() - started) / 1000),
      });
    },
    // For load balancers and orchestrators: 200 once every listener is up and the store open,
    // 503 while starting and once shutting down (so traffic moves before the listeners close).
    '/readyz': async (res) => {
      const phase = opts.phase?.() ?? 'ready';
      const ready = phase === 'ready' && (await storeReachable());
      send(res, ready ? 200 : 503, {
        status: ready ? 'ready' : phase === 'ready' ? 'error' : phase,
      });
    },
    ...(metrics
      ? {
          '/metrics': (res: http.ServerResponse, req: http.IncomingMessage) =>
            metrics(req, res, answer),
        }
      : {}),
  };

  async function handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const path = requestPath(req.url ?? '');
    if (path === null) return send(res, 400, { error: 'bad request target' });
    if (opts.acmeChallenges && path.startsWith(ACME_CHALLENGE_PREFIX)) {
      return serveAcmeChallenge(opts.acmeChallenges, path, req, res);
    }
    const route = Object.hasOwn(routes, path) ? routes[path] : undefined;
    if (!route) {
      const more = opts.routes?.find(
        (r) => r.paths.includes(path) || (r.prefix !== undefined && path.startsWith(r.prefix)),
      );
      if (!more) return send(res, 404, { error: 'not found' });
      if (more.prefix === undefined && !more.methods.includes(req.method ?? '')) {
        res.setHeader('allow', more.methods.join(', '));
        return send(res, 405, { error: 'method not allowed' });
      }
      return more.handle(req, res);
    }
    // RFC 9110 §9.3.2: HEAD is GET without the content (Node leaves the body out).
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('allow', 'GET, HEAD');
      return send(res, 405, { error: 'method not allowed' });
    }
    await route(res, req);
  }

  const onRequest = (req: http.IncomingMessage, res: http.ServerResponse) => {
    const reqLog = log.child(followed.get(req.socket) ?? { peer: req.socket.remoteAddress });
    const failed = (err: unknown) => {
      reqLog.error({ err, method: req.method, url: req.url }, 'http request failed');
      if (!res.headersSent) {
        res.setHeader('connection', 'close');
        send(res, 500, { error: 'internal error' });
      } else res.destroy();
    };
    // An error that escapes even the promise (a callback of the route's) is ended the same way.
    const end = () => failed(new Error('uncaught error in the request'));
    const guard = new ConnectionGuard(reqLog, end);
    // The request's listeners (a route reading the body) are the request's code too.
    // unguarded: guardConnection's promise never rejects
    void guardConnection(guard, req, () =>
      handle(req, res).catch((err) => {
        try {
          failed(err);
        } catch (sendErr) {
          reqLog.error({ err: sendErr }, 'http error response failed');
          res.destroy();
        }
      }),
    );
  };
  // `[listeners.http] tls = "implicit"`: HTTPS with the server's certificates (and SNI), so a
  // bearer token or an admin password can cross a network (RFC 8314 §3, RFC 6750 §5.3).
  const tlsProvider = opts.tls;
  const server = tlsProvider
    ? https.createServer(tlsProvider.serverOptions(), onRequest)
    : http.createServer(onRequest);
  const stopReload = tlsProvider?.onReload(() =>
    (server as https.Server).setSecureContext(tlsProvider.serverOptions()),
  );
  if (tlsProvider && opts.tlsInterceptor)
    interceptFirst(server as https.Server, opts.tlsInterceptor);
  // A request Node's parser refuses (RFC 9112 syntax, headers too large, too slow): answer
  // like Node does without a handler, but never let it reach the request handler or the logs.
  server.on('clientError', (err: NodeJS.ErrnoException, socket) => {
    if (!socket.writable || err.code === 'ECONNRESET') {
      socket.destroy();
      return;
    }
    const status =
      err.code === 'HPE_HEADER_OVERFLOW'
        ? '431 Request Header Fields Too Large'
        : err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
          ? '408 Request Timeout'
          : '400 Bad Request';
    socket.end(`HTTP/1.1 ${status}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`);
  });
  let open = 0;
  let accepted = 0;
  server.on('connection', (socket: net.Socket) => {
    accepted++;
    open++;
    socket.once('close', () => open--);
  });
  // The per-source limit all listeners share: a connection over it is closed unanswered.
  const limiter = opts.limiter;
  if (limiter) {
    server.on('connection', (socket: net.Socket) => {
      const ip = normalizeIp(socket.remoteAddress ?? 'unknown');
      if (!limiter.tryAcquire(ip)) {
        log.info({ peer: ip }, 'too many connections from this address');
        socket.destroy();
        return;
      }
      socket.once('close', () => limiter.release(ip));
    });
  }
  // A line per connection opened and closed, as on the mail listeners (net/conn-log.ts).
  const followed = new WeakMap<net.Socket, { conn: string; peer: string }>();
  server.on('connection', (socket: net.Socket) => {
    if (!socket.destroyed) followed.set(socket, followHttpConnection(opts.log, 'http', socket));
  });
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
    get connections() {
      return open;
    },
    get accepted() {
      return accepted;
    },
    async close(deadlineMs: number) {
      stopReload?.();
      const done = new Promise<void>((r) => server.close(() => r()));
      server.closeIdleConnections();
      // unguarded: the listener's own shutdown
      const timer = setTimeout(() => server.closeAllConnections(), deadlineMs);
      await done;
      clearTimeout(timer);
    },
  };
}

/**
 * Let `interceptor` read each connection's ClientHello before the HTTPS server wraps the socket
 * in TLS (acme/tls-alpn.ts). tls.Server wraps it in its own first 'connection' listener; that
 * one is moved behind the interceptor, the listeners added after it (counting, the per-source
 * limit, the connection log) still see the socket at accept.
 */
function interceptFirst(server: https.Server, interceptor: TlsInterceptor): void {
  const own = server.listeners('connection');
  if (own.length !== 1) throw new Error('https.Server: expected its one TLS connection listener');
  const wrap = own[0] as (socket: net.Socket) => void;
  server.removeListener('connection', wrap);
  server.on('connection', (socket: net.Socket) => {
    if (!interceptor.active()) return wrap.call(server, socket);
    interceptor.intercept(socket).then(
      (head) => {
        if (!head || socket.destroyed) return; // answered by the interceptor, or gone
        socket.unshift(head);
        wrap.call(server, socket);
      },
      () => socket.destroy(),
    );
  });
}

/**
 * The path of a request target (RFC 9112 §3.2), or null for one we do not serve: origin-form
 * (`/path?query`) and absolute-form (`http://host/path`, which §3.2.2 says a server must
 * accept). A path that starts with `//` is refused: URL parsers read it as a network-path
 * reference whose first segment is an authority (RFC 3986 §4.2), so its meaning is ambiguous.
 */
export function requestPath(target: string): string | null {
  if (target.startsWith('/')) {
    if (target.startsWith('//')) return null;
    const q = target.indexOf('?');
    return q < 0 ? target : target.slice(0, q);
  }
  if (/^https?:\/\//i.test(target)) {
    try {
      return new URL(target).pathname;
    } catch {
      return null;
    }
  }
  return null; // authority-form (CONNECT), asterisk-form (OPTIONS *), anything else
}

function send(
  res: http.ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const data = JSON.stringify(body);
  res.writeHead(status, {
    ...headers,
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(data),
  });
  res.end(data);
}

function answer(res: http.ServerResponse, a: RouteAnswer): void {
  send(res, a.status, a.body, a.headers);
}
