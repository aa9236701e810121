// The lines an operator follows a connection by (issue 16, item 8): 'connection opened' when a
// connection is accepted, 'TLS established' when STARTTLS completes, 'connection closed' when
// its socket closes. net/connection.ts writes them, the one place where every protocol's
// connection starts and ends (POP3 worker processes included), from facts the protocols set on
// the Connection (the account once authenticated). Two lines per connection, none per command:
// they go to the logger the listener was given, so no per-connection pino child is made for
// them (log.ts), and their fields are plain values read once.
import { randomBytes } from 'node:crypto';
import type net from 'node:net';
import type { Logger } from '../log.js';
import { normalizeIp } from './limits.js';

// A random prefix per process (POP3 workers are processes of their own) and a counter.
const idPrefix = randomBytes(2).toString('hex');
let idCounter = 0;

/** The id of a new connection, unique in the process: on every line the connection causes. */
export function newConnectionId(): string {
  return `${idPrefix}${(++idCounter).toString(36)}`;
}

/** `host:port`, an IPv6 address in brackets (`[::1]:1234`, RFC 3986 §3.2.2 notation). */
export function hostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/** What a connection knows of itself when it opens and when it closes. */
export interface ConnFacts {
  readonly listener: string;
  readonly id: string;
  /** Peer as `hostPort` gives it. */
  readonly peer: string;
  /** Negotiated TLS version (`TLSv1.3`) and cipher, once the handshake completed. */
  readonly tlsVersion: string | undefined;
  readonly tlsCipher: string | undefined;
  /** The authenticated account's address, once a login succeeded. */
  readonly account: string | undefined;
}

export function logOpened(log: Logger, c: ConnFacts): void {
  if (!log.isLevelEnabled('info')) return;
  log.info(
    { listener: c.listener, conn: c.id, peer: c.peer, tls: c.tlsVersion, cipher: c.tlsCipher },
    'connection opened',
  );
}

export function logTls(log: Logger, c: ConnFacts): void {
  if (!log.isLevelEnabled('info')) return;
  log.info(
    { listener: c.listener, conn: c.id, peer: c.peer, tls: c.tlsVersion, cipher: c.tlsCipher },
    'TLS established',
  );
}

/** `bytesIn` and `bytesOut`: what the protocol read and wrote (TLS records not counted). */
export function logClosed(
  log: Logger,
  c: ConnFacts,
  durationMs: number,
  bytesIn: number,
  bytesOut: number,
): void {
  if (!log.isLevelEnabled('info')) return;
  log.info(
    {
      listener: c.listener,
      conn: c.id,
      peer: c.peer,
      tls: c.tlsVersion,
      cipher: c.tlsCipher,
      account: c.account,
      durationMs,
      bytesIn,
      bytesOut,
    },
    'connection closed',
  );
}

/**
 * The same two lines for a connection to the HTTP listener, whose sockets Node's HTTP server
 * owns (no Connection): opened now, closed with the socket. Returns its id and peer, for the
 * request lines.
 */
export function followHttpConnection(
  log: Logger,
  listener: string,
  socket: net.Socket,
): { conn: string; peer: string } {
  const facts: ConnFacts = {
    listener,
    id: newConnectionId(),
    peer: hostPort(normalizeIp(socket.remoteAddress ?? 'unknown'), socket.remotePort ?? 0),
    tlsVersion: undefined,
    tlsCipher: undefined,
    account: undefined,
  };
  const openedAt = performance.now();
  logOpened(log, facts);
  socket.once('close', () => {
    const ms = Math.round(performance.now() - openedAt);
    logClosed(log, facts, ms, socket.bytesRead, socket.bytesWritten);
  });
  return { conn: facts.id, peer: facts.peer };
}
