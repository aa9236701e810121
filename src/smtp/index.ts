// SMTP protocol engines for the server's listeners: `smtp` is the MX (RFC 5321), `submission`
// and `submissions` take authenticated mail from users (RFC 6409, RFC 8314).
import type { SessionProtocolFactory } from '../server.js';
import { COMMANDS } from './commands.js';
import { refuseTooMany, SmtpSession } from './session.js';

export const smtpProtocol: SessionProtocolFactory = (ctx, listener) => {
  const mode = listener.name === 'smtp' ? 'mx' : 'submission';
  const commands = ctx.metrics.commandMetrics('smtp', Object.keys(COMMANDS));
  return {
    handler: (conn, { shuttingDown }) =>
      new SmtpSession(
        conn,
        ctx,
        {
          mode,
          starttls: listener.tls === 'starttls',
          greetDelayMs: ctx.cfg.smtp.greet_delay_ms,
          commands,
        },
        shuttingDown,
      ).run(),
    onTooMany: refuseTooMany,
  };
};
