// The one TCP listener every protocol uses: accept, enforce connection limits, run the
// protocol's session handler, and shut down gracefully (let sessions say goodbye, then cut).
import { setMaxListeners } from 'node:events';
import net from 'node:net';
import tls from 'node:tls';
import type { Logger } from '../log.js';
import type { TlsInterceptor } from './client-hello.js';
import { hostPort } from './conn-log.js';
import { Connection, TlsHandshakeError } from './connection.js';
import { guardConnection } from './guard.js';
import { type ConnectionLimiter, normalizeIp } from './limits.js';
import type { TlsProvider } from './tls.js';

export interface ListenerOptions {
  /** Protocol name for logs and errors, e.g. 'smtp', 'submissions', 'imaps'. */
  name: string;
  host: string;
  /** 0 picks a free port (tests). */
  port: number;
  /** 'implicit': TLS from the first byte (RFC 8314 §3.3); 'starttls': the protocol upgrades. */
  tls: 'none' | 'starttls' | 'implicit';
  tlsProvider?: TlsProvider;
  /** Implicit TLS: sees the ClientHello first while active (the ACME tls-alpn-01 responder). */
  tlsInterceptor?: TlsInterceptor;
  /** Connections per source, shared by every listener (the config's limit is for all together). */
  limiter: ConnectionLimiter;
  maxConnections?: number;
  log: Logger;
  /** Write the protocol's own refusal (SMTP 421, IMAP BYE, POP3 -ERR); then it is closed. */
  onTooMany?: (conn: Connection) => Promise<void>;
  handler: (conn: Connection, ctx: { shuttingDown: AbortSignal }) => Promise<void>;
}

export interface Listener {
  readonly name: string;
  address(): { host: string; port: number };
  /** Open connections, including ones being refused. */
  readonly connections: number;
  /** Connections accepted since the start, refused ones included (monitoring). */
  readonly accepted: number;
  /**
   * Stop accepting at once, abort `shuttingDown` so sessions can say goodbye, wait for them
   * up to `deadlineMs`, then destroy whatever is left.
   */
  close(deadlineMs: number): Promise<void>;
}

/** The listener could not bind; `message` is one line for the operator. */
export class ListenError extends Error {
  constructor(
    readonly host: string,
    readonly port: number,
    readonly code: string,
    readonly listenerName: string,
    options?: { cause?: unknown },
  ) {
    super(
      `cannot listen on ${hostPort(host, port)} (${listenerName}): ${describeListenCode(code)}`,
      options,
    );
    this.name = 'ListenError';
  }
}

/**
 * Implicit TLS: a client that opens the port and does not complete a handshake in this time is
 * dropped (a handshake takes a few round trips; a silent connection only holds a slot).
 */
export const HANDSHAKE_MS = 10_000;
/** After the deadline, how long destroyed sessions get to notice and return. */
const AFTER_DESTROY_GRACE_MS = 1000;

export async function startListener(opts: ListenerOptions): Promise<Listener> {
  const log = opts.log.child({ listener: opts.name });
  if (opts.tls === 'implicit' && !opts.tlsProvider) {
    throw new Error(`listener ${opts.name}: implicit TLS needs a tlsProvider`);
  }
  const limiter = opts.limiter;
  const shutdown = new AbortController();
  // Every session listens for shutdown (one listener each, removed when it ends): thousands of
  // IDLE sessions are normal, not the leak Node's listener-count warning guards against.
  setMaxListeners(0, shutdown.signal);
  const sessions = new Set<Promise<void>>();
  const conns = new Set<Connection>();
  // Raw sockets, including implicit-TLS ones still in their handshake, to destroy at the end.
  const rawSockets = new Set<net.Socket>();
  let handled = 0;
  let accepted = 0;

  // Implicit TLS: the TCP server accepts and hands each connection to a TLS server that does
  // not listen itself, so that a TlsInterceptor can read the ClientHello first.
  const server = net.createServer({ noDelay: true });
  const tlsServer =
    opts.tls === 'implicit'
      ? tls.createServer({ ...opts.tlsProvider!.serverOptions(), handshakeTimeout: HANDSHAKE_MS })
      : undefined;
  // tls.Server builds its default context once; follow the provider's reloads (SIGHUP).
  const unsubscribe = tlsServer
    ? opts.tlsProvider!.onReload(() =>
        tlsServer.setSecureContext(opts.tlsProvider!.serverOptions()),
      )
    : () => {};

  // Connections are counted at accept, before any TLS handshake: a crowd of silent
  // connections to an implicit-TLS port holds slots like any other.
  server.on('connection', (raw: net.Socket) => {
    accepted++;
    rawSockets.add(raw);
    const ip = normalizeIp(raw.remoteAddress ?? 'unknown');
    const overTotal = opts.maxConnections !== undefined && handled >= opts.maxConnections;
    const over = overTotal || !limiter.tryAcquire(ip);
    if (!over) handled++;
    raw.once('close', () => {
      rawSockets.delete(raw);
      if (over) return;
      limiter.release(ip);
      handled--;
    });
    if (over) {
      log.info(
        { peer: ip },
        overTotal ? 'too many connections' : 'too many connections from this address',
      );
    }
    if (tlsServer) {
      // No handshake (CPU) for a client refused anyway: the TCP connection is closed.
      if (over) {
        raw.destroy();
        return;
      }
      const interceptor = opts.tlsInterceptor;
      if (interceptor?.active()) {
        interceptor.intercept(raw).then(
          (head) => {
            if (!head) return; // answered by the interceptor, or gone
            if (shutdown.signal.aborted) return raw.destroy();
            raw.unshift(head);
            tlsServer.emit('connection', raw);
          },
          (err) => {
            log.error({ err }, 'TLS interceptor failed');
            raw.destroy();
          },
        );
      } else tlsServer.emit('connection', raw);
      return; // 'secureConnection' follows the handshake
    }
    accept(raw, over);
  });
  tlsServer?.on('secureConnection', (socket: tls.TLSSocket) => accept(socket, false));
  tlsServer?.on('tlsClientError', (err: Error, socket: tls.TLSSocket) => {
    // A plaintext client on 993, a scanner, an old TLS version, a handshake timeout: not our
    // problem to log loudly. Node leaves the socket open after this event: close it.
    log.debug({ reason: err.message, peer: socket.remoteAddress }, 'TLS handshake failed');
    socket.destroy();
  });

  function accept(socket: net.Socket, over: boolean): void {
    if (shutdown.signal.aborted) {
      socket.destroy();
      return;
    }
    const conn = new Connection(socket, {
      log: opts.log,
      listener: opts.name,
      secure: opts.tls === 'implicit',
    });
    conns.add(conn);
    conn.onClose(() => conns.delete(conn));
    // A bug in this connection's code ends this connection only (net/guard.ts); the guarded
    // session's promise never rejects.
    const session = guardConnection(conn.guard, socket, () => run(conn, over));
    sessions.add(session);
    // unguarded: the guarded session's promise never rejects
    void session.then(() => sessions.delete(session));
  }

  async function run(conn: Connection, over: boolean): Promise<void> {
    if (over) {
      await refuse(conn);
      return;
    }
    conn.log.debug('connected');
    try {
      await opts.handler(conn, { shuttingDown: shutdown.signal });
      await conn.close();
    } catch (err) {
      if (err instanceof TlsHandshakeError) conn.log.debug('session ended: TLS failed');
      else conn.log.error({ err }, 'session handler failed');
      conn.destroy();
    } finally {
      conn.log.debug('disconnected');
    }
  }

  async function refuse(conn: Connection): Promise<void> {
    try {
      await opts.onTooMany?.(conn);
      await conn.close();
    } catch (err) {
      conn.log.error({ err }, 'refusing connection failed');
      conn.destroy();
    }
  }

  try {
    await bindServer(server, opts);
  } catch (err) {
    unsubscribe();
    throw err;
  }
  // Only once bound: a bind failure is the ListenError above, one line, not also a logged stack.
  server.on('error', (err) => log.error({ err }, 'listener error'));
  const addr = server.address() as net.AddressInfo;
  log.info({ host: addr.address, port: addr.port, tls: opts.tls }, 'listening');

  let closing: Promise<void> | undefined;
  return {
    name: opts.name,
    address: () => ({ host: addr.address, port: addr.port }),
    get connections() {
      // Every accepted socket: in a TLS handshake, being refused, or in a session.
      return rawSockets.size;
    },
    get accepted() {
      return accepted;
    },
    close(deadlineMs: number): Promise<void> {
      closing ??= (async () => {
        unsubscribe();
        const serverClosed = new Promise<void>((resolve) => server.close(() => resolve()));
        shutdown.abort();
        const finished = await settleWithin([...sessions], deadlineMs);
        if (!finished) {
          log.info({ left: conns.size }, 'shutdown deadline reached: dropping connections');
        }
        for (const c of conns) c.destroy();
        for (const s of rawSockets) s.destroy();
        await settleWithin([...sessions, serverClosed], AFTER_DESTROY_GRACE_MS);
        log.info('listener closed');
      })();
      return closing;
    },
  };
}

/** Listen on host:port; a ListenError with a one-line reason if that fails. */
export function bindServer(
  server: net.Server,
  opts: { name: string; host: string; port: number },
): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException) => {
      server.off('listening', onListening);
      const code = err.code ?? 'UNKNOWN';
      reject(new ListenError(opts.host, opts.port, code, opts.name, { cause: err }));
    };
    const onListening = () => {
      server.off('error', onError);
      resolve();
    };
    server.once('error', onError);
    server.once('listening', onListening);
    server.listen({ host: opts.host, port: opts.port });
  });
}

/** Wait for every promise to settle, at most `ms`; true if they all did. */
export async function settleWithin(promises: Promise<unknown>[], ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms); // unguarded: the listener's own shutdown
  });
  const all = Promise.allSettled(promises).then(() => true as const);
  try {
    return await Promise.race([all, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

export function describeListenCode(code: string): string {
  switch (code) {
    case 'EADDRINUSE':
      return 'address already in use';
    case 'EACCES':
      return 'permission denied (ports below 1024 need root or CAP_NET_BIND_SERVICE)';
    case 'EADDRNOTAVAIL':
      return 'address not available on this host';
    case 'ENOTFOUND':
      return 'host name not found';
    default:
      return code;
  }
}
