// Into one mailbox the user chose: IMAP APPEND (RFC 9051 §6.3.12) with MULTIAPPEND (RFC 3502),
// and later Sieve's fileinto. The message is parsed once here, with the same indexMessage as
// every other delivery, and stored as it came (no trace fields: nothing was transported).
import { isStoreError } from '../store/errors.js';
import type { AppendOptions, AppendResult, ExpectedMailbox } from '../store/types.js';
import { indexMessage } from './local.js';
import { type DeliveryDeps, type Outcome, refused } from './types.js';

export interface MailboxMessage {
  raw: Buffer;
  flags?: string[];
  internalDate?: Date;
  /** internalDate's zone as the client gave it (minutes east of UTC). */
  internalZone?: number;
  /** A UID kept from the source of an import (see AppendTarget.uid). */
  uid?: number;
  /** The appending IMAP session takes \Recent with it (see AppendTarget.claimRecent). */
  claimRecent?: boolean;
}

/**
 * Stores the messages in the mailbox, all or none (RFC 3502 §3: MULTIAPPEND is all or
 * nothing). `stored` of the accepted outcome lists them in order. Over quota is a refusal; any
 * other failure is temporary and carries its error for the protocol to map. With
 * `opts.replace` (IMAP REPLACE, RFC 8508: one message) that message is expunged in the same
 * transaction as the new one is stored. The mailbox is its id, or its id and what it must still
 * be (checkedTarget: a mailbox looked up earlier; else the append fails as NOT_FOUND).
 */
export async function deliverToMailbox(
  deps: Pick<DeliveryDeps, 'store'>,
  mailbox: number | { mailboxId: number; expect: ExpectedMailbox },
  messages: readonly MailboxMessage[],
  opts: AppendOptions = {},
): Promise<Outcome> {
  const { store } = deps;
  const mailboxId = typeof mailbox === 'number' ? mailbox : mailbox.mailboxId;
  const expect = typeof mailbox === 'number' ? undefined : mailbox.expect;
  const stored: AppendResult[] = [];
  try {
    for (const m of messages) {
      const [r] = await store.append(
        {
          raw: m.raw,
          index: indexMessage(m.raw, store.fullTextIndex),
          internalDate: m.internalDate,
          internalZone: m.internalZone,
        },
        [
          {
            mailboxId,
            flags: m.flags ?? [],
            ...(m.uid === undefined ? {} : { uid: m.uid }),
            ...(m.claimRecent ? { claimRecent: true } : {}),
            ...(expect ? { expect } : {}),
          },
        ],
        stored.length === 0 ? opts : {},
      );
      stored.push(r!);
    }
  } catch (err) {
    if (stored.length > 0) {
      await store.expunge(mailboxId, { uids: stored.map((r) => r.uid), onlyDeleted: false });
    }
    if (isStoreError(err, 'OVERQUOTA')) return refused({ reason: 'over-quota', address: '' });
    return { status: 'temporary', text: 'Local error in processing', error: err };
  }
  return { status: 'accepted', id: '', stored, queued: [] };
}
