// The IMAP protocol engine for the 'imap' (143, STARTTLS) and 'imaps' (993, implicit TLS)
// listeners.
import type { ProtocolFactory } from '../server.js';
import { formatUntaggedStatus } from './responses.js';
import { ImapSession } from './session.js';

export const imapProtocol: ProtocolFactory = (ctx, listener) => {
  const name = listener.name === 'imaps' ? 'imaps' : 'imap';
  return {
    async handler(conn, { shuttingDown }) {
      const session = new ImapSession(
        conn,
        ctx,
        { name, starttls: listener.tls === 'starttls' },
        shuttingDown,
      );
      await session.run();
    },
    async onTooMany(conn) {
      await conn.write(formatUntaggedStatus('BYE', 'UNAVAILABLE', 'Too many connections'));
    },
  };
};

export { ImapSession } from './session.js';
