/**
 * The shape of a command in the table: the states it is allowed in (RFC 9051 §6), a parser
 * for its arguments (throws ImapParseError; the dispatcher wraps it in tryParse and answers
 * BAD), and the handler, which emits untagged responses on the session and returns the
 * tagged completion (or throws ImapError / StoreError, mapped once by the dispatcher).
 */
import type { Completion } from '../responses.js';
import type { ImapSession } from '../session.js';
import type { StateKind } from '../state.js';
import type { ArgCursor, ParsedCommand } from '../wire/parser.js';

export interface CommandSpec<A = unknown> {
  /** Upper-case, 'UID FETCH' for the UID forms. */
  readonly name: string;
  readonly states: readonly StateKind[];
  parse(c: ArgCursor, s: ImapSession): A;
  run(s: ImapSession, args: A, cmd: ParsedCommand): Promise<Completion>;
  /**
   * Checks what came before a synchronizing literal (the cursor is after the command name;
   * the last line ends with the marker; `literals` were received before it): a completion
   * refuses the command before the client sends the literal (RFC 9051 §7.5); null lets the
   * literal come. It parses synchronously and may return a promise for store look-ups
   * (rejecting with the ImapError or StoreError run() would throw). Must refuse only what
   * run() would refuse the same way.
   */
  readonly beforeLiteral?: (
    s: ImapSession,
    c: ArgCursor,
    cmd: ParsedCommand,
    literals: number,
  ) => Completion | null | Promise<Completion | null>;
  /** RFC 9051 §7.5.1: FETCH, STORE and SEARCH must not be answered with EXPUNGE. */
  readonly noExpunge?: boolean;
  /** Runs after the tagged OK is written and flushed (STARTTLS, COMPRESS switch the stream). */
  readonly afterTagged?: (s: ImapSession) => Promise<void>;
}

/** Erases the argument type for the table (each spec is checked where it is written). */
export function command<A>(spec: CommandSpec<A>): CommandSpec<never> {
  return spec as unknown as CommandSpec<never>;
}

export const ANY: readonly StateKind[] = ['notAuthenticated', 'authenticated', 'selected'];
export const AUTHED: readonly StateKind[] = ['authenticated', 'selected'];
export const SELECTED: readonly StateKind[] = ['selected'];
export const NOT_AUTHED: readonly StateKind[] = ['notAuthenticated'];

/** For commands without arguments. */
export const noArgs = (c: ArgCursor): null => {
  c.end();
  return null;
};
