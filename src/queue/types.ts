// The contracts between the parts of outbound delivery (issue 13): routing finds where a
// domain's mail goes, the SMTP client carries one message to one host, the worker drives both
// over the persistent queue, and DSN / DKIM / SRS shape what is sent. Each part is its own
// module under queue/ (the client's wire code under smtp/client/); only these types join them.

/** How a connection to a host must be protected. */
export type TlsPolicy =
  /** STARTTLS whenever offered; on a failed handshake, retry in clear (RFC 3207 §4.1 allows). */
  | 'opportunistic'
  /** STARTTLS required, certificate verified for the host name (MTA-STS enforce, config). */
  | 'required'
  /** TLS from the first byte (a smarthost on 465, RFC 8314). */
  | 'implicit';

/** One host to try, with the addresses it resolved to (tried in order, IPv6 and IPv4). */
export interface RouteHost {
  /** The host name (MX target or smarthost); the name a certificate must match. */
  name: string;
  /** Resolved addresses in the order to try them. Empty: resolve failed (temporary). */
  addresses: string[];
  port: number;
  tls: TlsPolicy;
  /** Smarthost AUTH (RFC 4954), read from a file at startup. */
  auth?: { user: string; password: string };
}

export type Route =
  /** MX hosts by preference (RFC 5321 §5.1), or the implicit MX, or a smarthost list. */
  | {
      kind: 'hosts';
      hosts: RouteHost[];
      via: 'mx' | 'implicit-mx' | 'smarthost';
      mtaSts?: MtaStsMode;
    }
  /** RFC 7505 null MX: the domain accepts no mail. Final: bounce at once. */
  | { kind: 'null-mx' }
  /** No such domain (NXDOMAIN) or no address at all: final. */
  | { kind: 'no-domain'; reason: string }
  /** DNS failed (SERVFAIL, timeout): try again later. */
  | { kind: 'dns-error'; reason: string };

/** RFC 8461 policy mode in force for a domain (none: no policy). */
export type MtaStsMode = 'enforce' | 'testing' | 'none';

/** The reply of the remote server to one command, as received. */
export interface RemoteReply {
  code: number;
  /** RFC 3463 class.subject.detail when the server sent one. */
  enhanced: string | null;
  /** The reply lines' text, joined with a space. */
  text: string;
}

/** One recipient of one attempt. */
export interface SendRecipient {
  address: string;
  /** RFC 3461 §4.1 NOTIFY, passed on when the remote offers DSN. */
  notify?: 'NEVER' | Array<'SUCCESS' | 'FAILURE' | 'DELAY'>;
  /** RFC 3461 §4.2 ORCPT, `type;address`. */
  orcpt?: string;
}

export interface SendRequest {
  /** Envelope sender ('' for the null reverse-path, as for DSNs). */
  sender: string;
  recipients: SendRecipient[];
  /** The whole message as it is to be sent (trace and DKIM fields already in it). */
  message: Buffer;
  /** RFC 3461 §4.3 / §4.4, passed on when the remote offers DSN. */
  envid?: string;
  ret?: 'FULL' | 'HDRS';
  /**
   * Called by the client on the exact bytes it is about to send (after any 8BITMIME
   * downgrade), and its result is sent instead: DKIM signing happens here, so that no later
   * change breaks the signature. Called once per transaction.
   */
  finalize?: (message: Buffer) => Promise<Buffer>;
  /**
   * Called once the session this message went on can take another (its content is on the
   * wire to a server with PIPELINING, RFC 2920 §3.1), or when the send ends if that is
   * sooner; the reply to this message may still be on its way. The worker's per-destination
   * limit counts sessions, so it lets the next message to the destination start here.
   */
  onSessionFree?: () => void;
}

/** What became of one recipient in one attempt. */
export interface RecipientOutcome {
  address: string;
  /** delivered: 2xx after DATA; deferred: 4xx or no answer; failed: 5xx (final). */
  status: 'delivered' | 'deferred' | 'failed';
  /** The remote's reply (RCPT's if it refused, else the end of data's), or null if none came. */
  reply: RemoteReply | null;
  /** One line for logs, the queue and DSNs: what happened, with the remote's words. */
  diagnostic: string;
}

/** Facts about the connection an attempt used, for the per-attempt log line. */
export interface AttemptInfo {
  host: string;
  ip: string | null;
  port: number;
  /** e.g. 'TLSv1.3', or null in clear. */
  tls: string | null;
  durationMs: number;
  /**
   * The remote offered DSN (RFC 3461), so NOTIFY went on with the message and success
   * reports are its to send; without it, a NOTIFY=SUCCESS is answered by us ('relayed').
   */
  dsn?: boolean;
}

export interface SendResult {
  recipients: RecipientOutcome[];
  info: AttemptInfo;
}
