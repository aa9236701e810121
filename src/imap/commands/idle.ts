// IDLE (RFC 2177, RFC 9051 §6.3.13): changes are pushed as they happen until DONE.
import { bad, ok } from '../responses.js';
import { IMAP_LIMITS } from '../state.js';
import { AUTHED, command, noArgs } from './types.js';

export const IDLE = command({
  name: 'IDLE',
  states: AUTHED,
  parse: noArgs,
  async run(s) {
    s.send('+ idling\r\n');
    s.rx.expectRawLine();
    // RFC 2177 §3: clients re-issue IDLE every 29 minutes; allow far longer than autologout.
    s.conn.setIdleTimeout(IMAP_LIMITS.idleCommandTimeoutMs);
    s.idling = true;
    try {
      for (;;) {
        // RFC 5465 §4: after NOTIFY, IDLE sends exactly the events NOTIFY asked for.
        if (s.notify) await s.pushNotifications(true);
        else if (s.state.kind === 'selected') {
          // Usually synchronous (no promise): see ImapSession.sendUpdates.
          const updating = s.sendUpdates({ allowExpunge: true });
          if (updating) await updating;
        }
        if (s.state.kind === 'logout') return ok('IDLE terminated');
        const ev = await s.nextEvent(true);
        if (ev.kind === 'wake') {
          const end = s.endPending;
          if (end !== null) {
            s.untaggedStatus('BYE', undefined, end);
            s.state = { kind: 'logout' };
            return ok('IDLE terminated');
          }
          continue;
        }
        if (ev.kind === 'eof') {
          if (s.conn.timedOut) s.untaggedStatus('BYE', undefined, 'Autologout; idle for too long');
          s.state = { kind: 'logout' };
          return ok('IDLE terminated');
        }
        if (ev.kind === 'line' && ev.line.toString('latin1').toUpperCase() === 'DONE') {
          return ok('IDLE terminated');
        }
        throw bad('Expected DONE');
      }
    } finally {
      s.idling = false;
      s.conn.setIdleTimeout(IMAP_LIMITS.idleTimeoutMs);
    }
  },
});
