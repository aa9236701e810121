// The implicit \Seen of a FETCH (RFC 9051 §6.4.5: BODY[...] without .PEEK, RFC822, RFC822.TEXT
// set \Seen), shared by FETCH and by the FETCH that NOTIFY / CONTEXT updates push.
import type { MailStore, MessageRecord } from '../../store/types.js';
import type { MailboxView } from '../view.js';

export type SeenNow = Map<number, { flags: string[]; modseq: number }>;

/**
 * Sets \Seen on the records that lack it, tells the view (so the change is not announced back
 * as another actor's), and returns the new flags and modseq by UID for the responses.
 */
export async function markFetchedSeen(
  store: MailStore,
  view: MailboxView,
  mailboxId: number,
  records: readonly MessageRecord[],
): Promise<SeenNow> {
  const seenNow: SeenNow = new Map();
  const unseen = records.filter((r) => !r.flags.includes('\\Seen')).map((r) => r.uid);
  if (unseen.length === 0) return seenNow;
  const res = await store.setFlags(mailboxId, unseen, 'add', ['\\Seen']);
  view.ackFlags(res.updated);
  for (const u of res.updated) seenNow.set(u.uid, u);
  return seenNow;
}
