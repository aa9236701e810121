// The SMTP command table: one handler per command kind (RFC 5321 §4.1.1 and extensions).
// The session parses, then calls the handler; handlers queue replies on the session.
import { authCommand, passwordsAllowed } from './auth.js';
import { bdatCommand, dataCommand } from './data.js';
import { mailCommand, rcptCommand } from './envelope.js';
import type { SmtpSession } from './session.js';
import type { SmtpCommand } from './wire/command.js';
import { ehloKeywords } from './wire/ehlo.js';
import * as R from './wire/replies.js';
import { WireMemo } from './wire-memo.js';

/** A handler that has nothing to wait for returns nothing (no promise per command). */
type Handler<K extends SmtpCommand['kind']> = (
  s: SmtpSession,
  cmd: Extract<SmtpCommand, { kind: K }>,
) => Promise<void> | void;

export type CommandTable = { [K in SmtpCommand['kind']]: Handler<K> };

/** SASL mechanisms offered where AUTH is (RFC 4954 §4; LOGIN for old clients). */
export const AUTH_MECHANISMS = ['PLAIN', 'LOGIN'];

/**
 * AUTH is offered on submission only, and only over TLS (RFC 8314 §3, RFC 4954 §4) except
 * from `[auth] plaintext_networks` (auth/plaintext.ts).
 */
export function authAllowed(s: SmtpSession): boolean {
  return s.mode === 'submission' && passwordsAllowed(s);
}

function resetTransaction(s: SmtpSession): void {
  s.state.transaction = null;
  s.inbound.reset();
}

// RFC 5321 §4.1.1.1: EHLO resets the state as RSET would and lists the extensions.
const ehlo: Handler<'EHLO'> = (s, cmd) => {
  resetTransaction(s);
  s.state.helo = cmd.domain;
  s.state.esmtp = true;
  const host = s.cfg.hostname;
  const size = s.cfg.limits.max_message_size;
  const starttls = s.listener.starttls && !s.conn.secure;
  const auth = authAllowed(s) && s.state.account === null;
  // The reply depends on these four only: formatted once per combination (session.ts).
  s.replyMemo(EHLO_WIRE, host, size, starttls, auth);
};

const EHLO_WIRE = new WireMemo((host: string, size: number, starttls: boolean, auth: boolean) =>
  R.ehlo(
    host,
    ehloKeywords({
      size,
      starttls,
      auth: auth ? AUTH_MECHANISMS : null,
      chunking: true,
      smtputf8: true,
      dsn: true,
      pipelining: true,
      eightBit: true,
      enhanced: true,
      binaryMime: false,
    }),
  ),
);

const HELO_WIRE = new WireMemo((host: string) => R.helo(host));

const helo: Handler<'HELO'> = (s, cmd) => {
  resetTransaction(s);
  s.state.helo = cmd.domain;
  s.state.esmtp = false;
  const host = s.cfg.hostname;
  s.replyMemo(HELO_WIRE, host, undefined, undefined, undefined);
};

// RFC 3207 §4: after 220 the client starts TLS; §4.2: the server forgets what it knew
// (EHLO, AUTH) and the client must EHLO again. Buffered plaintext is dropped by startTls.
const starttls: Handler<'STARTTLS'> = async (s) => {
  if (!s.listener.starttls) {
    s.reply(R.notImplemented());
    return;
  }
  if (s.conn.secure) {
    s.reply(R.badSequence('TLS already active'));
    return;
  }
  s.reply(R.readyForTls());
  await s.flush();
  await s.conn.startTls(s.ctx.tls);
  s.state.helo = null;
  s.state.esmtp = false;
  s.state.account = null;
  resetTransaction(s);
};

const rset: Handler<'RSET'> = (s) => {
  resetTransaction(s);
  s.reply(R.ok());
};

const noop: Handler<'NOOP'> = (s) => {
  s.reply(R.ok());
};

// RFC 5321 §4.1.1.10: the server replies 221 and then closes; the client sends nothing
// after QUIT, so the socket goes as soon as the reply is out (Connection.finish).
const quit: Handler<'QUIT'> = (s) => {
  const written = s.closeWith(R.bye());
  if (written) return written.then(() => s.conn.guard.detach(s.conn.finish()));
  s.conn.guard.detach(s.conn.finish());
  return undefined;
};

// RFC 5321 §3.5.3 / §7.3: VRFY may answer 252 so that addresses cannot be probed.
const vrfy: Handler<'VRFY'> = (s) => {
  s.reply(R.cannotVerify());
};

// EXPN would list an alias's members: not offered (RFC 5321 §7.3).
const expn: Handler<'EXPN'> = (s) => {
  s.reply(R.notImplemented());
};

const help: Handler<'HELP'> = (s) => {
  s.reply(R.help());
};

export const COMMANDS: CommandTable = {
  EHLO: ehlo,
  HELO: helo,
  STARTTLS: starttls,
  AUTH: authCommand,
  MAIL: mailCommand,
  RCPT: rcptCommand,
  DATA: dataCommand,
  BDAT: bdatCommand,
  RSET: rset,
  NOOP: noop,
  QUIT: quit,
  VRFY: vrfy,
  EXPN: expn,
  HELP: help,
};
