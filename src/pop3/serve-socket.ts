// One accepted POP3 socket, from raw TCP to the end of its session: TLS first on the
// implicit-TLS port (RFC 8314 §3.3), the refusal of a connection over a limit, or a whole
// Pop3Session. What a POP3 worker process does with each socket it is handed, and what the
// main process does when it has no worker to hand one to.
import type net from 'node:net';
import type { Logger } from '../log.js';
import { Connection, TlsHandshakeError } from '../net/connection.js';
import type { ConnectionGuard } from '../net/guard.js';
import { Pop3Session, type Pop3SessionOptions } from './session.js';
import { errLine } from './wire.js';
import type { ConnTls } from './workers/protocol.js';

export interface ServeSocketOptions {
  /** The listener's name (pop3, pop3s), for the logs. */
  listener: string;
  tls: ConnTls;
  /** Over a connection limit: say so (after the TLS handshake on 995) and close. */
  refuse: boolean;
  /** Implicit TLS: the start of the ClientHello, already read from the socket. */
  head?: Buffer;
  session: Omit<Pop3SessionOptions, 'starttls'>;
  log: Logger;
  shuttingDown: AbortSignal;
  /** Told of the Connection at once, so a shutdown past its deadline can destroy it. */
  track?: (conn: Connection) => void;
  /** The guard the caller put on the socket (net/guard.ts); else the Connection makes one. */
  guard?: ConnectionGuard;
}

export async function servePop3Socket(socket: net.Socket, o: ServeSocketOptions): Promise<void> {
  socket.setNoDelay(true);
  const conn = new Connection(socket, {
    log: o.log,
    listener: o.listener,
    secure: false,
    guard: o.guard,
  });
  o.track?.(conn);
  try {
    // Called in the tick that wrapped the socket, before any byte was read from it, so
    // nothing of the ClientHello is taken for plaintext sent ahead of the handshake.
    if (o.tls === 'implicit') await conn.startTls(o.session.tls, o.head);
    if (o.refuse) {
      conn.log.info('too many connections');
      await conn.write(errLine('Too many connections, try again later', 'SYS/TEMP'));
    } else {
      const opts = { ...o.session, starttls: o.tls === 'starttls' };
      await new Pop3Session(conn, opts, o.shuttingDown).run();
    }
    await conn.close();
  } catch (err) {
    if (err instanceof TlsHandshakeError) conn.log.debug('session ended: TLS failed');
    else conn.log.error({ err }, 'session handler failed');
    conn.destroy();
  }
}
