// The POP3 protocol engine for the 'pop3' (STLS, RFC 2595) and 'pop3s' (implicit TLS,
// RFC 8314) listeners.
import type { Connection } from '../net/connection.js';
import type { ProtocolFactory } from '../server.js';
import { localBackend } from './backend.js';
import { IDLE_TIMEOUT_MS } from './limits.js';
import { locksFor } from './lock.js';
import { Pop3Session } from './session.js';
import { errLine } from './wire.js';

export interface Pop3ProtocolOptions {
  /** Autologout timer; RFC 1939 §3 asks for at least 10 minutes. Tests pass less. */
  idleTimeoutMs?: number;
}

export function createPop3Protocol(opts: Pop3ProtocolOptions = {}): ProtocolFactory {
  return (ctx, listener) => {
    const backend = localBackend(ctx, locksFor(ctx.store));
    const idleTimeoutMs = opts.idleTimeoutMs ?? IDLE_TIMEOUT_MS;
    return {
      handler: (conn: Connection, { shuttingDown }) =>
        new Pop3Session(
          conn,
          {
            backend,
            hostname: ctx.cfg.hostname,
            allowPlaintext: ctx.cfg.auth.allow_plaintext,
            tls: ctx.tls,
            starttls: listener.tls === 'starttls',
            idleTimeoutMs,
          },
          shuttingDown,
        ).run(),
      onTooMany: (conn: Connection) =>
        conn.write(errLine('Too many connections, try again later', 'SYS/TEMP')),
    };
  };
}

export const pop3Protocol: ProtocolFactory = createPop3Protocol();
