// What an SMTP session knows, and the transaction it is building (RFC 5321 §3.3).
import type { Account } from '../store/types.js';
import type { Address, MailParams, RcptParams } from './wire/command.js';

/** 'mx' receives for local domains only (port 25); 'submission' needs AUTH (587/465). */
export type SmtpMode = 'mx' | 'submission';

export interface Recipient {
  address: string;
  params: RcptParams;
  /** Local accounts this recipient resolves to (after aliases and catch-all). */
  accounts: Account[];
  /** Remote addresses: the submitted recipient itself, or an alias's forward targets. */
  remote: string[];
}

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
