// Why a connection to a remote SMTP server could not be made or could not go on. The worker
// turns these into deferrals (or, for a permanent refusal, tries the next host): a connection
// failure never decides a recipient's fate for good (RFC 5321 §4.5.4.1: retry later).
import type { AttemptInfo, RemoteReply } from '../../queue/types.js';

export type ClientErrorKind =
  /** TCP connect failed or timed out, or no address to try. */
  | 'connect'
  /** A wait for the remote (reply, write, handshake) passed its timeout. */
  | 'timeout'
  /** The remote closed the connection (or it broke) when a reply was owed. */
  | 'closed'
  /** The remote sent something that is not SMTP (bad reply line, over-long, unsolicited). */
  | 'protocol'
  /** The TLS handshake failed (opportunistic: see retryInClear). */
  | 'tls'
  /** TLS is required and STARTTLS is missing or the certificate does not verify. */
  | 'tls-required'
  /** The greeting, EHLO/HELO or another setup command was refused. */
  | 'refused'
  /** AUTH to a smarthost failed or could not be attempted. */
  | 'auth';

export class SmtpClientError extends Error {
  readonly kind: ClientErrorKind;
  /** The remote's reply that caused this, when there was one. */
  readonly reply: RemoteReply | null;
  /**
   * Opportunistic STARTTLS failed in the handshake, and the connection is gone: the caller
   * may connect again with `noStartTls` and send in clear (RFC 3207 §4.1, RFC 7435 §1.1).
   */
  readonly retryInClear: boolean;
  /** The connection this happened on (ip null: no connection was made). */
  info: Omit<AttemptInfo, 'durationMs'> | null;

  constructor(
    kind: ClientErrorKind,
    message: string,
    opts: { reply?: RemoteReply | null; retryInClear?: boolean; cause?: unknown } = {},
  ) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'SmtpClientError';
    this.kind = kind;
    this.reply = opts.reply ?? null;
    this.retryInClear = opts.retryInClear ?? false;
    this.info = null;
  }

  /**
   * The remote refused for good (a 5xx greeting, EHLO and HELO both 5xx, AUTH 5xx): trying
   * this host again soon will not help, though another MX host may (RFC 5321 §5.1).
   * Everything else is temporary. Either way the recipients are deferred, not bounced.
   */
  get permanent(): boolean {
    return this.reply !== null && this.reply.code >= 500;
  }
}
