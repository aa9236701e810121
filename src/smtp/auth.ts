// AUTH (RFC 4954) on submission: PLAIN and LOGIN over TLS, with the shared authenticator
// (throttling, lockout, logging without passwords).
import { isTemporaryAuthFailure } from '../auth/authenticator.js';
import { plaintextPolicy } from '../auth/plaintext.js';
import { continueSasl, SASL_ABORTED, startSasl } from '../auth/sasl.js';
import type { SmtpSession } from './session.js';
import type { SmtpCommand } from './wire/command.js';
import * as R from './wire/replies.js';

/** RFC 4954 §4: a client response line is at most 12288 octets of base64. */
const MAX_SASL_LINE = 12288;

/** May this connection carry a password now: TLS, or a peer in plaintext_networks. */
export function passwordsAllowed(s: SmtpSession): boolean {
  return s.conn.secure || plaintextPolicy(s.cfg.auth).allows(s.conn.remoteAddress);
}

export async function authCommand(
  s: SmtpSession,
  cmd: Extract<SmtpCommand, { kind: 'AUTH' }>,
): Promise<void> {
  if (s.mode !== 'submission') {
    s.reply(R.notImplemented());
    return;
  }
  // RFC 4954 §4: AUTH is not allowed during a transaction, nor twice.
  if (s.state.helo === null || !s.state.esmtp) {
    s.reply(R.badSequence('Send EHLO first'));
    return;
  }
  if (s.state.account !== null) {
    s.reply(R.badSequence('Already authenticated'));
    return;
  }
  if (s.state.transaction !== null) {
    s.reply(R.badSequence('AUTH not allowed during a mail transaction'));
    return;
  }
  // RFC 8314 §3 / RFC 4954 §4: no password over cleartext (but from plaintext_networks).
  if (!passwordsAllowed(s)) {
    s.reply(R.mustStartTls());
    await s.countError();
    return;
  }
  const mechanism = cmd.mechanism.toUpperCase();
  // How many challenges the client answered: says where an exchange stopped, in the log.
  let answered = 0;
  let step = startSasl(cmd.mechanism, cmd.initialResponse);
  while (step.kind === 'challenge') {
    s.reply(R.authChallenge(step.challenge));
    await s.flush();
    const line = await s.conn.readLine(MAX_SASL_LINE);
    if (line.kind === 'too-long') {
      s.log.info({ event: 'auth', mechanism, answered }, SASL_ABORTED['too-long']);
      s.reply(R.authLineTooLong());
      return;
    }
    if (line.kind !== 'line') {
      // A client that hangs up at a challenge usually could not parse it or has no password:
      // without this line an operator sees nothing at all.
      s.log.info({ event: 'auth', mechanism, answered }, SASL_ABORTED.closed);
      s.close();
      return;
    }
    answered++;
    step = continueSasl(step.state, line.line.toString('latin1'));
  }
  if (step.kind === 'error') {
    if (step.reason === 'cancelled') s.reply(R.authCancelled());
    else if (step.reason === 'unsupported')
      s.reply(R.parameterNotImplemented('Unsupported mechanism'));
    else s.reply(R.authBadBase64());
    s.log.info(
      { event: 'auth', mechanism, answered, reason: step.reason },
      SASL_ABORTED[step.reason],
    );
    await s.countError();
    return;
  }
  const c = step.credentials;
  const result = await s.ctx.auth.authenticate({
    username: c.authcid,
    password: c.password,
    authzid: c.authzid || undefined,
    ip: s.conn.remoteAddress,
    protocol: 'smtp',
    conn: s.conn.id,
    listener: s.conn.listener,
  });
  if (!result.ok) {
    if (isTemporaryAuthFailure(result.reason)) s.reply(R.authTemporaryFailure());
    else s.reply(R.authFailed());
    await s.countError();
    return;
  }
  s.state.account = await s.ctx.store.getAccountById(result.account.id);
  s.log = s.log.child({ account: result.account.address });
  s.conn.account = result.account.address;
  s.reply(R.authOk());
}
