/**
 * The FETCH that follows a new message when the client asked for attributes in advance: RFC
 * 5465 §5.2 (NOTIFY MessageNew (fetch-att ...)) and §7 (SEARCH / SORT RETURN (UPDATE
 * (fetch-att ...)), before the ESEARCH ADDTO). The UID is always there, so that the client can
 * tell which message it is. §5.2: clients SHOULD NOT ask for attributes that set \Seen; one
 * that does gets what a FETCH gives (RFC 9051 §6.4.5): \Seen set, unless the mailbox is
 * read-only, and the new FLAGS in the response.
 */

import { markFetchedSeen, type SeenNow } from '../fetch/mark-seen.js';
import { type FetchMessage, fetchSetsSeen, renderFetch } from '../fetch/render.js';
import type { ImapSession } from '../session.js';
import type { MailboxView } from '../view.js';
import type { FetchAtt } from '../wire/fetch-items.js';
import { serializeLine, v } from '../wire/serializer.js';

const BATCH = 200;

/** `* seq FETCH (UID n ...)` for each of `uids` (ascending) the view numbers. */
export async function sendNewFetch(
  s: ImapSession,
  view: MailboxView,
  uids: readonly number[],
  items: readonly FetchAtt[],
): Promise<void> {
  const store = s.ctx.store;
  const mailboxId = view.mailboxId;
  const opts = { utf8: s.enabled.utf8, condstore: s.enabled.condstore, uidAlways: true };
  const markSeen = fetchSetsSeen(items) && s.selected?.readOnly === false;
  const asksFlags = items.some((it) => it.kind === 'simple' && it.name === 'FLAGS');
  for (let i = 0; i < uids.length; i += BATCH) {
    const records = await store.getRecords(mailboxId, uids.slice(i, i + BATCH));
    const seenNow: SeenNow = markSeen
      ? await markFetchedSeen(store, view, mailboxId, records)
      : new Map();
    for (const r of records) {
      const seq = view.seqOf(r.uid);
      if (seq === 0) continue;
      const changed = seenNow.get(r.uid);
      const msg: FetchMessage = {
        seq,
        uid: r.uid,
        // RFC 3501 §2.3.2: the session's \Recent.
        flags: view.withRecent(r.uid, changed?.flags ?? r.flags),
        modseq: changed?.modseq ?? r.modseq,
        size: r.size,
        internalDate: r.internalDate,
        internalZone: r.internalZone,
        detail: async () => {
          const [d] = await store.getMessages(mailboxId, [r.uid]);
          if (!d) throw new Error('expunged');
          return d;
        },
        raw: () => store.readMessage(r.blobHash, r.size),
        extras: async () => {
          const e = (await store.getMessageExtras(mailboxId, [r.uid])).get(r.uid);
          if (!e) throw new Error('expunged');
          return e;
        },
        cachePreview: (text) => {
          store.setPreview(r.messageId, text).catch(() => {});
        },
      };
      let out: Awaited<ReturnType<typeof renderFetch>>;
      try {
        out = await renderFetch(items, msg, opts);
      } catch {
        continue; // expunged meanwhile: its EXPUNGE follows
      }
      if (out.error) continue;
      if (changed && !asksFlags) {
        const flags = view.withRecent(r.uid, changed.flags);
        out.values.push(v.atom('FLAGS'), v.list(flags.map((f) => v.atom(f))));
      }
      s.send(serializeLine(`* ${seq} FETCH `, v.list(out.values), s.writeOpts));
      await s.maybeFlush();
    }
  }
}
