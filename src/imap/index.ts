// The IMAP protocol engine for the 'imap' (143, STARTTLS) and 'imaps' (993, implicit TLS)
// listeners.
import type { ProtocolFactory } from '../server.js';
import { COMMANDS } from './commands/table.js';
import { formatUntaggedStatus } from './responses.js';
import { ImapSession } from './session.js';

export const imapProtocol: ProtocolFactory = (ctx, listener) => {
  const name = listener.name === 'imaps' ? 'imaps' : 'imap';
  const commands = ctx.metrics.commandMetrics('imap', COMMANDS.keys());
  return {
    // Not async: a suspended frame per connection adds up over thousands of IDLE sessions.
    handler(conn, { shuttingDown }) {
      return new ImapSession(
        conn,
        ctx,
        { name, starttls: listener.tls === 'starttls', commands },
        shuttingDown,
      ).run();
    },
    async onTooMany(conn) {
      await conn.write(formatUntaggedStatus('BYE', 'UNAVAILABLE', 'Too many connections'));
    },
  };
};

export { ImapSession } from './session.js';
