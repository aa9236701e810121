// Local delivery: parse the message once, then store the blob and its rows in one commit for
// every recipient account's INBOX. The caller answers 250 only after this resolves. Reached
// through deliver.ts (and mailbox.ts for one chosen mailbox), never by a protocol directly.
import { parseMessage } from '../mime/index.js';
import {
  type Account,
  type AppendResult,
  FTS_TEXT_MAX,
  type MailStore,
  type MessageIndex,
} from '../store/types.js';

/** What the store keeps from the parse: FETCH and SEARCH never parse the message again. */
export function indexMessage(raw: Buffer): MessageIndex {
  const p = parseMessage(raw, { textCap: FTS_TEXT_MAX + 1 });
  return {
    structure: p.root,
    envelope: p.envelope,
    search: {
      from: p.search.from,
      to: p.search.to,
      cc: p.search.cc,
      bcc: p.search.bcc,
      subject: p.search.subject,
      messageId: p.search.messageId ?? '',
      sentAt: p.search.date,
      references: p.search.references,
    },
    // One character past the index's share tells that there is more.
    text: p.text.slice(0, FTS_TEXT_MAX),
    textTruncated: p.text.length > FTS_TEXT_MAX,
  };
}

export interface LocalDelivery {
  /** The message as it will be stored (trace headers already prepended). */
  raw: Buffer;
  accounts: Account[];
  internalDate?: Date;
}

/**
 * Into each account's INBOX, atomically: all recipients get it or none do (OVERQUOTA when one
 * account has no room, so the sending server bounces and nothing is silently lost).
 */
export async function deliverLocal(store: MailStore, d: LocalDelivery): Promise<AppendResult[]> {
  const targets = [];
  for (const a of d.accounts) {
    const inbox = await store.getMailbox(a.id, 'INBOX');
    if (!inbox) throw new Error(`account ${a.address} has no INBOX`);
    targets.push({ mailboxId: inbox.id });
  }
  return store.append(
    { raw: d.raw, index: indexMessage(d.raw), internalDate: d.internalDate },
    targets,
  );
}
