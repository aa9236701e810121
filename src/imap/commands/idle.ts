// IDLE (RFC 2177, RFC 9051 §6.3.13): changes are pushed as they happen until DONE.
import type { Completion } from '../responses.js';
import { bad, ok } from '../responses.js';
import type { ImapSession, InputEvent } from '../session.js';
import { IMAP_LIMITS } from '../state.js';
import { AUTHED, command, type InputWait, noArgs } from './types.js';

/**
 * One session's IDLE: a state the session's input loop drives (commands/types.ts InputWait),
 * not an async function awaiting input, so an idle session holds this object and nothing
 * suspended.
 */
class Idle implements InputWait {
  /** Changes are to be pushed before the next wait: at the start, and after each wake-up. */
  private push = true;

  constructor(private readonly s: ImapSession) {
    s.send('+ idling\r\n');
    s.rx.expectRawLine();
    // RFC 2177 §3: clients re-issue IDLE every 29 minutes; allow far longer than autologout.
    s.conn.setIdleTimeout(IMAP_LIMITS.idleCommandTimeoutMs);
    s.idling = true;
  }

  beforeInput(): Promise<void> | Completion | null {
    const s = this.s;
    if (this.push) {
      this.push = false;
      // RFC 5465 §4: after NOTIFY, IDLE sends exactly the events NOTIFY asked for.
      if (s.notify) return s.pushNotifications(true);
      // Usually synchronous (no promise): see ImapSession.sendUpdates.
      const updating = s.state.kind === 'selected' ? s.sendUpdates({ allowExpunge: true }) : null;
      if (updating) return updating;
    }
    if (s.state.kind === 'logout') return ok('IDLE terminated');
    return null;
  }

  onInput(ev: InputEvent): Completion | null {
    const s = this.s;
    if (ev.kind === 'wake') {
      const end = s.endPending;
      if (end === null) {
        this.push = true;
        return null;
      }
      s.untaggedStatus('BYE', undefined, end);
      s.state = { kind: 'logout' };
      return ok('IDLE terminated');
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

  end(): void {
    this.s.idling = false;
    this.s.conn.setIdleTimeout(IMAP_LIMITS.idleTimeoutMs);
  }
}

export const IDLE = command({
  name: 'IDLE',
  states: AUTHED,
  parse: noArgs,
  wait: (s) => new Idle(s),
});
