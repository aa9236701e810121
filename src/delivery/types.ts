// What every producer of mail hands the delivery stage, and what it answers. SMTP (MX and
// submission), the queue's DSNs, forwarding and IMAP APPEND all speak these types; none of
// them is a protocol's: each protocol turns an Outcome into its own reply (smtp/outcome.ts:
// an SMTP reply with its enhanced code; IMAP: OK or NO [CODE]).
import type { Config } from '../config/schema.js';
import type { Logger } from '../log.js';
import type { Srs } from '../queue/srs.js';
import type { Account, AppendResult, DsnNotify, MailStore } from '../store/types.js';

/** What delivery needs from the running server. A ServerContext is one. */
export interface DeliveryDeps {
  cfg: Config;
  store: MailStore;
  /** Where delivery logs its decisions (the caller's child logger: connection, peer). */
  log: Logger;
  /** Sender rewriting for forwarded mail, and the way its bounces come back (queue/srs.ts). */
  srs?: Srs;
  /** Monitoring: hears the outcome of every message `deliver` decides. */
  observer?: DeliveryObserver;
}

/** Counts what delivery decides (http/metrics.ts); must not throw. */
export interface DeliveryObserver {
  messageOutcome(origin: Origin, outcome: Outcome): void;
}

/** How a message came to us: decides which checks apply and who may be a recipient. */
export type Origin =
  /** From another server, to our MX: SPF/DKIM/DMARC; recipients of local domains only. */
  | 'mx'
  /** From an authenticated account (RFC 6409): originator checks; any recipient. */
  | 'submission'
  /** Made by this server (a DSN, RFC 3464): no checks; any recipient. */
  | 'dsn';

/** An envelope recipient, resolved against accounts, aliases, catch-alls and postmaster. */
export interface Recipient {
  /** The address as given (RCPT TO), normalized. */
  address: string;
  /** RFC 3461 §4.1 NOTIFY, kept for the DSNs of what is queued. */
  notify?: DsnNotify;
  /** RFC 3461 §4.2 ORCPT: address type (e.g. `rfc822`) and the decoded address. */
  orcpt?: { type: string; addr: string };
  /** Local accounts it resolves to. */
  accounts: Account[];
  /** Addresses outside: the recipient itself, or an alias's forward targets. */
  remote: string[];
}

/** An address as a path names it: the parts before normalization (RFC 5321 §4.1.2). */
export interface PathAddress {
  /** The local part, unquoted. */
  local: string;
  /** The domain, or an address literal with its brackets; '' for the bare <Postmaster>. */
  domain: string;
  /** The domain is an address literal (`[192.0.2.1]`). */
  literal?: boolean;
}

/** The server a message came from, as plain facts for the Received field (RFC 5321 §4.4). */
export interface Peer {
  ip: string;
  /** What the client called itself (EHLO/HELO), null if it did not. */
  helo: string | null;
  /** RFC 3848 protocol name for the `with` clause (trace.ts withProtocol), e.g. ESMTPSA. */
  protocol: string;
}

/** One message for the delivery stage. */
export interface DeliveryInput {
  origin: Origin;
  /** The envelope sender, '' for the null reverse-path. */
  sender: string;
  /**
   * Resolved recipients (SMTP resolves each at RCPT time, resolve.ts), or addresses that
   * delivery resolves itself with the rules of `origin`.
   */
  recipients: Array<Recipient | string>;
  message: Buffer;
  /** Received from this peer; none for a message this server made. */
  peer?: Peer;
  /** The authenticated account (submission). */
  account?: Account | null;
  /** RFC 3461 §4.4 ENVID and §4.3 RET, kept for the queue's DSNs. */
  envid?: string;
  ret?: 'FULL' | 'HDRS';
  /** An id for logs and the Received field; made up when absent. */
  id?: string;
}

/** Why a message or a recipient is refused: permanent, the sender must change something. */
export type Refusal =
  /** A recipient of a local domain that resolves to nothing. */
  | { reason: 'no-such-user'; address: string }
  /** The recipient's mailbox (or one of them, a list) has no room. */
  | { reason: 'over-quota'; address: string }
  /** Not ours to deliver and the origin may not relay (RFC 5321 §3.6.2, §7.1). */
  | { reason: 'relay-denied'; address: string }
  /** An address that does not normalize. */
  | { reason: 'bad-address'; address: string }
  /** Submission: the envelope sender is not the account's (RFC 6409 §6.1). */
  | { reason: 'sender-not-owned'; address: string }
  /** Submission: From or Sender missing or repeated (RFC 5322 §3.6). */
  | { reason: 'originator-fields'; text: string }
  /** Submission: a From or Sender address that cannot be checked. */
  | { reason: 'originator-address'; text: string }
  /** Submission: a From or Sender mailbox the account does not own (RFC 6409 §6.3). */
  | { reason: 'originator-not-owned'; field: 'From' | 'Sender'; address: string }
  /** MX: DMARC failed and the sender domain's policy is reject (RFC 7489 §6.6.4). */
  | { reason: 'dmarc-reject' };

export type Outcome =
  | {
      status: 'accepted';
      /** The id in the logs and the Received field. */
      id: string;
      /** What local delivery stored (one per mailbox). */
      stored: AppendResult[];
      /** Outbound queue ids, one per envelope sender queued. */
      queued: number[];
    }
  | { status: 'refused'; refusal: Refusal; text: string }
  /** Could not be done now (store, disk, a bug): try again later. Logged where it happened. */
  | { status: 'temporary'; text: string; error: unknown };

/** A decision's answer: a refusal, or what it produced. */
export function isRefusal<T extends object>(r: T | Refusal): r is Refusal {
  return 'reason' in r;
}

/** The refusal as an Outcome, with words a person can read (IMAP NO, logs). */
export function refused(refusal: Refusal): Outcome {
  return { status: 'refused', refusal, text: refusalText(refusal) };
}

function refusalText(r: Refusal): string {
  switch (r.reason) {
    case 'no-such-user':
      return `No such user: ${r.address}`;
    case 'over-quota':
      return `Mailbox full: ${r.address}`;
    case 'relay-denied':
      return 'Relaying denied';
    case 'bad-address':
      return 'Bad recipient address syntax';
    case 'sender-not-owned':
      return 'Sender address not owned by authenticated user';
    case 'originator-fields':
    case 'originator-address':
      return r.text;
    case 'originator-not-owned':
      return `${r.field} address ${r.address} not owned by authenticated user`;
    case 'dmarc-reject':
      return 'Message rejected by the DMARC policy of the sender domain';
  }
}
