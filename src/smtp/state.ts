// What an SMTP session knows, and the transaction it is building (RFC 5321 §3.3). The
// recipients are the delivery stage's (delivery/types.ts), resolved at RCPT.
import type { Recipient } from '../delivery/types.js';
import type { Account } from '../store/types.js';
import type { Address, MailParams } from './wire/command.js';

/** 'mx' receives for local domains only (port 25); 'submission' needs AUTH (587/465). */
export type SmtpMode = 'mx' | 'submission';

export interface Transaction {
  /** '' for the null reverse-path. */
  sender: string;
  senderAddress: Address | null;
  params: MailParams;
  recipients: Recipient[];
  /**
   * Set once BDAT has been used: DATA is then out of sequence (RFC 3030 §2). The chunks'
   * bytes are in the session's inbound accumulator.
   */
  bdat: boolean;
  chunkBytes: number;
  /** A BDAT chunk overflowed the size limit: read the rest, then refuse at LAST. */
  tooBig: boolean;
}

export interface SessionState {
  /** The EHLO/HELO argument; null until greeted (and again after STARTTLS, RFC 3207 §4.2). */
  helo: string | null;
  esmtp: boolean;
  account: Account | null;
  transaction: Transaction | null;
  errors: number;
}

export function newTransaction(
  sender: string,
  address: Address | null,
  params: MailParams,
): Transaction {
  return {
    sender,
    senderAddress: address,
    params,
    recipients: [],
    bdat: false,
    chunkBytes: 0,
    tooBig: false,
  };
}
