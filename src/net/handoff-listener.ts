// A listener whose sessions run somewhere else (POP3 worker processes): it accepts without
// reading a byte (the socket's new owner does TLS and everything after), applies the same
// connection limits as listener.ts, and hands each socket on. A connection over a limit is
// handed on too, marked to be refused, so the protocol's own refusal reaches the client.
import net from 'node:net';
import type { Logger } from '../log.js';
import type { TlsInterceptor } from './client-hello.js';
import { ConnectionGuard, guardConnection } from './guard.js';
import { type ConnectionLimiter, normalizeIp } from './limits.js';
import { bindServer, type Listener, settleWithin } from './listener.js';

export interface HandoffListenerOptions {
  name: string;
  host: string;
  port: number;
  /** Connections per source, shared by every listener. */
  limiter: ConnectionLimiter;
  maxConnections?: number;
  log: Logger;
  /**
   * Serve the socket elsewhere; resolves when its session is over. `head`: bytes already read
   * from it (by the interceptor), to be served ahead of the rest.
   */
  handoff: (socket: net.Socket, refuse: boolean, head?: Buffer) => Promise<void>;
  /** Implicit TLS: sees the ClientHello first while active (the ACME tls-alpn-01 responder). */
  tlsInterceptor?: TlsInterceptor;
  /** Sessions say goodbye and get `deadlineMs` to finish; resolves when all are gone. */
  shutdown: (deadlineMs: number) => Promise<void>;
}

export async function startHandoffListener(opts: HandoffListenerOptions): Promise<Listener> {
  const log = opts.log.child({ listener: opts.name });
  const limiter = opts.limiter;
  const sessions = new Set<Promise<void>>();
  let handled = 0;
  let open = 0;
  let accepted = 0;
  let stopping = false;
  // pauseOnConnect: not one byte is read here, so the whole stream goes to the new owner.
  const server = net.createServer({ pauseOnConnect: true, noDelay: true });

  server.on('connection', (socket: net.Socket) => {
    if (stopping) {
      socket.destroy();
      return;
    }
    accepted++;
    const ip = normalizeIp(socket.remoteAddress ?? 'unknown');
    const overTotal = opts.maxConnections !== undefined && handled >= opts.maxConnections;
    const refuse = overTotal || !limiter.tryAcquire(ip);
    if (refuse) log.info({ peer: ip }, 'too many connections: handing over to refuse');
    else handled++;
    open++;
    // A bug in the handover ends this connection only (net/guard.ts); the guarded promise
    // never rejects.
    const guard = new ConnectionGuard(log, () => socket.destroy());
    const session = guardConnection(guard, socket, () => serve(socket, refuse)).then(() => {
      open--;
      if (!refuse) {
        limiter.release(ip);
        handled--;
      }
      sessions.delete(session);
    });
    sessions.add(session);
  });
  async function serve(socket: net.Socket, refuse: boolean): Promise<void> {
    const interceptor = opts.tlsInterceptor;
    if (refuse || !interceptor?.active()) return opts.handoff(socket, refuse);
    const head = await interceptor.intercept(socket);
    // Undefined: answered by the interceptor, or gone.
    if (head) await opts.handoff(socket, refuse, head);
  }

  await bindServer(server, opts);
  // Only once bound: a bind failure is bindServer's ListenError, one line, not a logged stack.
  server.on('error', (err) => log.error({ err }, 'listener error'));
  const addr = server.address() as net.AddressInfo;
  log.info({ host: addr.address, port: addr.port, handoff: true }, 'listening');

  let closing: Promise<void> | undefined;
  return {
    name: opts.name,
    address: () => ({ host: addr.address, port: addr.port }),
    get connections() {
      return open;
    },
    get accepted() {
      return accepted;
    },
    close(deadlineMs: number): Promise<void> {
      closing ??= (async () => {
        stopping = true;
        const serverClosed = new Promise<void>((resolve) => server.close(() => resolve()));
        await opts.shutdown(deadlineMs);
        await settleWithin([...sessions, serverClosed], 1000);
        log.info('listener closed');
      })();
      return closing;
    },
  };
}
