// AUTHORIZATION state commands: USER/PASS (RFC 1939 §7), AUTH (RFC 5034), STLS (RFC 2595 §4).
// APOP (RFC 1939 §7) is not offered: it needs the clear-text password on the server, and
// Letterbox stores only scrypt hashes. See docs/pop3.md.
import {
  continueSasl,
  SASL_ABORTED,
  type SaslStep,
  startSasl,
  supportedMechanisms,
} from '../../auth/sasl.js';
import type { Pop3Session } from '../session.js';
import type { CommandSpec } from './types.js';

const AUTHORIZATION = ['authorization'] as const;

/** RFC 8314 §3 / RFC 2595 §4: no password over cleartext unless the admin allowed it. */
function refusePlaintext(s: Pop3Session): boolean {
  if (s.plaintextAllowed) return false;
  s.fail(
    s.canStartTls
      ? 'Plaintext authentication disallowed, use STLS first'
      : 'Plaintext authentication disallowed on this connection',
    'AUTH',
  );
  return true;
}

function authorization(s: Pop3Session) {
  if (s.state.kind !== 'authorization') throw new Error('not in AUTHORIZATION state');
  return s.state;
}

export const USER: CommandSpec = {
  states: AUTHORIZATION,
  run(s, cmd) {
    if (refusePlaintext(s)) return;
    if (cmd.args.length !== 1) {
      s.fail('Syntax: USER name');
      return;
    }
    // Said whatever the name: RFC 1939 §7 allows -ERR for an unknown user, but that would
    // tell a guesser which addresses exist.
    authorization(s).user = cmd.args[0]!;
    s.ok('Send your password');
  },
};

export const PASS: CommandSpec = {
  states: AUTHORIZATION,
  async run(s, cmd) {
    if (refusePlaintext(s)) return;
    const state = authorization(s);
    const user = state.user;
    // RFC 1939 §7: after PASS, successful or not, a new USER starts over.
    state.user = null;
    if (user === null) {
      s.fail('Send USER first');
      return;
    }
    if (cmd.rest.length === 0) {
      s.fail('Syntax: PASS password');
      return;
    }
    await s.login(user, cmd.rest);
  },
};

export const AUTH: CommandSpec = {
  states: AUTHORIZATION,
  async run(s, cmd) {
    if (refusePlaintext(s)) return;
    authorization(s).user = null;
    if (cmd.args.length === 0) {
      // RFC 1734's mechanism list, which RFC 5034 dropped but some old clients still probe.
      s.ok('Mechanisms follow');
      for (const m of supportedMechanisms()) await s.send(Buffer.from(`${m}\r\n`));
      await s.send(Buffer.from('.\r\n'));
      return;
    }
    if (cmd.args.length > 2) {
      s.fail('Syntax: AUTH mechanism [initial-response]');
      return;
    }
    let step: SaslStep = startSasl(cmd.args[0]!, cmd.args[1]);
    const mechanism = cmd.args[0]!.toUpperCase().slice(0, 20);
    // How many challenges the client answered: where an aborted exchange stopped, in the log.
    let answered = 0;
    while (step.kind === 'challenge') {
      // RFC 5034 §4: a challenge is "+" SP base64 (empty for an empty challenge).
      await s.send(Buffer.from(`+ ${step.challenge}\r\n`));
      const line = await s.readSaslLine();
      if (line.kind !== 'line') {
        s.log.info({ event: 'auth', mechanism, answered }, SASL_ABORTED[line.kind]);
        return;
      }
      answered++;
      step = continueSasl(step.state, line.text);
    }
    if (step.kind === 'error') {
      s.log.info(
        { event: 'auth', mechanism, answered, reason: step.reason },
        SASL_ABORTED[step.reason],
      );
      const text = {
        cancelled: 'Authentication cancelled',
        malformed: 'Malformed SASL response',
        unsupported: 'Unsupported authentication mechanism',
      }[step.reason];
      s.fail(text);
      return;
    }
    const { authcid, password, authzid } = step.credentials;
    await s.login(authcid, password, authzid);
  },
};

export const STLS: CommandSpec = {
  states: AUTHORIZATION,
  async run(s, cmd) {
    if (cmd.args.length > 0) {
      s.fail('Syntax: STLS');
      return;
    }
    if (!s.canStartTls) {
      s.fail(s.conn.secure ? 'TLS already active' : 'STLS not offered on this port');
      return;
    }
    s.ok('Begin TLS negotiation');
    await s.flush();
    // Connection.startTls discards plaintext pipelined after STLS (RFC 2595 §4 / CVE-2011-0411),
    // and RFC 2595 §4: the client starts over, so forget any USER given in cleartext.
    await s.conn.startTls(s.opts.tls);
    s.state = { kind: 'authorization', user: null };
    s.log.debug('STLS: TLS established');
  },
};

export const APOP: CommandSpec = {
  states: AUTHORIZATION,
  run(s) {
    s.fail('APOP not supported, use USER/PASS or AUTH over TLS');
  },
};
