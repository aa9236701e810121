/**
 * What an IMAP session knows (RFC 9051 §3): the connection state as a discriminated union that
 * carries its data, the extensions the client enabled, and the limits that bound one session.
 */
import type { Mailbox } from '../store/types.js';
import type { MailboxView } from './view.js';

export interface AccountRef {
  readonly id: number;
  readonly address: string;
}

export interface Selected {
  mailbox: Mailbox;
  view: MailboxView;
  /** EXAMINE, or a mailbox the user may not change (RFC 9051 §6.3.3). */
  readOnly: boolean;
}

/** RFC 9051 §3: Not Authenticated, Authenticated, Selected and Logout. */
export type SessionState =
  | { kind: 'notAuthenticated' }
  | { kind: 'authenticated'; account: AccountRef }
  | { kind: 'selected'; account: AccountRef; selected: Selected }
  | { kind: 'logout' };

export type StateKind = SessionState['kind'];

/** Extensions a client turned on with ENABLE (RFC 5161), or implicitly (RFC 7162 §3.1). */
export interface Enabled {
  condstore: boolean;
  qresync: boolean;
  /** RFC 6855 UTF8=ACCEPT, or IMAP4rev2 (RFC 9051 §6.3.1): mailbox names and strings in UTF-8. */
  utf8: boolean;
  imap4rev2: boolean;
}

/** Limits of one IMAP session, each with its reason. */
export const IMAP_LIMITS = {
  /** Non-literal bytes of one command: a SEARCH or UID set from a big mailbox fits easily. */
  maxLineLength: 64 * 1024,
  /** RFC 9051 §5.4: the autologout timer must be at least 30 minutes (once authenticated). */
  idleTimeoutMs: 30 * 60 * 1000,
  /** Largest literal before authentication: LOGIN / AUTHENTICATE arguments are short. */
  preAuthLiteral: 8 * 1024,
  /**
   * RFC 2177 §3: clients re-issue IDLE at least every 29 minutes; a session in IDLE is allowed
   * much longer before it counts as dead (a phone that lost its network).
   */
  idleCommandTimeoutMs: 2 * 60 * 60 * 1000,
  /**
   * Token bucket for commands per connection: a burst, then this many per second. A busy
   * client on loopback runs a few hundred commands a second (a sync tool pipelines STOREs and
   * FETCHes); past that a single connection is flooding, and waits (it is not refused).
   */
  commandBurst: 2000,
  commandsPerSecond: 1000,
  /** Failed authentications in one connection before BYE (the throttle counts per IP too). */
  maxAuthFailures: 5,
  /** Syntax errors in a row before the session ends: a client that does not speak IMAP. */
  maxBadCommands: 20,
  /** Messages in one MULTIAPPEND (RFC 3502). */
  maxAppendMessages: 1000,
  /** Output kept in memory before it is written out (a FETCH of many bodies streams). */
  outputHighWater: 256 * 1024,
} as const;
