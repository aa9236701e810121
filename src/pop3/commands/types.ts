// A POP3 command: the states it is allowed in (RFC 1939 §3) and its handler. The session's
// dispatcher checks the state; handlers check their arguments and queue their replies.
import type { Pop3Session, StateKind } from '../session.js';
import type { CommandLine } from '../wire.js';

export interface CommandSpec {
  states: readonly StateKind[];
  run(session: Pop3Session, cmd: CommandLine): Promise<void> | void;
}
