// LOGIN (RFC 9051 §6.2.3) and AUTHENTICATE (RFC 9051 §6.2.2) with PLAIN and LOGIN, and the
// initial response of SASL-IR (RFC 4959).
import {
  type AuthResult,
  authErrorText,
  isTemporaryAuthFailure,
} from '../../auth/authenticator.js';
import { continueSasl, SASL_ABORTED, type SaslCredentials, startSasl } from '../../auth/sasl.js';
import { bad, type Completion, no, ok } from '../responses.js';
import type { ImapSession } from '../session.js';
import { IMAP_LIMITS } from '../state.js';
import { capabilities } from './capability.js';
import { command, NOT_AUTHED } from './types.js';

const utf8 = new TextDecoder('utf-8', { fatal: true });

function refusePlaintext(s: ImapSession): void {
  // RFC 9051 §6.2.3: LOGIN with LOGINDISABLED advertised gets NO [PRIVACYREQUIRED].
  if (!s.plaintextAuthAllowed) throw no('PRIVACYREQUIRED', 'Use STARTTLS first');
}

async function finish(s: ImapSession, creds: SaslCredentials): Promise<Completion> {
  const r: AuthResult = await s.ctx.auth.authenticate({
    username: creds.authcid,
    password: creds.password,
    authzid: creds.authzid,
    ip: s.conn.remoteAddress,
    protocol: 'imap',
    conn: s.conn.id,
    listener: s.conn.listener,
  });
  if (!r.ok) {
    s.authFailures++;
    if (s.authFailures >= IMAP_LIMITS.maxAuthFailures) {
      s.untaggedStatus('BYE', undefined, 'Too many failed authentications');
      s.state = { kind: 'logout' };
    }
    // RFC 5530: UNAVAILABLE for a locked account or a full queue (temporary), else
    // AUTHENTICATIONFAILED.
    const code = isTemporaryAuthFailure(r.reason)
      ? 'UNAVAILABLE'
      : r.reason === 'authz-mismatch'
        ? 'AUTHORIZATIONFAILED'
        : 'AUTHENTICATIONFAILED';
    throw no(code, authErrorText(r.reason));
  }
  s.login(r.account);
  // Other nodes' changes to the account are heard before the session reads (postgres).
  const listening = s.ctx.store.listening?.(r.account.id);
  if (listening) await listening;
  s.conn.account = r.account.address;
  // RFC 9051 §6.2.2: the OK may carry the capabilities, which change after authentication.
  return ok('Logged in', `CAPABILITY ${capabilities(s).join(' ')}`);
}

export const LOGIN = command({
  name: 'LOGIN',
  states: NOT_AUTHED,
  parse(c) {
    c.space();
    const user = c.astring();
    c.space();
    const pass = c.astring();
    c.end();
    try {
      return { user: utf8.decode(user), pass: utf8.decode(pass) };
    } catch {
      return c.fail('User name and password must be UTF-8');
    }
  },
  async run(s, a) {
    refusePlaintext(s);
    return finish(s, { authzid: '', authcid: a.user, password: a.pass });
  },
});

export const AUTHENTICATE = command({
  name: 'AUTHENTICATE',
  states: NOT_AUTHED,
  parse(c) {
    c.space();
    const mech = c.atom().toUpperCase();
    let initial: string | undefined;
    if (c.maybe(' ')) initial = c.atom(); // RFC 4959: base64 or "="
    c.end();
    return { mech, initial };
  },
  async run(s, a) {
    refusePlaintext(s);
    let step = startSasl(a.mech, a.initial);
    // How many challenges the client answered: where an aborted exchange stopped, in the log.
    let answered = 0;
    const aborted = (why: keyof typeof SASL_ABORTED, reason?: string) =>
      s.log.info({ event: 'auth', mechanism: a.mech, answered, reason }, SASL_ABORTED[why]);
    for (;;) {
      if (step.kind === 'error') {
        aborted(step.reason, step.reason);
        if (step.reason === 'unsupported') throw no('CANNOT', `Unsupported mechanism ${a.mech}`);
        // RFC 9051 §6.2.2: a cancelled exchange is answered BAD.
        if (step.reason === 'cancelled') throw bad('Authentication cancelled');
        throw bad('Malformed SASL response');
      }
      if (step.kind === 'done') return finish(s, step.credentials);
      s.send(`+ ${step.challenge}\r\n`);
      s.rx.expectRawLine();
      const ev = await s.nextEvent(false);
      if (ev.kind === 'eof') {
        aborted('closed');
        s.state = { kind: 'logout' };
        return { status: 'BAD', text: 'Connection closed during authentication' };
      }
      if (ev.kind !== 'line') {
        aborted('too-long');
        throw bad('SASL response line too long');
      }
      answered++;
      step = continueSasl(step.state, ev.line.toString('latin1'));
    }
  },
});
