/**
 * The shape of a command in the table: the states it is allowed in (RFC 9051 §6), a parser
 * for its arguments (throws ImapParseError; the dispatcher wraps it in tryParse and answers
 * BAD), and the handler, which emits untagged responses on the session and returns the
 * tagged completion (or throws ImapError / StoreError, mapped once by the dispatcher); or,
 * for a command that waits for its client (IDLE), the InputWait the session drives.
 */
import type { Completion } from '../responses.js';
import type { ImapSession, InputEvent } from '../session.js';
import type { StateKind } from '../state.js';
import type { ArgCursor, ParsedCommand } from '../wire/parser.js';

interface CommandBase<A> {
  /** Upper-case, 'UID FETCH' for the UID forms. */
  readonly name: string;
  readonly states: readonly StateKind[];
  parse(c: ArgCursor, s: ImapSession): A;
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

/**
 * A command either runs (emits its untagged responses, returns its tagged completion) or,
 * when it waits for its client (IDLE), starts an InputWait that the session's input loop
 * drives: then nothing of the command stays suspended while it waits.
 */
export type CommandSpec<A = unknown> = CommandBase<A> &
  (
    | { run(s: ImapSession, args: A, cmd: ParsedCommand): Promise<Completion>; wait?: undefined }
    | { wait(s: ImapSession, args: A, cmd: ParsedCommand): InputWait; run?: undefined }
  );

/**
 * A command waiting for its client with no async function suspended: thousands of sessions
 * sit in IDLE for hours, and each suspended frame costs its generator, promise and reactions.
 * The session calls beforeInput() before each wait, onInput() with each event; either may
 * end the command with its completion (or throw ImapError / StoreError, mapped as run()'s).
 */
export interface InputWait {
  /** Work before waiting (output to queue): a promise when that needs the store. */
  beforeInput(): Promise<void> | Completion | null;
  /** An input event, or a wake-up: the completion when it ends the command, else null. */
  onInput(ev: InputEvent): Completion | null;
  /** Runs once when the command ends, however it ended, before its completion is sent. */
  end(): void;
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
